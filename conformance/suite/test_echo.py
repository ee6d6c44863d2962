"""ECHO: what goes in comes back, unchanged, promptly, as a byte stream, to the right client."""

from __future__ import annotations

import contextlib
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance.exploration.profiles import suite_settings
from conformance.harness.checks import assert_still_serving, greeted_clients
from conformance.harness.client import (
    SMALL_WINDOW,
    ClientError,
    abort_with_rst,
    assert_all_echoed,
    connect,
    echo_round_trip,
    exchange,
    exchange_many,
    filler,
    first_difference,
    recv_exactly,
)
from conformance.harness.owing import ConnectionEnds, fill_past_send_buffer
from conformance.harness.server import ServerProcess

PROMPT = 1.0
LARGE = 16 << 20
CONCURRENT = 100
PAYLOADS = [f"<client {i:03}>".encode() * 300 for i in range(CONCURRENT)]  # 3600 bytes each
END_MARK = b"#end-of-stream#"
FD_REUSE_ROUNDS, FD_REUSE_NEWCOMERS = 3, 5
FD_REUSE_PATIENCE = 0.5  # a server that takes no more input owes what it has: enough


@pytest.mark.clause("ECHO-1")
def test_small_message_comes_back_promptly(server: ServerProcess) -> None:
    """ECHO-1: a failure means the server never echoes, or waits for a newline or more data."""
    with connect(server.address) as client:
        client.sendall(b"hello")
        assert recv_exactly(client, 5, PROMPT) == b"hello"
        echo_round_trip(client, b"!")  # anything added after b"hello" would arrive first


@pytest.mark.clause("ECHO-2")
def test_all_byte_values_come_back(server: ServerProcess) -> None:
    """ECHO-2: a failure means the server treats bytes as text (decodes, drops or replaces)."""
    with connect(server.address) as client:
        echo_round_trip(client, bytes(range(256)) * 4)


@pytest.mark.clause("ECHO-2")
def test_invalid_utf8_comes_back(server: ServerProcess) -> None:
    """ECHO-2: a failure means the server decodes UTF8 (crash, dropped connection, U+FFFD)."""
    with connect(server.address) as client:
        echo_round_trip(client, b"\xff\xfe\xc3\x28 not text \x80")


@pytest.mark.clause("ECHO-2")
def test_split_utf8_character_comes_back(server: ServerProcess) -> None:
    """ECHO-2: a failure means the server decodes each recv() on its own, or waits for a
    whole character before echoing."""
    euro = "\u20ac".encode()
    with connect(server.address) as client:
        echo_round_trip(client, euro[:2])
        echo_round_trip(client, euro[2:])


def _assert_stream_echoed(server: ServerProcess, chunks: list[bytes]) -> None:
    """Write the chunks back to back, then a marker: everything must return, nothing more."""
    sent = b"".join(chunks) + END_MARK
    with connect(server.address) as client:
        for chunk in chunks:
            client.sendall(chunk)
        client.sendall(END_MARK)
        try:
            received = recv_exactly(client, len(sent), timeout=2.0)
        except ClientError as exc:
            raise ClientError(f"{len(chunks)} writes of {len(sent)} bytes in all: {exc}") from None
        assert received == sent, f"{len(chunks)} writes: {first_difference(sent, received)}"
        echo_round_trip(client, b"!")  # bytes added after the marker would arrive first


@pytest.mark.clause("ECHO-3")
def test_one_byte_writes_come_back_as_one_stream(server: ServerProcess) -> None:
    """ECHO-3: a failure means the server adds or removes bytes per recv()."""
    _assert_stream_echoed(server, [bytes([b]) for b in b"one byte at a time, 300 times." * 10])


@pytest.mark.clause("ECHO-3")
@settings(suite_settings(), suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(chunks=st.lists(st.binary(min_size=1, max_size=4096), min_size=1, max_size=16))
def test_any_chunking_gives_the_same_stream(server: ServerProcess, chunks: list[bytes]) -> None:
    """ECHO-3: a failure means the echo depends on how the bytes were split into writes."""
    _assert_stream_echoed(server, chunks)


@pytest.mark.clause("ECHO-4")
def test_large_payload_comes_back_complete(server: ServerProcess) -> None:
    """ECHO-4: a failure means partial send() is not handled (bytes lost or reordered)."""
    payload = random.Random(4).randbytes(LARGE)
    with connect(server.address, rcvbuf=SMALL_WINDOW) as client:
        exchange(client, payload, timeout=30.0).assert_echoed()


@pytest.mark.clause("ECHO-5")
def test_concurrent_clients_get_their_own_bytes(server: ServerProcess) -> None:
    """ECHO-5: a failure means buffers are shared or connections crossed."""
    with contextlib.ExitStack() as stack:
        clients = greeted_clients(stack, server, CONCURRENT)
        transcripts = exchange_many(list(zip(clients, PAYLOADS, strict=True)), timeout=10.0)
    assert_all_echoed(transcripts)


@pytest.mark.clause("ECHO-5")
def test_clients_found_ready_together_get_their_own_bytes(server: ServerProcess) -> None:
    """ECHO-5: a failure means buffers are shared or connections crossed. A server that
    happens to serve one client at a time can hide that; here it wakes to find all ready."""
    with contextlib.ExitStack() as stack:
        clients = greeted_clients(stack, server, CONCURRENT)
        with server.paused():  # each payload fits in the socket buffers: sendall returns
            for client, payload in zip(clients, PAYLOADS, strict=True):
                client.sendall(payload)
        for i, (client, payload) in enumerate(zip(clients, PAYLOADS, strict=True)):
            try:
                received = recv_exactly(client, len(payload), timeout=2.0)
            except ClientError as exc:
                raise ClientError(f"client {i} of {CONCURRENT}: {exc}") from None
            if received != payload:
                difference = first_difference(payload, received)
                raise ClientError(f"client {i} of {CONCURRENT}: echo differs: {difference}")


@pytest.mark.clause("ECHO-6")
def test_connection_on_a_reused_fd_gets_only_its_own_bytes(server: ServerProcess) -> None:
    """ECHO-6: a failure means per-connection state kept by fd number outlives an aborted
    connection and is sent to the next connection on that fd."""
    with connect(server.address) as sentinel:
        echo_round_trip(sentinel, b"sentinel")
        for round_no in range(FD_REUSE_ROUNDS):
            with connect(server.address, rcvbuf=SMALL_WINDOW) as victim:
                ends = ConnectionEnds(victim)
                fill_past_send_buffer(ends, victim, filler(16 << 20), patience=FD_REUSE_PATIENCE)
                abort_with_rst(victim)
            assert_still_serving(server, sentinel)
            for i in range(FD_REUSE_NEWCOMERS):
                with connect(server.address) as newcomer:
                    tag = f"<newcomer {round_no}.{i}>".encode()
                    payload = (tag * 100)[:1000]
                    newcomer.sendall(payload)
                    received = recv_exactly(newcomer, len(payload), PROMPT)
                    assert received == payload, first_difference(payload, received)
                    echo_round_trip(newcomer, b"#end#")  # anything extra would come first
