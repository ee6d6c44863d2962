"""Bind scope: whether a server listens on the address it was given, and nowhere else.

Facts this module relies on (Linux):
- /proc/net/tcp and /proc/net/tcp6 give every listening socket's local address. 0.0.0.0 (or ::)
  means every interface: hosts on any network the machine is on can connect.
- An IPv6 socket bound to :: accepts IPv4 connections too (as ::ffff:a.b.c.d) unless it set
  IPV6_V6ONLY (net.ipv6.bindv6only is 0 by default); an IPv4 address bound through an IPv6
  socket shows as ::ffff:a.b.c.d, which is the same scope as a.b.c.d.
- The whole of 127.0.0.0/8 is loopback (`local 127.0.0.0/8 dev lo`): a connect to 127.0.0.2
  reaches a listener bound to 0.0.0.0, or to :: without IPV6_V6ONLY, and is refused (RST) by
  the kernel when the only listener on the port is bound to 127.0.0.1 or ::1. IPv6 has one
  loopback address, so a server on ::1 is probed from 127.0.0.2 too: that reaches :: unless
  IPV6_V6ONLY, which only the /proc rows show.

Rule: nothing here is sent to the server's own address; the probe is a connect to another
address, and a connection it opens is closed at once.
"""

from __future__ import annotations

import enum
import ipaddress
import socket
from collections.abc import Iterable

import pytest

from conformance.harness import procfs
from conformance.harness.checks import assert_alive
from conformance.harness.client import CONNECT_TIMEOUT
from conformance.harness.procfs import IpAddress, TcpSocket
from conformance.harness.server import ServerProcess
from conformance.harness.waiting import scaled

WILDCARDS = (ipaddress.IPv4Address("0.0.0.0"), ipaddress.IPv6Address("::"))
# Probed in turn: the first that no socket on the server's port is bound to by name (another
# program's listener there would answer for the server).
OTHER_LOOPBACK = tuple(ipaddress.IPv4Address(f"127.0.0.{n}") for n in range(2, 10))


class Answer(enum.Enum):
    REFUSED = "refused"
    ACCEPTED = "accepted"
    NO_ANSWER = "left unanswered (as a listener whose accept queue is full leaves it)"


def host_given(server: ServerProcess) -> IpAddress:
    """The address the server was told to listen on; N/A where there is no scope to check."""
    try:
        given = ipaddress.ip_address(server.host)
    except ValueError:
        pytest.skip(f"N/A: the host {server.host!r} is not an IP address to compare with")
    if given.is_unspecified:
        pytest.skip(f"N/A: the server was told to listen on every interface ({given})")
    return given


def stray_listeners(server: ServerProcess, given: IpAddress) -> list[TcpSocket]:
    """The server's listening sockets bound elsewhere than ``given``, on any port.

    With --server-addr no process is known: the rows on its port are taken as its own, but only
    a wildcard one is blamed on it, since a row bound to another address may be another
    program's (two listeners may share a port on different addresses).
    """
    if server.attached:
        rows = [s for s in procfs.tcp_sockets() if s.state == procfs.TCP_LISTEN]
        return [s for s in rows if s.port == server.port and s.address in WILDCARDS]
    assert_alive(server)
    assert server.popen is not None
    held = procfs.listening_sockets(server.popen.pid)
    return [s for _, s in held if not _same_scope(s.address, given)]


def _same_scope(address: IpAddress, given: IpAddress) -> bool:
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return given in (address, mapped)


def probe_address(given: IpAddress, port: int) -> ipaddress.IPv4Address:
    """A loopback address other than ``given`` on which nothing listens on ``port`` by name."""
    if not given.is_loopback:
        pytest.skip(
            f"N/A: {given} is not a loopback address, and only a server on this machine's "
            "loopback is reached by a probe from another loopback address"
        )
    named = {s.address for s in procfs.tcp_sockets() if s.port == port}
    for candidate in OTHER_LOOPBACK:
        if candidate != given and candidate not in named:
            return candidate
    pytest.skip(f"N/A: sockets on port {port} are bound to every probe address {OTHER_LOOPBACK}")


def knock(address: ipaddress.IPv4Address, port: int) -> Answer:
    """Connect to ``address``:``port`` and close at once: what the kernel answered."""
    timeout = scaled(CONNECT_TIMEOUT)
    try:
        with socket.create_connection((str(address), port), timeout):
            return Answer.ACCEPTED
    except ConnectionRefusedError:
        return Answer.REFUSED
    except TimeoutError:
        if reached_by(address, port):
            return Answer.NO_ANSWER
        pytest.skip(
            f"N/A: a connect to {address}:{port} was neither accepted nor refused within "
            f"{timeout:g} s and nothing listens there: something drops it (a firewall rule on "
            "lo?), so the probe shows nothing"
        )
    except OSError as exc:
        pytest.skip(f"N/A: {address} cannot be reached here ({exc})")


def reached_by(address: ipaddress.IPv4Address, port: int) -> list[TcpSocket]:
    """The sockets listening on ``port`` that a connect to ``address`` can reach."""
    return [
        s
        for s in procfs.tcp_sockets()
        if s.state == procfs.TCP_LISTEN and s.port == port and s.address in (address, *WILDCARDS)
    ]


def describe(sockets: Iterable[TcpSocket]) -> str:
    """Where each socket listens, and what a wildcard address means."""
    described = []
    for s in sockets:
        where = f"[{s.address}]:{s.port}" if s.address.version == 6 else f"{s.address}:{s.port}"
        if s.address == WILDCARDS[0]:
            where += " (every IPv4 interface)"
        elif s.address == WILDCARDS[1]:
            where += " (every interface, IPv4 too unless IPV6_V6ONLY)"
        described.append(where)
    return ", ".join(described) or "no socket seen"


def template_hint(server: ServerProcess) -> str:
    """For a command template that never tells the server where to listen."""
    if server.attached or any("{host}" in arg for arg in server.command.argv):
        return ""
    return (
        "; the command template has no {host}, so the server was never told the address: "
        "pass {host} to its bind option"
    )
