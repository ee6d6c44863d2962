"""File-descriptor limits (RLIMIT_NOFILE) for the kit's own process and the servers it starts.

Rules this module keeps:
- An unprivileged process can raise its soft limit up to its hard limit, never the hard limit
  itself, and a child inherits both: asking for more than the kit's hard limit is a clear error
  about the machine, never a verdict about the server.
- A limit raised for a test is restored when the test is done.
"""

from __future__ import annotations

import contextlib
import os
import resource
from collections.abc import Iterator


def check(wanted: int, who: str) -> None:
    """Raise a RuntimeError saying what to do if ``who`` cannot get ``wanted`` descriptors."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and wanted > hard:
        raise RuntimeError(
            f"{who} needs {wanted} file descriptors, but the kit's hard limit (RLIMIT_NOFILE) "
            f"is {hard}: raise it (ulimit -Hn {wanted}; LimitNOFILE= in a systemd unit; "
            f"docker run --ulimit nofile={wanted}) and run again"
        )


@contextlib.contextmanager
def room_for(more: int) -> Iterator[None]:
    """This process may open ``more`` descriptors inside the block (soft limit raised)."""
    wanted = len(os.listdir("/proc/self/fd")) + more
    check(wanted, "the kit's client")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        yield
        return
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def raise_to_hard() -> int:
    """Lift this process's soft limit to its hard one for good (the benchmark's whole run);
    children inherit it. Returns the limit now in effect."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def set_in_child(limit: int) -> None:
    """In a child before exec: soft and hard limit both ``limit``, so that the server cannot
    raise its soft limit back (Go's runtime does so at start-up)."""
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
