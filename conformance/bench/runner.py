"""Running every target through every workload, repetition by repetition.

Rules this module keeps:
- Repetitions are the outer loop: each one measures every target in turn, so a slow patch of
  a shared machine spreads over all of them instead of landing on one.
- Each target gets a fresh server per repetition, pinned to its own core (the client and this
  process take the other), warmed up by one connection that echoes and closes before anything
  is timed: a fresh asyncio server runs 3x slower until its first connection closes.
- After each workload the server is given time to close its connections (its open fds back
  to where they were after the warm-up) before the next one: 10000 EOFs handled in the next
  timed window would be charged to it.
- A workload that fails is recorded with the client's reason, never raised: select() refusing
  connections past FD_SETSIZE is a finding, not a crash of the benchmark.
- The machine's load average is read before and after each workload (Load), not only for the
  whole run: a workload can load the machine by itself (threads_echo's 10010 threads at
  idle_10000), and a reader must be able to tell that from other work running at the time.
"""

from __future__ import annotations

import contextlib
import os
import resource
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from conformance.bench.loadgen import LoadError, Sample, measure
from conformance.bench.targets import Target
from conformance.bench.workloads import Workload
from conformance.harness import procfs
from conformance.harness.client import ClientError, connect, exchange
from conformance.harness.server import LaunchError, ServerProcess
from conformance.harness.waiting import DeadlineExceeded, wait_until

WARM_UP = b"warm-up"
SETTLE_TIMEOUT = 30.0  # a poll() server closing 10000 connections takes a few seconds


@dataclass(frozen=True)
class Plan:
    workloads: list[Workload]
    repeat: int
    duration: float  # seconds of each timed window
    warmup: float  # seconds of load before each window
    log_dir: Path
    client: Path  # the load generator's binary


@dataclass(frozen=True)
class Load:
    """The 1-minute load average just before a workload and just after its server settled."""

    before: float
    after: float


@dataclass
class Outcome:
    """Every repetition of one workload against one target."""

    samples: list[Sample] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    load: list[Load] = field(default_factory=list)


Results = dict[str, dict[str, Outcome]]


def split_cores() -> tuple[int, int] | None:
    """(server core, client core), with this process moved to the client's; None on one core.

    The client is started from here and inherits the affinity; the server is moved after.
    """
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        return None
    os.sched_setaffinity(0, {cores[1]})
    return cores[0], cores[1]


def pin(pid: int, core: int) -> None:
    """Every thread of ``pid`` onto ``core``; threads it starts later inherit it."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(ProcessLookupError):
            os.sched_setaffinity(int(tid), {core})


def warm_up(server: ServerProcess) -> None:
    with connect(server.address) as sock:
        exchange(sock, WARM_UP, timeout=5.0).assert_echoed()


def _connections(server: ServerProcess) -> int:
    """TCP connection sockets the server holds: counted rather than every fd, since a runtime
    may keep descriptors of its own after a run (Go's splice pipes, say)."""
    return len(procfs.tcp_connection_sockets([server.pid]))  # 0 once it has died


def wait_settled(server: ServerProcess, connections: int) -> None:
    """Until the server holds no more than ``connections`` connection sockets: the last
    clients are closed."""
    try:
        wait_until(
            lambda: _connections(server) <= connections,
            SETTLE_TIMEOUT,
            f"server back at {connections} connection sockets",
            lambda: f"{_connections(server)} connection sockets open",
        )
    except DeadlineExceeded as exc:
        raise LoadError(f"after the run: {exc}") from None


def _measure_all(server: ServerProcess, plan: Plan, outcomes: dict[str, Outcome]) -> None:
    fd_limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    settled = _connections(server)
    for workload in plan.workloads:
        outcome = outcomes[workload.name]
        if workload.fds_needed > fd_limit:
            outcome.errors.append(f"needs {workload.fds_needed} descriptors; limit {fd_limit}")
            continue
        if not server.alive:  # a crash is a finding: the rest of this repetition says so
            outcome.errors.append(f"server died earlier: {server.exit_description()}")
            continue
        before = os.getloadavg()[0]
        try:
            outcome.samples.append(
                measure(plan.client, server, workload, plan.duration, plan.warmup)
            )
        except LoadError as exc:
            died = "" if server.alive else f" (server {server.exit_description()})"
            outcome.errors.append(f"{exc}{died}")
        if server.alive:
            try:
                wait_settled(server, settled)
            except LoadError as exc:
                outcome.errors.append(str(exc))
        outcome.load.append(Load(before, os.getloadavg()[0]))


def run(
    targets: list[Target], plan: Plan, cores: tuple[int, int] | None, say: Callable[[str], None]
) -> Results:
    results: Results = {t.name: {w.name: Outcome() for w in plan.workloads} for t in targets}
    for rep in range(1, plan.repeat + 1):
        for target in targets:
            if target.command is None:
                continue
            say(f"repetition {rep}/{plan.repeat}: {target.name}")
            log = plan.log_dir / f"{target.name}.{rep}.log"
            server = ServerProcess(target.command, log)
            try:
                server.start(port=0 if target.command.announces else None)
                if cores is not None:
                    pin(server.pid, cores[0])
                warm_up(server)
                _measure_all(server, plan, results[target.name])
            except (LaunchError, LoadError, ClientError) as exc:
                for outcome in results[target.name].values():
                    outcome.errors.append(f"{type(exc).__name__}: {exc}")
            finally:
                server.stop()
    return results
