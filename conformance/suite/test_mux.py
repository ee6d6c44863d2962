"""MUX: one client must never hold up the others, however it behaves."""

from __future__ import annotations

import selectors
import socket
import statistics
import time
from contextlib import ExitStack

import pytest

from conformance.harness.checks import connect_accepted
from conformance.harness.client import (
    SMALL_WINDOW,
    ClientError,
    abort_with_rst,
    connect,
    echo_round_trip,
    filler,
    first_difference,
    send_without_reading,
)
from conformance.harness.rounds import round_trips
from conformance.harness.server import ServerProcess
from conformance.harness.waiting import scaled

PROMPT = 1.0
FLOOD = 64 << 20
FLOOD_PATIENCE = 0.5  # no send progress for this long: the flooder's window is full
FAIRNESS_CLIENTS, FAIRNESS_ROUNDS, FAIRNESS_SIZE = 50, 20, 1024
FAIRNESS_BOUND = 4.0  # slowest / median finishing time (measured: 1.0-2.1 on the references)
SLOW_WINDOW = 4096
SLOW_TOTAL = 1 << 20


@pytest.mark.clause("MUX-1")
def test_client_that_does_not_read_holds_up_no_one(server: ServerProcess) -> None:
    """MUX-1: a failure means the loop blocks in a send to a client that does not read."""
    with connect_accepted(server) as bystander:
        echo_round_trip(bystander, b"before the flood")
        with connect(server.address, rcvbuf=SMALL_WINDOW) as flooder:
            send_without_reading(flooder, filler(FLOOD), patience=FLOOD_PATIENCE)
            try:
                echo_round_trip(bystander, b"still here", PROMPT)
                with connect(server.address) as newcomer:
                    echo_round_trip(newcomer, b"newcomer", PROMPT)
            finally:
                abort_with_rst(flooder)


@pytest.mark.clause("MUX-3")
def test_concurrent_clients_progress_together(server: ServerProcess) -> None:
    """MUX-3: a failure means some connections are served only now and then."""
    with ExitStack() as stack:
        clients = []
        for i in range(FAIRNESS_CLIENTS):
            client = stack.enter_context(connect(server.address))
            echo_round_trip(client, f"hello {i}".encode())
            clients.append(client)
        finished = round_trips(clients, FAIRNESS_ROUNDS, FAIRNESS_SIZE, timeout=10.0)
    slowest, median = max(finished), statistics.median(finished)
    assert slowest <= FAIRNESS_BOUND * median, (
        f"the slowest client took {slowest:.3f} s, {slowest / median:.1f} times the median "
        f"{median:.3f} s (fastest {min(finished):.3f} s)"
    )


@pytest.mark.clause("MUX-4")
def test_slow_reader_gets_all_its_echo(server: ServerProcess) -> None:
    """MUX-4: a failure means the server gives up on, or drops echo for, a slow reader."""
    payload = bytes(range(256)) * (SLOW_TOTAL // 256)
    with connect(server.address, rcvbuf=SLOW_WINDOW) as client:
        client.setblocking(False)
        received = _write_while_reading_one_byte_at_a_time(client, payload, timeout=30.0)
    if received != payload:
        raise ClientError(f"echo differs: {first_difference(payload, received)}")


def _write_while_reading_one_byte_at_a_time(
    client: socket.socket, payload: bytes, timeout: float
) -> bytes:
    unsent, received = memoryview(payload), bytearray()
    deadline = time.monotonic() + scaled(timeout)
    with selectors.DefaultSelector() as selector:
        selector.register(client, selectors.EVENT_READ | selectors.EVENT_WRITE)
        while len(received) < len(payload) and time.monotonic() < deadline:
            for _, events in selector.select(1.0):
                if events & selectors.EVENT_WRITE and unsent:
                    unsent = unsent[client.send(unsent[:65536]) :]
                    if not unsent:
                        selector.modify(client, selectors.EVENT_READ)
                if events & selectors.EVENT_READ:
                    received += _recv_bytewise(client, len(payload) - len(received))
    return bytes(received)


def _recv_bytewise(client: socket.socket, most: int) -> bytes:
    """What has arrived (at most ``most`` bytes), taken with one recv(1) per byte."""
    got = bytearray()
    while len(got) < most:
        try:
            byte = client.recv(1)
        except BlockingIOError:
            break
        if not byte:
            raise ClientError(f"EOF from the server with its echo unfinished (+{len(got)} bytes)")
        got += byte
    return bytes(got)
