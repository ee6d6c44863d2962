"""Benchmark of echo servers: throughput, latency and idle-connection scaling, with baselines.

``python -m conformance.bench`` runs a C load generator against every bundled implementation
(and any ``--server-cmd``) and against baselines started in the same run (a C epoll server,
uvloop, Node.js, Go), then writes JSON, a Markdown table and PNG plots. Rules it keeps:
- The load generator is not the bottleneck: it is C (built here from source with gcc), pinned
  to another core than the server, and checks every echoed byte.
- The primary figure is the server's CPU time per round trip over the timed window only, which
  holds even when the client saturates; every figure is also given as a ratio to a baseline
  measured in the same run, which is what stays comparable on a shared, noisy machine.
- Figures are medians of repetitions, with min and max; nothing here is a pass/fail threshold.
"""
