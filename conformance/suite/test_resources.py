"""RES: what a server holds returns to its baseline once its clients are gone.

Each test launches its own server, so that the baseline (the TCP connection sockets it holds
before any client) is the server's own and not left over from another test. Sockets are
counted, not every fd: a runtime keeps descriptors of its own (Go's pool of splice pipes), so
a leak of any other kind is told by growth with the number of sessions instead (RES-8).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack

import pytest

from conformance.harness.checks import (
    assert_alive,
    connection_sockets,
    cpu_share,
    group_fds,
    wait_connections_back_to,
    wait_fds_at_most,
)
from conformance.harness.client import (
    SMALL_WINDOW,
    abort_with_rst,
    connect,
    echo_round_trip,
    filler,
    recv_exactly,
    send_without_reading,
)
from conformance.harness.server import ServerProcess
from conformance.harness.storm import run_storm
from conformance.plugin import Launcher

SESSIONS = 50
OWED = 1 << 20
IDLE_CPU_LIMIT = 0.20
REST_IDLE, REST_TRANSFER, REST_RESETS = 100, 8 << 20, 50
REST_CPU_LIMIT, REST_WINDOW = 0.05, 1.0
# RES-8: a warm-up, then five times as many sessions, from GROWTH_CLIENTS at once.
GROWTH_CLIENTS, GROWTH_WARM_UP, GROWTH_FACTOR, GROWTH_BUDGET = 8, 48, 5, 10.0
# A runtime may cache a pipe (two fds) per session in progress (Go's splice pipes), and the
# server may still be ending a session whose client has started the next: two per client.
GROWTH_SLACK = 4 * GROWTH_CLIENTS


def graceful_sessions(server: ServerProcess, count: int) -> None:
    for i in range(count):
        with connect(server.address) as client:
            echo_round_trip(client, f"graceful {i}".encode())


def aborted_sessions(server: ServerProcess, count: int) -> None:
    """Resets of three kinds in turn: idle, right after sending, with echo owed."""
    for i in range(count):
        with connect(server.address) as client:
            match i % 3:
                case 0:
                    echo_round_trip(client, b"idle, then reset")
                case 1:
                    client.sendall(b"reset before the echo")
                case 2:
                    send_without_reading(client, filler(OWED))
            abort_with_rst(client)


def _assert_sockets_released(
    launch: Launcher, sessions: Callable[[ServerProcess, int], None]
) -> None:
    server = launch()
    baseline = len(connection_sockets(server))
    sessions(server, SESSIONS)
    wait_connections_back_to(server, baseline)


@pytest.mark.clause("RES-1")
def test_graceful_sessions_release_their_sockets(launch: Launcher) -> None:
    """RES-1: a failure means closed connections' sockets are never close()d."""
    _assert_sockets_released(launch, graceful_sessions)


@pytest.mark.clause("RES-2")
def test_aborted_sessions_release_their_sockets(launch: Launcher) -> None:
    """RES-2: a failure means the error path forgets to close() the socket."""
    _assert_sockets_released(launch, aborted_sessions)


@pytest.mark.clause("RES-3")
def test_idle_server_does_not_spin(launch: Launcher) -> None:
    """RES-3: a failure means a busy loop: poll timeout 0, b'' ignored, an error fd left
    registered, write interest left on after the buffer drained."""
    server = launch()
    graceful_sessions(server, 10)
    aborted_sessions(server, 9)
    with connect(server.address) as idle:
        echo_round_trip(idle, b"idle from now on")
        share = cpu_share(server)
    assert share < IDLE_CPU_LIMIT, (
        f"the idle server used {share:.0%} of a core over 1 s (limit {IDLE_CPU_LIMIT:.0%})"
    )


@pytest.mark.clause("RES-6")
@pytest.mark.xdist_group("heavy")
def test_server_goes_back_to_rest_after_load(launch: Launcher) -> None:
    """RES-6: a failure means something stays registered that is always ready after load:
    write interest after a transfer drained, a reset fd never unregistered, b'' ignored."""
    server = launch()
    with ExitStack() as open_connections:
        for i in range(REST_IDLE):
            client = open_connections.enter_context(connect(server.address))
            echo_round_trip(client, f"idle {i}".encode())
        _assert_at_rest(server, f"with {REST_IDLE} idle connections open")
        bulk = open_connections.enter_context(connect(server.address, rcvbuf=SMALL_WINDOW))
        # Written before any is read: the server's sends come up short, as a large echo does.
        owed = send_without_reading(bulk, filler(REST_TRANSFER), patience=0.5)
        assert recv_exactly(bulk, owed, 10.0) == filler(REST_TRANSFER)[:owed]
        _assert_at_rest(server, f"after a {owed >> 20} MiB transfer, its connection still open")
        baseline = len(connection_sockets(server))
        for _ in range(REST_RESETS):
            with connect(server.address, rcvbuf=SMALL_WINDOW) as victim:
                send_without_reading(victim, filler(64 << 10))
                abort_with_rst(victim)
        wait_connections_back_to(server, baseline)
        _assert_at_rest(server, f"after {REST_RESETS} resets with echo owed")


def _assert_at_rest(server: ServerProcess, when: str) -> None:
    share = cpu_share(server, REST_WINDOW)
    assert share < REST_CPU_LIMIT, (
        f"{when}, the server used {share:.0%} of a core over {REST_WINDOW:g} s "
        f"(limit {REST_CPU_LIMIT:.0%})"
    )


@pytest.mark.clause("RES-8")
@pytest.mark.xdist_group("heavy")
def test_descriptors_do_not_grow_with_sessions(launch: Launcher) -> None:
    """RES-8: a failure means a descriptor other than the connection's socket is opened per
    session and never closed (a pipe, an eventfd or timerfd, an epoll instance, a file)."""
    server = launch()
    baseline = len(connection_sockets(server))
    warm_up = _storm_to_rest(server, GROWTH_WARM_UP, baseline)
    warm = group_fds(server)
    more = _storm_to_rest(server, GROWTH_WARM_UP * GROWTH_FACTOR, baseline)
    wait_fds_at_most(
        server,
        warm + GROWTH_SLACK,
        f"the server's fds at most {GROWTH_SLACK} above the {warm} it held after a warm-up of "
        f"{warm_up} sessions, after {more} more",
    )


def _storm_to_rest(server: ServerProcess, sessions: int, baseline: int) -> int:
    """Run ``sessions`` sessions of every kind, GROWTH_CLIENTS at a time; wait until their
    sockets are closed. Returns how many started (the rest ran past the time budget)."""
    storm = run_storm(server.address, sessions, GROWTH_CLIENTS, GROWTH_BUDGET)
    assert_alive(server)
    wait_connections_back_to(server, baseline)
    return storm.started
