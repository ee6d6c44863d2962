"""Drive a Python server's hang-up branch (spec ABORT-4, ABORT-5). Imported at start-up only
when this directory is on the server's PYTHONPATH; inert unless ECHO_KIT_HUP_SHIM is set.

Facts about hang-ups: on Linux a TCP reset is reported as EPOLLIN|EPOLLHUP|EPOLLERR in one
event, so a server that tests EPOLLIN first never runs its HUP branch under a plain reset.
This shim wraps select.epoll and select.poll and removes IN (and RDNORM) from events that
carry HUP or ERR:
- ECHO_KIT_HUP_SHIM=once: only the first such event, so the HUP branch runs once and a
  server that ignores it still gets IN on the next (level-triggered) report;
- ECHO_KIT_HUP_SHIM=always: every such event, so the HUP branch alone must release the fd.
The first wait on each proxy and each rewrite are logged to ECHO_KIT_HUP_SHIM_LOG. select.epoll is a
type that cannot be subclassed, hence a delegating proxy; the poll masks equal the epoll ones.
"""

from __future__ import annotations

import os
import select
from typing import Any

MODE = os.environ.get("ECHO_KIT_HUP_SHIM", "")
LOG = os.environ.get("ECHO_KIT_HUP_SHIM_LOG", "")
HANGUP = select.EPOLLHUP | select.EPOLLERR
READABLE = select.EPOLLIN | select.EPOLLRDNORM

_real_epoll = select.epoll
_real_poll = select.poll
_rewrites = 0


def _log(line: str) -> None:
    with open(LOG, "a") as f:
        f.write(line + "\n")


def _rewrite(events: list[tuple[int, int]]) -> list[tuple[int, int]]:
    global _rewrites
    result = []
    for fd, mask in events:
        if mask & HANGUP and mask & READABLE and (MODE == "always" or _rewrites == 0):
            _rewrites += 1
            _log(f"rewrote fd {fd}: {mask:#x} -> {mask & ~READABLE:#x}")
            mask &= ~READABLE
        result.append((fd, mask))
    return result


class _Proxy:
    def __init__(self, real: Any, kind: str) -> None:
        self._real, self._kind, self._polled = real, kind, False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def poll(self, *args: Any, **kwargs: Any) -> list[tuple[int, int]]:
        # Logged on first use, not creation: selectors creates an epoll at import to probe.
        if not self._polled:
            self._polled = True
            _log(f"waiting on {self._kind}")
        return _rewrite(self._real.poll(*args, **kwargs))


class EpollProxy(_Proxy):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(_real_epoll(*args, **kwargs), "epoll")

    def __enter__(self) -> EpollProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self._real.close()


def poll_proxy() -> _Proxy:
    return _Proxy(_real_poll(), "poll")


if MODE in ("once", "always") and LOG:
    select.epoll = EpollProxy  # type: ignore[misc, assignment]
    select.poll = poll_proxy  # type: ignore[assignment]
