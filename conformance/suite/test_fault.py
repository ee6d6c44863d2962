"""FAULT: what the kernel may answer and a loopback client cannot provoke, injected at the C
library by the fault interposer (conformance/native/faults.c; the spec's "The fault interposer"
documents its configuration).

Every test starts its server with the interposer and asks its log whether the fault fired: a
fault never injected is N/A, never PASS. The three short-write tests share one server.
"""

from __future__ import annotations

import contextlib
import random
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.harness import procfs
from conformance.harness.checks import (
    assert_alive,
    assert_still_serving,
    connect_accepted,
    connection_sockets,
    cpu_share,
    greeted_clients,
    wait_connections_back_to,
)
from conformance.harness.client import (
    ClientError,
    Ending,
    assert_all_echoed,
    assert_stays_open,
    connect,
    echo_round_trip,
    exchange,
    exchange_many,
    half_close,
    recv_exactly,
    recv_until_eof,
)
from conformance.harness.server import ServerCommand, ServerProcess
from conformance.native.faults import FaultLog, launch_with_faults
from conformance.plugin import Launcher

LARGE = 1 << 20
BEFORE_FIN = 16 << 10
CONCURRENT, EACH = 100, 1024
SPURIOUS = 64
SPURIOUS_CPU_LIMIT = 0.10
INTERRUPTED_CLIENTS, INTERRUPTED_BULK = 10, 256 << 10
ACCEPT_ERRORS, ACCEPT_CLIENTS = 10, 12
DOOMED = b"doomed echo"


@pytest.fixture(scope="module")
def short_writes(
    server_command: ServerCommand, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServerProcess, FaultLog]]:
    launcher = Launcher(server_command, tmp_path_factory.mktemp("short_writes"))
    try:
        yield launch_with_faults(launcher, "short_writes", launcher.log_dir / "faults.log")
    finally:
        launcher.stop_all()


@pytest.fixture
def short_writing(short_writes: tuple[ServerProcess, FaultLog]) -> ServerProcess:
    """The module's short-writing server (a ServerProcess argument, so that its death is
    reported as CRASH), restarted first if an earlier test killed it."""
    short_writes[0].restart_if_dead()
    return short_writes[0]


def _short_writes_fired(short_writes: tuple[ServerProcess, FaultLog]) -> None:
    """Before judging the echo: N/A unless the server's sends were cut short."""
    short_writes[1].require("short_write", "a short write")


@pytest.mark.clause("FAULT-1")
def test_short_writes_large_echo_comes_back_whole(
    short_writing: ServerProcess, short_writes: tuple[ServerProcess, FaultLog]
) -> None:
    """FAULT-1: a failure means a short send() loses or repeats bytes."""
    with connect(short_writing.address) as client:
        transcript = exchange(client, random.Random(1).randbytes(LARGE), timeout=30.0)
    _short_writes_fired(short_writes)
    transcript.assert_echoed()


@pytest.mark.clause("FAULT-1")
def test_short_writes_flush_before_eof(
    short_writing: ServerProcess, short_writes: tuple[ServerProcess, FaultLog]
) -> None:
    """FAULT-1: a failure means the server closes at EOF with short-written bytes still owed."""
    payload = random.Random(2).randbytes(BEFORE_FIN)
    with connect(short_writing.address) as client:
        client.sendall(payload)
        half_close(client)
        seen = recv_until_eof(client, 10.0, limit=2 * len(payload), sent=payload)
    _short_writes_fired(short_writes)
    seen.assert_echoed(then=Ending.EOF)


@pytest.mark.clause("FAULT-1")
def test_short_writes_keep_concurrent_clients_apart(
    short_writing: ServerProcess, short_writes: tuple[ServerProcess, FaultLog]
) -> None:
    """FAULT-1: a failure means one offset or buffer is shared between connections."""
    payloads = [random.Random(i).randbytes(EACH) for i in range(CONCURRENT)]
    with contextlib.ExitStack() as stack:
        clients = greeted_clients(stack, short_writing, CONCURRENT)
        transcripts = exchange_many(list(zip(clients, payloads, strict=True)), 20.0)
    _short_writes_fired(short_writes)
    assert_all_echoed(transcripts)


@pytest.mark.clause("FAULT-2")
def test_spurious_readiness_neither_closes_nor_spins(launch: Launcher, tmp_path: Path) -> None:
    """FAULT-2: a failure means EAGAIN after a readiness report is taken as EOF or an error,
    or retried in a busy loop."""
    server, log = launch_with_faults(launch, f"spurious={SPURIOUS}", tmp_path / "faults.log")
    with connect_accepted(server) as client:
        echo_round_trip(client, b"before the lies")
        log.require("spurious", "a spurious readiness report")
        log.injected("spurious", SPURIOUS, timeout=5.0)  # fewer: it went on without them
        echo_round_trip(client, b"after the lies")
        assert_stays_open(client, 0.5)
        share = cpu_share(server, 0.5)
    assert share < SPURIOUS_CPU_LIMIT, (
        f"after {log.count('spurious')} spurious reports the server used {share:.0%} of a core"
    )


