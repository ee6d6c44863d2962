"""ABORT: a client that vanishes with a reset costs the server that connection only.

The exception path (recv/send raising ECONNRESET or EPIPE) runs against the module's server;
the hang-up path needs a fresh server with the fault interposer rewriting hang-up events (see
the spec's facts about resets), and is N/A where the interposer cannot reach the server's
readiness API.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from conformance.harness.checks import (
    assert_alive,
    assert_still_serving,
    connect_accepted,
    connection_sockets,
    cpu_share,
    wait_connections_back_to,
)
from conformance.harness.client import SMALL_WINDOW, abort_with_rst, filler, send_without_reading
from conformance.harness.server import ServerProcess
from conformance.harness.storm import run_storm
from conformance.native.faults import HANGUP_WAITS, FaultLog, launch_with_faults
from conformance.plugin import Launcher

OWED = 8 << 20
VICTIMS = 5
STORM_SESSIONS, STORM_WORKERS, STORM_BUDGET = 2000, 50, 10.0
STORM_CPU_LIMIT = 0.20
STORM_UNCONNECTED = 0.05  # a small listen backlog drops some of 50 connects (ACCEPT-2's clause)


@pytest.mark.clause("ABORT-1")
def test_reset_of_idle_client_leaves_others_served(server: ServerProcess) -> None:
    """ABORT-1: a failure means ECONNRESET from recv() kills the server."""
    with connect_accepted(server) as sentinel:
        with connect_accepted(server) as victim:
            abort_with_rst(victim)
        assert_still_serving(server, sentinel)


@pytest.mark.clause("ABORT-2")
def test_reset_right_after_sending_leaves_others_served(server: ServerProcess) -> None:
    """ABORT-2: a failure means the server dies reading from or echoing to a reset peer
    (send: ECONNRESET)."""
    with connect_accepted(server) as sentinel:
        with connect_accepted(server) as victim, server.paused():
            # The server finds the data and the reset together: recv() returns the data,
            # then the echo's send() fails.
            victim.sendall(b"gone before the echo" * 50)
            abort_with_rst(victim)
        assert_still_serving(server, sentinel)


@pytest.mark.clause("ABORT-3")
def test_reset_with_echo_owed_leaves_others_served(server: ServerProcess) -> None:
    """ABORT-3: a failure means send() to a reset peer (ECONNRESET, EPIPE, SIGPIPE) kills
    the server."""
    with connect_accepted(server) as sentinel:
        with connect_accepted(server, rcvbuf=SMALL_WINDOW) as victim:
            send_without_reading(victim, filler(OWED))
            abort_with_rst(victim)
        assert_still_serving(server, sentinel)


def _reset_victims_through_the_interposer(server: ServerProcess, log: FaultLog) -> None:
    """Reset VICTIMS accepted connections; N/A unless one of their hang-ups was rewritten."""
    with contextlib.ExitStack() as stack:
        victims = [stack.enter_context(connect_accepted(server)) for _ in range(VICTIMS)]
        # Having accepted, a server that waits for readiness has waited, and that was logged.
        waits = log.waits()
        if not waits & HANGUP_WAITS:
            pytest.skip(
                "N/A: the server waits with no call that reports hang-ups "
                f"(wait calls seen: {', '.join(sorted(waits)) or 'none'}; select() has no "
                "hang-up bit, and blocking threads wait in recv())"
            )
        for victim in victims:
            abort_with_rst(victim)
    log.require("hup", "a hang-up event without IN for the reset connections")


@pytest.mark.clause("ABORT-4")
def test_hangup_branch_does_not_crash(launch: Launcher, tmp_path: Path) -> None:
    """ABORT-4: a failure means the HUP/ERR branch raises (seed epoll: KeyError after
    `del conns[fd]`, or ENOTCONN from getpeername)."""
    server, log = launch_with_faults(launch, "hup=once", tmp_path / "faults.log")
    with connect_accepted(server) as sentinel:
        _reset_victims_through_the_interposer(server, log)
        assert_still_serving(server, sentinel)


@pytest.mark.clause("ABORT-5")
def test_hangup_branch_alone_releases_the_connection(launch: Launcher, tmp_path: Path) -> None:
    """ABORT-5: a failure means the HUP/ERR branch does not close the socket (fd leak, and a
    level-triggered loop that spins on it)."""
    server, log = launch_with_faults(launch, "hup=always", tmp_path / "faults.log")
    baseline = len(connection_sockets(server))
    with connect_accepted(server) as sentinel:
        _reset_victims_through_the_interposer(server, log)
        assert_still_serving(server, sentinel)
        wait_connections_back_to(server, baseline + 1)


@pytest.mark.clause("ABORT-6")
@pytest.mark.xdist_group("heavy")
def test_fault_storm_leaves_the_server_serving_and_clean(launch: Launcher) -> None:
    """ABORT-6: a failure means a rare error path kills, wedges or leaks under concurrency."""
    server = launch()
    baseline = len(connection_sockets(server))
    with connect_accepted(server) as sentinel:
        storm = run_storm(server.address, STORM_SESSIONS, STORM_WORKERS, STORM_BUDGET)
        assert_alive(server)
        assert not storm.failures, (
            f"{len(storm.failures)} of {storm.started} sessions failed; first: "
            + "; ".join(storm.failures[:3])
        )
        assert len(storm.unconnected) <= STORM_UNCONNECTED * storm.started, (
            f"{len(storm.unconnected)} of {storm.started} sessions never got connected; first: "
            + "; ".join(storm.unconnected[:3])
        )
        assert_still_serving(server, sentinel)
        wait_connections_back_to(server, baseline + 1)
        share = cpu_share(server)
    assert share < STORM_CPU_LIMIT, f"after the storm the server used {share:.0%} of a core"
