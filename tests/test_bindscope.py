"""START-7's observations on listeners of our own: the kernel's rows and the probe from
127.0.0.2 tell a listener on the host given from one on every interface, in both families.

The servers here are sockets of this process, given to the harness as --server-addr would give
them (no process known), so the rows are judged by port: the path a server started elsewhere
takes. The suite's run over tests/broken/ covers servers the kit starts itself.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conformance.harness import bindscope, procfs
from conformance.harness.server import ServerCommand, ServerProcess

pytestmark = pytest.mark.timeout(30)

Listen = Callable[..., ServerProcess]


@pytest.fixture
def listening(tmp_path: Path) -> Iterator[Listen]:
    """listen(bound, told, v6only): a socket of ours listening on ``bound``, as the server
    --server-addr told:port names; the sockets are closed at teardown."""
    sockets: list[socket.socket] = []

    def listen(bound: str, told: str, v6only: bool = False) -> ServerProcess:
        family = socket.AF_INET6 if ":" in bound else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        sockets.append(listener)
        if family == socket.AF_INET6:
            listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, v6only)
        listener.bind((bound, procfs.pick_free_port(told)))
        listener.listen()
        port = listener.getsockname()[1]
        address = f"[{told}]:{port}" if ":" in told else f"{told}:{port}"
        return ServerProcess.attach(ServerCommand.running_at("ours", address), tmp_path / "log")

    yield listen
    for s in sockets:
        s.close()


CASES = [
    # bound, told, IPV6_V6ONLY, stray rows seen, what the probe from 127.0.0.2 gets
    ("127.0.0.1", "127.0.0.1", False, [], bindscope.Answer.REFUSED),
    ("0.0.0.0", "127.0.0.1", False, ["0.0.0.0"], bindscope.Answer.ACCEPTED),
    ("::", "127.0.0.1", False, ["::"], bindscope.Answer.ACCEPTED),
    ("::1", "::1", False, [], bindscope.Answer.REFUSED),
    ("::", "::1", False, ["::"], bindscope.Answer.ACCEPTED),
    ("::", "::1", True, ["::"], bindscope.Answer.REFUSED),  # only the rows show it
]


@pytest.mark.parametrize(("bound", "told", "v6only", "stray", "answer"), CASES)
def test_rows_and_probe_tell_the_scope(
    listening: Listen,
    bound: str,
    told: str,
    v6only: bool,
    stray: list[str],
    answer: bindscope.Answer,
) -> None:
    if ":" in bound and not socket.has_ipv6:
        pytest.skip("no IPv6 here")
    server: ServerProcess = listening(bound, told, v6only)
    given = bindscope.host_given(server)
    found = bindscope.stray_listeners(server, given)
    assert [str(s.address) for s in found] == stray
    assert bindscope.knock(bindscope.probe_address(given, server.port), server.port) is answer


def test_an_ipv4_host_bound_through_an_ipv6_socket_is_in_scope() -> None:
    mapped = ipaddress.IPv6Address("::ffff:127.0.0.1")
    assert bindscope._same_scope(mapped, ipaddress.IPv4Address("127.0.0.1"))
    assert not bindscope._same_scope(mapped, ipaddress.IPv4Address("127.0.0.2"))


def test_probe_avoids_an_address_another_listener_holds_by_name(listening: Listen) -> None:
    server: ServerProcess = listening("127.0.0.1", "127.0.0.1")
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.2", server.port))
        squatter.listen()
        probe = bindscope.probe_address(ipaddress.IPv4Address("127.0.0.1"), server.port)
        assert probe == ipaddress.IPv4Address("127.0.0.3")
        assert bindscope.knock(probe, server.port) is bindscope.Answer.REFUSED


def test_a_wildcard_host_is_not_applicable(tmp_path: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("0.0.0.0", 0))
        listener.listen()
        command = ServerCommand.running_at("wild", f"0.0.0.0:{listener.getsockname()[1]}")
        server = ServerProcess.attach(command, tmp_path / "log")
        with pytest.raises(pytest.skip.Exception, match="told to listen on every interface"):
            bindscope.host_given(server)
