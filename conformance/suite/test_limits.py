"""RES at the fd limit: a server held to a few descriptors and sent more clients than it can hold.

Each test starts its own server with RLIMIT_NOFILE set before exec. They measure CPU, so they
are in the xdist group "heavy" with the other tests that load the machine.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator

import pytest

from conformance.harness.checks import assert_alive, assert_not_dying, cpu_share, open_fds
from conformance.harness.client import ClientError, connect, connect_nonblocking, echo_round_trip
from conformance.harness.server import ServerProcess
from conformance.harness.sockdiag import accept_queue_length
from conformance.harness.waiting import DeadlineExceeded, wait_until
from conformance.plugin import Launcher

FD_LIMIT = 32
SERVED_FIRST = 8
MORE_THAN_IT_CAN_HOLD = 80
SETTLE_DEADLINE = 2.0
RECOVERY_DEADLINE = 5.0
RETRY_INTERVAL = 0.1
AT_LIMIT_CPU_LIMIT = 0.20
# Healthy servers measure 0 %, spinning ones 100 %: half a second tells them apart.
CPU_WINDOW = 0.5


@contextlib.contextmanager
def at_fd_limit(launch: Launcher) -> Iterator[tuple[ServerProcess, list[socket.socket]]]:
    """A fresh server held to FD_LIMIT fds, the clients it served first, and 80 more; every
    client is closed when the block ends."""
    server = launch(fd_limit=FD_LIMIT)
    with contextlib.ExitStack() as stack:
        first = []
        for i in range(SERVED_FIRST):
            first.append(stack.enter_context(connect(server.address)))
            echo_round_trip(first[-1], f"first {i}".encode())
        taking = True
        for _ in range(MORE_THAN_IT_CAN_HOLD):
            if taking:  # one at a time: whatever its listen backlog, the server meets its limit
                stack.enter_context(connect(server.address))
                taking = takes_one_more(server)
            else:  # the rest at once: a SYN that a full accept queue drops is retried later
                stack.enter_context(connect_nonblocking(server.address))
        yield server, first


def takes_one_more(server: ServerProcess) -> bool:
    """Whether the server, having taken the last client, has room for another: False once
    it holds FD_LIMIT fds, or leaves a client queued for SETTLE_DEADLINE."""
    try:
        wait_until(
            lambda: open_fds(server) >= FD_LIMIT or accept_queue_length(server.address) == 0,
            SETTLE_DEADLINE,
            "the server to accept the client",
        )
    except DeadlineExceeded:
        return False  # it caps its clients below its fd limit: its choice
    return open_fds(server) < FD_LIMIT


def newcomer_served(server: ServerProcess, attempts: list[str]) -> bool:
    """One attempt: a new client connects and gets one echo; what went wrong is kept."""
    assert_alive(server)
    try:
        with connect(server.address) as newcomer:
            echo_round_trip(newcomer, b"newcomer")
    except ClientError as exc:
        attempts.append(str(exc))
        return False
    return True


@pytest.mark.clause("RES-4")
@pytest.mark.xdist_group("heavy")
def test_fd_exhaustion_leaves_the_server_serving(launch: Launcher) -> None:
    """RES-4: a failure means EMFILE from accept() ends the server, or stops it accepting for
    good."""
    with at_fd_limit(launch) as (server, first):
        for i, client in enumerate(first):
            for attempt in (1, 2):
                try:
                    echo_round_trip(client, f"first {i}, again {attempt}".encode())
                except ClientError as exc:
                    assert_not_dying(server)
                    raise ClientError(
                        f"at its fd limit the server stopped echoing to client {i}, which it "
                        f"had served before: {exc}"
                    ) from None
    attempts: list[str] = []
    wait_until(
        lambda: newcomer_served(server, attempts),
        RECOVERY_DEADLINE,
        "a newcomer to be served once the clients had closed",
        lambda: f"{len(attempts)} attempts, the last: {attempts[-1] if attempts else None}",
        interval=RETRY_INTERVAL,
    )


@pytest.mark.clause("RES-5")
@pytest.mark.xdist_group("heavy")
def test_fd_exhaustion_does_not_make_the_server_spin(launch: Launcher) -> None:
    """RES-5: a failure means the accept loop retries EMFILE at once (the listener stays
    ready while its client is queued)."""
    with at_fd_limit(launch) as (server, _):
        share = cpu_share(server, CPU_WINDOW)
        assert_alive(server)
    assert share < AT_LIMIT_CPU_LIMIT, (
        f"at its fd limit, with clients queued, the server used {share:.0%} of a core over "
        f"{CPU_WINDOW:g} s (limit {AT_LIMIT_CPU_LIMIT:.0%})"
    )
