"""START: the server command contract. Each test launches its own server: these clauses
stop, restart or signal it."""

from __future__ import annotations

import contextlib
import signal

import pytest

from conformance.harness import procfs
from conformance.harness.client import (
    Ending,
    connect,
    echo_round_trip,
    filler,
    recv_until_eof,
    send_without_reading,
)
from conformance.harness.waiting import DeadlineExceeded, wait_until
from conformance.plugin import Launcher

EXIT_DEADLINE = 2.0
OWED = 1 << 20
MANY_CLIENTS = 20


@pytest.mark.clause("START-1")
def test_announces_readiness_then_echoes(launch: Launcher) -> None:
    """START-1: a failure means the server never listened, or listened without serving."""
    server = launch()
    with connect(server.address) as client:
        echo_round_trip(client, b"ready?")


@pytest.mark.clause("START-2")
def test_listens_on_the_port_it_is_given(launch: Launcher) -> None:
    """START-2: a failure means --port is ignored or another port is announced."""
    port = launch.free_port()
    server = launch(port=port)
    assert server.port == port, f"told to listen on {port}, listens on {server.port}"
    with connect(server.address) as client:
        echo_round_trip(client, b"on my port")


@pytest.mark.clause("START-3")
def test_restarts_on_the_same_port_despite_time_wait(launch: Launcher) -> None:
    """START-3: a failure means the listener lacks SO_REUSEADDR (bind: address in use)."""
    first = launch(port=launch.free_port())
    with connect(first.address) as client:
        echo_round_trip(client, b"first instance")
        first.signal(signal.SIGTERM)
        assert first.wait_exit(EXIT_DEADLINE), "the first instance ignored SIGTERM"
        # The server closed first, so once we close too its side sits in TIME_WAIT.
        recv_until_eof(client, EXIT_DEADLINE, limit=1024)
    second = launch(port=first.port)
    with connect(second.address) as client:
        echo_round_trip(client, b"second instance")


def _exits_promptly_on(launch: Launcher, signum: signal.Signals) -> None:
    server = launch()
    with connect(server.address) as idle, connect(server.address) as busy:
        echo_round_trip(idle, b"idle")
        owed = send_without_reading(busy, filler(OWED))
        server.signal(signum)
        assert server.wait_exit(EXIT_DEADLINE), (
            f"still running {EXIT_DEADLINE:g} s after {signum.name} "
            f"(owing {owed} bytes to a client)"
        )
        for client in (idle, busy):
            seen = recv_until_eof(client, EXIT_DEADLINE, limit=4 * OWED)
            assert seen.ending in (Ending.EOF, Ending.RESET), (
                f"after the server exited a client saw: {seen.describe()}"
            )


@pytest.mark.clause("START-4")
def test_sigterm_ends_the_server_promptly(launch: Launcher) -> None:
    """START-4: a failure means SIGTERM is ignored or shutdown waits on clients."""
    _exits_promptly_on(launch, signal.SIGTERM)


@pytest.mark.clause("START-5")
def test_sigint_ends_the_server_promptly(launch: Launcher) -> None:
    """START-5: a failure means KeyboardInterrupt is swallowed (bare except in the loop)."""
    _exits_promptly_on(launch, signal.SIGINT)


@pytest.mark.clause("START-6")
def test_sigterm_with_many_clients_then_restart_at_once(launch: Launcher) -> None:
    """START-6: a failure means shutdown takes time per connection (a drain that waits on each
    client in turn), or the port cannot be taken over at once."""
    first = launch(port=launch.free_port())
    with contextlib.ExitStack() as stack:
        clients = []
        for i in range(MANY_CLIENTS):  # one at a time: the listen backlog is not in question
            clients.append(stack.enter_context(connect(first.address)))
            echo_round_trip(clients[-1], f"client {i}".encode())
        first.signal(signal.SIGTERM)
        assert first.wait_exit(EXIT_DEADLINE), (
            f"still running {EXIT_DEADLINE:g} s after SIGTERM with {MANY_CLIENTS} clients"
        )
        for i, client in enumerate(clients):
            seen = recv_until_eof(client, EXIT_DEADLINE, limit=1024)
            assert seen.ending in (Ending.EOF, Ending.RESET), (
                f"after the server exited client {i} saw: {seen.describe()}"
            )
    with contextlib.suppress(DeadlineExceeded):  # a server that reset them leaves none
        wait_until(lambda: _in_time_wait(first.port), EXIT_DEADLINE, "TIME_WAIT on the port")
    second = launch(port=first.port)
    with connect(second.address) as client:
        echo_round_trip(client, b"second instance")


def _in_time_wait(port: int) -> bool:
    return any(s.port == port and s.state == procfs.TCP_TIME_WAIT for s in procfs.tcp_sockets())
