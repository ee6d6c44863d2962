"""Why a server died, found in its log (conformance/harness/crashlog.py): a table of logs as
runtimes write them, each with the block the report must show, or None."""

from __future__ import annotations

import pytest

from conformance.harness.crashlog import MAX_LINES, last_crash_block

CHATTER = "".join(f"debug: line {i}\n" for i in range(50))
PYTHON = """\
Traceback (most recent call last):
  File "server.py", line 9, in <module>
    serve()
    ~~~~~^^
ValueError: filedescriptor out of range in select()"""
CHAINED = (
    """\
Traceback (most recent call last):
  File "server.py", line 3, in recv
ConnectionResetError: [Errno 104] Connection reset by peer

During handling of the above exception, another exception occurred:

"""
    + PYTHON
)
GO = """\
panic: runtime error: index out of range [5] with length 5

goroutine 7 [running]:
main.handle({0x5a0f40, 0xc000012345})
\t/src/echo/main.go:21 +0x1d5
created by main.main in goroutine 1
\t/src/echo/main.go:14 +0x85"""
GO_OTHER_GOROUTINES = "\n\ngoroutine 1 [IO wait]:\ninternal/poll.runtime_pollWait()"
FAULTHANDLER = """\
Fatal Python error: Segmentation fault

Current thread 0x00007f3b (most recent call first):
  File "server.py", line 12 in serve"""
NODE = """\
Error: read ECONNRESET
    at TCP.onStreamRead (node:internal/stream_base_commons:217:20)"""

CASES = [
    ("python traceback then chatter", f"LISTENING\n{PYTHON}\n{CHATTER}", PYTHON),
    ("chained: the last traceback", f"{CHAINED}\n{CHATTER}", PYTHON),
    ("go panic, other goroutines cut", f"{CHATTER}{GO}{GO_OTHER_GOROUTINES}\nexit", GO),
    ("faulthandler", f"{FAULTHANDLER}\n\nExtension modules: x\n{CHATTER}", FAULTHANDLER),
    ("node error", f"node:events:497\n      throw er;\n      ^\n\n{NODE}\n\nNode.js v18", NODE),
    ("nothing died", CHATTER, None),
    ("an error word without a stack is no crash", "Error: bad request from client\n", None),
]


@pytest.mark.parametrize(("log", "block"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_last_crash_block_is_found_above_the_chatter(log: str, block: str | None) -> None:
    assert last_crash_block(log) == block


def test_a_long_block_keeps_its_head_and_its_exception() -> None:
    frames = "".join(f'  File "f.py", line {i}, in f\n    f()\n' for i in range(500))
    block = last_crash_block(f"Traceback (most recent call last):\n{frames}RecursionError: deep")
    assert block is not None and len(block.splitlines()) == MAX_LINES + 1
    assert block.startswith("Traceback") and block.endswith("RecursionError: deep")
    assert "lines cut]" in block