@pytest.mark.clause("FAULT-3")
def test_eintr_everywhere_loses_nothing(launch: Launcher, tmp_path: Path) -> None:
    """FAULT-3: a failure means EINTR from the wait call, accept, recv or send is taken as a
    fatal error for the server or the connection."""
    server, log = launch_with_faults(launch, "eintr", tmp_path / "faults.log")
    with connect_accepted(server) as sentinel:
        for i in range(INTERRUPTED_CLIENTS):
            with connect(server.address) as client:
                echo_round_trip(client, f"interrupted {i}".encode())
        with connect(server.address) as client:
            payload = random.Random(3).randbytes(INTERRUPTED_BULK)
            exchange(client, payload, timeout=10.0).assert_echoed()
        log.require("eintr", "EINTR")
        assert_still_serving(server, sentinel)


def _served_or_refused(client: socket.socket, message: bytes, i: int) -> None:
    try:
        received = recv_exactly(client, len(message), timeout=2.0)
    except ClientError:
        ending = recv_until_eof(client, 0.1, limit=len(message)).ending
        if ending in (Ending.EOF, Ending.RESET):
            return  # refused: accepted and closed at once, as a server out of fds may
        raise ClientError(
            f"client {i} got neither its echo nor a refusal after the accept errors ended, "
            "a connection closed and a newcomer connected"
        ) from None
    assert received == message, f"client {i} got {received!r} for {message!r}"


@pytest.mark.clause("FAULT-4")
def test_accept_errors_leave_later_clients_accepted(launch: Launcher, tmp_path: Path) -> None:
    """FAULT-4: a failure means an accept() error ends the server, its accept loop or its
    watch on the listener, or strands the queued client for good."""
    server, log = launch_with_faults(
        launch, f"accept_errors={ACCEPT_ERRORS}", tmp_path / "faults.log"
    )
    with contextlib.ExitStack() as stack:
        sentinel = stack.enter_context(connect(server.address))
        echo_round_trip(sentinel, b"sentinel 0", timeout=2.0)
        cue = stack.enter_context(connect(server.address))
        echo_round_trip(cue, b"cue", timeout=2.0)
        messages = [f"accepted {i}".encode() for i in range(ACCEPT_CLIENTS)]
        clients = [stack.enter_context(connect(server.address)) for _ in messages]
        for client, message in zip(clients, messages, strict=True):
            client.sendall(message)
        log.require("accept_error", "an accept() error")
        log.injected("accept_error", ACCEPT_ERRORS, timeout=5.0)  # fewer: it did not retry
        cue.close()  # RES-4: a server that stopped watching its listener at EMFILE resumes now
        assert_still_serving(server, sentinel)
        for i, (client, message) in enumerate(zip(clients, messages, strict=True)):
            _served_or_refused(client, message, i)
        assert_alive(server)


def _two_free_ports() -> tuple[int, int]:
    first = procfs.pick_free_port()
    second = procfs.pick_free_port()
    while second == first:
        second = procfs.pick_free_port()
    return first, second


def _one_connection_fails(launch: Launcher, tmp_path: Path, kind: str, errnos: str) -> None:
    """Two victims whose connections fail with the two errnos; the rest must not notice."""
    ports = _two_free_ports()
    faults = ",".join(
        f"{kind}={err}@{port}" for err, port in zip(errnos.split(), ports, strict=True)
    )
    server, log = launch_with_faults(launch, faults, tmp_path / "faults.log")
    baseline = len(connection_sockets(server))
    with contextlib.ExitStack() as stack, connect_accepted(server) as sentinel:
        victims = [stack.enter_context(connect(server.address, source_port=p)) for p in ports]
        for victim in victims:
            victim.sendall(DOOMED)
        log.require(kind, f"{kind} ({errnos})")
        log.injected(kind, len(victims))  # fewer: the first one killed it, as the checks say
        for port, victim in zip(ports, victims, strict=True):
            seen = recv_until_eof(victim, 2.0, limit=len(DOOMED))
            assert seen.ending in (Ending.EOF, Ending.RESET) or not server.alive, (
                f"the victim on port {port} was not closed after its injected {kind}: "
                + seen.describe()
            )
        assert_still_serving(server, sentinel)
        wait_connections_back_to(server, baseline + 1)


@pytest.mark.clause("FAULT-5")
def test_send_error_costs_only_its_connection(launch: Launcher, tmp_path: Path) -> None:
    """FAULT-5: a failure means EPIPE (SIGPIPE) or ECONNRESET from send() kills the server or
    leaks the connection."""
    _one_connection_fails(launch, tmp_path, "send_error", "EPIPE ECONNRESET")


@pytest.mark.clause("FAULT-6")
def test_recv_error_costs_only_its_connection(launch: Launcher, tmp_path: Path) -> None:
    """FAULT-6: a failure means ECONNRESET or ETIMEDOUT from recv() kills the server or leaks
    the connection."""
    _one_connection_fails(launch, tmp_path, "recv_error", "ECONNRESET ETIMEDOUT")
