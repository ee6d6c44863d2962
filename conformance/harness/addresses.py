"""Where a server listens: an IP address of either family, and a port.

Rules this module keeps:
- A host is an IP literal, never a name: the family of every socket the kit opens (its
  clients, its port probes, its sock_diag requests) follows from the host alone, and a name
  that resolves to both families would leave that to the resolver.
- An IPv6 address with a port is written in brackets, ``[::1]:7000`` (RFC 3986), in what the
  kit reads and in what it prints; ``::1:7000`` is refused, since it is itself an address.
- Standard library only: the MODEL-1 replay script embeds this module.
"""

from __future__ import annotations

import errno
import ipaddress
import socket

IPV4_LOOPBACK = "127.0.0.1"
IPV6_LOOPBACK = "::1"


def family(host: str) -> socket.AddressFamily:
    """AF_INET6 for an IPv6 address, AF_INET for anything else."""
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def wildcard(host: str) -> str:
    """The any-address of ``host``'s family: 0.0.0.0 or ::."""
    return "::" if family(host) == socket.AF_INET6 else "0.0.0.0"


def display(host: str, port: int) -> str:
    """``host:port`` as a user writes it: 127.0.0.1:7000, [::1]:7000."""
    return f"[{host}]:{port}" if family(host) == socket.AF_INET6 else f"{host}:{port}"


def parse_host(text: str) -> str:
    """An IP address given on the command line, normalised (``0::1`` is ``::1``)."""
    try:
        return str(ipaddress.ip_address(text.strip("[]") if text.startswith("[") else text))
    except ValueError:
        raise ValueError(
            f"{text!r} is not an IP address: give one, e.g. {IPV4_LOOPBACK} or {IPV6_LOOPBACK}"
        ) from None


def parse_host_port(text: str) -> tuple[str, int]:
    """``127.0.0.1:7000`` or ``[::1]:7000``; a ValueError says what is wrong and how to write it."""
    example = f"expected HOST:PORT, e.g. {IPV4_LOOPBACK}:7000 or [{IPV6_LOOPBACK}]:7000"
    bracketed = text.startswith("[")
    if bracketed:
        host, bracket, rest = text[1:].partition("]")
        if not bracket or not rest.startswith(":"):
            raise ValueError(f"{text!r}: an IPv6 address in brackets needs ':PORT' after ']'")
        port = rest[1:]
    else:
        host, _, port = text.rpartition(":")
        if ":" in host:
            raise ValueError(f"{text!r}: write an IPv6 address in brackets, e.g. [{host}]:{port}")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{text!r}: {example}")
    if bracketed and family(host) != socket.AF_INET6:
        raise ValueError(f"{text!r}: brackets are for IPv6 addresses only; {example}")
    return parse_host(host), int(port)


def cannot_bind(host: str) -> str | None:
    """Why this machine has no ``host`` to listen on (None when it has): an IPv6 address on a
    machine with IPv6 disabled, or an address of no local interface."""
    try:
        with socket.socket(family(host), socket.SOCK_STREAM) as probe:
            probe.bind((host, 0))
    except OSError as exc:
        if exc.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT):
            return f"this machine has no address {host} to listen on ({exc.strerror})"
        raise
    return None
