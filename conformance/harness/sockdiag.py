"""One TCP connection's kernel state, looked up by its addresses over NETLINK_SOCK_DIAG.

/proc/net/tcp holds the same numbers, but reading it walks the whole connection hash table
(3-4 ms here, per file), too slow to consult after every 16 KiB. A sock_diag request that
names both ends is a single hash lookup (what `ss` does for one socket), needs no privilege,
and, like /proc, asks nothing of the server.
"""

from __future__ import annotations

import errno
import socket
import struct
from typing import NamedTuple

from conformance.harness.addresses import family, wildcard

SOCK_DIAG_BY_FAMILY = 20
NLMSG_ERROR = 2
NLM_F_REQUEST = 1
NETLINK_SOCK_DIAG = 4  # not exported by the socket module
NO_COOKIE = 0xFFFFFFFF  # INET_DIAG_NOCOOKIE: match by addresses alone

_NLMSGHDR = struct.Struct("=IHHII")
# inet_diag_req_v2: family, protocol, extensions, pad, states, then inet_diag_sockid
# (ports and addresses in network order, interface and cookie in host order).
_REQUEST = struct.Struct("=BBBxI")
_SOCKID = struct.Struct("!HH16s16s")
_SOCKID_TAIL = struct.Struct("=III")
# inet_diag_msg: family, state, timer, retrans, inet_diag_sockid, expires, rqueue, wqueue, ...
_REPLY_HEAD = struct.Struct("=BBBB")
_REPLY_QUEUES = struct.Struct("=III")
_REPLY_QUEUES_AT = _REPLY_HEAD.size + _SOCKID.size + _SOCKID_TAIL.size


class TcpState(NamedTuple):
    state: int  # TCP_ESTABLISHED = 1, TCP_CLOSE_WAIT = 8, ... (include/net/tcp_states.h)
    rx_queue: int  # bytes not yet read by the owner (a FIN not yet read counts as one)
    tx_queue: int  # bytes written by the owner, not yet acknowledged by the peer


TCP_CLOSE_WAIT = 8
TCP_LISTEN = 10


def _sockid(local: tuple[str, int], remote: tuple[str, int]) -> bytes:
    def packed(host: str) -> bytes:
        return socket.inet_pton(family(host), host).ljust(16, b"\0")

    return _SOCKID.pack(
        local[1], remote[1], packed(local[0]), packed(remote[0])
    ) + _SOCKID_TAIL.pack(0, NO_COOKIE, NO_COOKIE)


def tcp_connection(local: tuple[str, int], remote: tuple[str, int]) -> TcpState | None:
    """The socket bound to ``local`` and connected to ``remote``; None if there is none."""
    request = _REQUEST.pack(family(local[0]), socket.IPPROTO_TCP, 0, 0xFFFFFFFF)
    body = request + _sockid(local, remote)
    header = _NLMSGHDR.pack(_NLMSGHDR.size + len(body), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST, 1, 0)
    with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG) as nl:
        nl.send(header + body)
        reply = nl.recv(8192)
    _, kind, _, _, _ = _NLMSGHDR.unpack_from(reply)
    if kind == NLMSG_ERROR:
        (code,) = struct.unpack_from("=i", reply, _NLMSGHDR.size)
        if -code == errno.ENOENT:
            return None
        raise OSError(-code, f"sock_diag lookup of {local} -> {remote}: {errno.errorcode[-code]}")
    _, state, _, _ = _REPLY_HEAD.unpack_from(reply, _NLMSGHDR.size)
    _, rx_queue, tx_queue = _REPLY_QUEUES.unpack_from(reply, _NLMSGHDR.size + _REPLY_QUEUES_AT)
    return TcpState(state, rx_queue, tx_queue)


def accept_queue_length(address: tuple[str, int]) -> int | None:
    """Connections completed for the listener on ``address`` and not yet accept()ed; None if
    nothing listens there.

    Asked from no peer in particular (0.0.0.0:0, or [::]:0), the lookup finds the listener, for
    which the kernel reports its accept queue as the receive queue. /proc/net/tcp has it too, but
    reading that costs milliseconds per thousand sockets, and TIME_WAIT sockets pile up by
    thousands.
    """
    found = tcp_connection(address, (wildcard(address[0]), 0))
    return found.rx_queue if found and found.state == TCP_LISTEN else None
