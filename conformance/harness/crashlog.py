"""Finding why a server died in its log: the last traceback, panic or fatal error block.

Rules this module keeps:
- The block is found anywhere in the log, not only in its tail: stdout and stderr share the
  log file, and a program's block-buffered stdout is flushed at exit, after the traceback it
  wrote to (unbuffered) stderr. A chatty server's last lines are then its own output, and the
  reason it died is above them.
- Only the last block counts (an earlier one may have been caught and logged), at most
  MAX_LINES lines of it; nothing found is None, never a guess.

Facts about what runtimes write when they die:
- CPython: ``Traceback (most recent call last):``, indented frames, then one unindented line
  with the exception. faulthandler (a fatal signal): ``Fatal Python error: Segmentation
  fault``, a blank line, ``Current thread ...`` and indented frames.
- Go: ``panic: ...`` or ``fatal error: ...`` (``[signal SIGSEGV ...]`` for a fault), a blank
  line, then ``goroutine N [running]:`` and its frames; Rust: ``thread 'main' panicked at``.
- Node.js: the source line and a caret, then ``Error: ...`` and ``    at ...`` frames.
"""

from __future__ import annotations

import re

MAX_LINES = 40

# The first line of a block, and whether the block ends at a blank line once it has a body
# ("paragraph") or after the indented frames and one unindented line ("traceback").
PYTHON_TRACEBACK = re.compile(r"^Traceback \(most recent call last\):")
PARAGRAPH_STARTS = re.compile(
    r"^(panic: |fatal error: |Fatal Python error: |thread '.*' panicked at |"
    r"==\d+==ERROR: AddressSanitizer)"
)
NODE_ERROR = re.compile(r"^\w*Error\b.*")
NODE_FRAME = re.compile(r"^\s+at ")


def last_crash_block(text: str) -> str | None:
    """The last traceback, panic or fatal-error block in ``text``, or None."""
    lines = text.splitlines()
    for i in range(len(lines) - 1, -1, -1):
        line = lines[i]
        if PYTHON_TRACEBACK.match(line):
            return _join(_traceback(lines, i))
        if PARAGRAPH_STARTS.match(line):
            return _join(_paragraphs(lines, i))
        if NODE_ERROR.match(line) and i + 1 < len(lines) and NODE_FRAME.match(lines[i + 1]):
            return _join(_node_error(lines, i))
    return None


def _traceback(lines: list[str], start: int) -> list[str]:
    """Indented frames after the header, then the exception's line."""
    end = start + 1
    while end < len(lines) and lines[end][:1] in (" ", "\t"):
        end += 1
    return lines[start : end + 1]


def _paragraphs(lines: list[str], start: int) -> list[str]:
    """The header, then up to the first blank line after some body (Go's stack of the
    goroutine that panicked; faulthandler's current thread)."""
    end, body = start + 1, False
    while end < len(lines) and not (body and not lines[end].strip()):
        body |= bool(lines[end].strip())
        end += 1
    return lines[start:end]


def _node_error(lines: list[str], start: int) -> list[str]:
    end = start + 1
    while end < len(lines) and NODE_FRAME.match(lines[end]):
        end += 1
    return lines[start:end]


def _join(block: list[str]) -> str:
    if len(block) > MAX_LINES:
        cut = len(block) - MAX_LINES
        block = [*block[: MAX_LINES // 2], f"[... {cut} lines cut]", *block[-MAX_LINES // 2 :]]
    return "\n".join(block)
