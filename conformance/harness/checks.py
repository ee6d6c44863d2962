"""Observations the suite makes of a server as a whole: alive, serving, sockets, fds, CPU.

Each check fails with an AssertionError that says what was seen (and CRASHED with the log
tail when the process is gone), so a broken server gives a FAIL with evidence.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable

from conformance.harness import procfs
from conformance.harness.client import ClientError, connect, echo_round_trip
from conformance.harness.server import ServerProcess
from conformance.harness.sockdiag import accept_queue_length
from conformance.harness.waiting import wait_until

RELEASE_DEADLINE = 2.0


DYING_GRACE = 1.0  # a crashing Python server closes its sockets before its process is gone


def assert_alive(server: ServerProcess) -> None:
    if not server.alive:
        raise ClientError(server.crash_report())


def assert_not_dying(server: ServerProcess) -> None:
    """After a client saw the server stop answering: CRASH if the server is dying.

    A crashing server's sockets may close (a client sees EOF or a reset) while the process is
    still printing its traceback or finalizing, so it is given a moment to be seen dead."""
    server.wait_exit(DYING_GRACE)
    assert_alive(server)


def assert_still_serving(server: ServerProcess, sentinel: socket.socket) -> None:
    """The sentinel still echoes, twice, and a newcomer is served.

    Two round trips, because an event loop may answer the first in the same iteration in which
    it then dies of the fault; the second needs an iteration after it.
    """
    for attempt in (b"sentinel 1", b"sentinel 2"):
        try:
            echo_round_trip(sentinel, attempt)
        except ClientError as exc:
            assert_not_dying(server)
            raise ClientError(f"the sentinel connection stopped echoing: {exc}") from None
    with connect(server.address) as newcomer:
        echo_round_trip(newcomer, b"newcomer")


def wait_accepted(server: ServerProcess) -> None:
    """Until the server has accept()ed every connection the kernel completed for it."""
    wait_until(
        lambda: accept_queue_length(server.address) == 0,
        RELEASE_DEADLINE,
        "server to accept queued connections",
        lambda: f"{accept_queue_length(server.address)} connections still queued",
    )


def connect_accepted(server: ServerProcess, rcvbuf: int | None = None) -> socket.socket:
    """A client the server has accept()ed, known without asking the server to echo.

    Setting up a fault must not depend on the echo working: a server that never echoes
    should still be shown dying of the fault itself (a reset, a hang-up, a close).
    """
    sock = connect(server.address, rcvbuf=rcvbuf)
    try:
        wait_accepted(server)
    except BaseException:
        sock.close()
        raise
    return sock


def connection_sockets(server: ServerProcess) -> dict[int, str]:
    """The TCP connection sockets the server's process group holds open (inode -> an fd path):
    a forking server's children hold its connections."""
    return procfs.tcp_connection_sockets(_group(server, "counting its connection sockets"))


def wait_connections_back_to(server: ServerProcess, baseline: int) -> None:
    """Until the server holds no more TCP connection sockets than ``baseline``, within
    RELEASE_DEADLINE: every connection that ended has been close()d."""

    def held() -> str:
        paths = sorted(connection_sockets(server).values())
        shown = ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
        return f"{len(paths)} TCP connection sockets open ({shown})"

    wait_until(
        lambda: len(connection_sockets(server)) <= baseline,
        RELEASE_DEADLINE,
        f"server's TCP connection sockets back at its baseline of {baseline}",
        held,
    )


def open_fds(server: ServerProcess) -> int:
    """Descriptors the process holding the listener has open: what its RLIMIT_NOFILE limits."""
    server.require_process("counting its open fds")
    assert_alive(server)
    return procfs.open_fd_count(server.pid)


def group_fds(server: ServerProcess) -> int:
    """Descriptors of every kind (sockets, pipes, epoll instances, files...) held by the
    server's process group, each process's counted."""
    return _summed(_group(server, "counting its open fds"), procfs.open_fd_count)


def wait_fds_at_most(server: ServerProcess, limit: int, what: str) -> None:
    """Until the server's process group holds at most ``limit`` fds, within RELEASE_DEADLINE."""
    wait_until(
        lambda: group_fds(server) <= limit,
        RELEASE_DEADLINE,
        what,
        lambda: f"{group_fds(server)} open fds in the server's process group",
    )


def resident_memory(server: ServerProcess) -> int:
    """Bytes the server's process group holds in RAM (VmRSS summed: a forking server's
    children count too)."""
    return _summed(_group(server, "measuring its memory"), procfs.resident_bytes)


def _group(server: ServerProcess, why: str) -> list[int]:
    """The live processes of the server's process group (the server must be running)."""
    server.require_process(why)
    assert_alive(server)
    assert server.popen is not None
    return procfs.group_pids(server.popen.pid)


def _summed(pids: list[int], measure: Callable[[int], int]) -> int:
    total = 0
    for pid in pids:
        with contextlib.suppress(FileNotFoundError):  # a child that has just exited
            total += measure(pid)
    return total


def cpu_share(server: ServerProcess, window: float = 1.0) -> float:
    """Share of one core the server used over ``window`` seconds (a measurement, not a wait)."""
    server.require_process("measuring its CPU time")
    before, start = procfs.cpu_seconds(server.pid), time.monotonic()
    time.sleep(window)
    used = procfs.cpu_seconds(server.pid) - before
    return used / (time.monotonic() - start)


def greeted_clients(
    stack: contextlib.ExitStack, server: ServerProcess, count: int
) -> list[socket.socket]:
    """``count`` connections, each greeted with an echo before the next connects, so that what
    follows does not depend on the listen() backlog (that is ACCEPT-2's business)."""
    clients = []
    for _ in range(count):
        clients.append(stack.enter_context(connect(server.address)))
        echo_round_trip(clients[-1], b"hello")
    return clients
