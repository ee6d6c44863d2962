"""What every bundled echo server shares, and nothing more.

The command line, the listening socket, the ready line and the exit on SIGTERM/SIGINT are
identical in every backend (the spec's START clauses); keeping them here lets a diff of two
backends show only how each one waits for readiness.
"""

from __future__ import annotations

import argparse
import signal
import socket
import sys
from types import FrameType


def parse_args(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 lets the kernel pick")
    return parser.parse_args()


def open_listener(host: str, port: int) -> socket.socket:
    """A non-blocking listening socket, announced on stdout once it listens.

    The family comes from the host (getaddrinfo): 127.0.0.1 gives an IPv4 socket, ::1 an IPv6
    one; an AF_INET socket cannot bind an IPv6 address at all.
    """
    family, _, _, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    listener = socket.socket(family, socket.SOCK_STREAM)
    # Without SO_REUSEADDR a restart fails with EADDRINUSE while the previous instance's
    # closed connections sit in TIME_WAIT (60 s on Linux): spec START-3.
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(address)
    # A small backlog overflows under a connect burst and clients wait for SYN retransmits
    # (1 s, 3 s, ...): spec ACCEPT-2.
    listener.listen(socket.SOMAXCONN)
    listener.setblocking(False)
    print(f"LISTENING {host} {listener.getsockname()[1]}", flush=True)
    return listener


def exit_on_signals() -> None:
    """SIGTERM and SIGINT end the process at once with status 0 (spec START-4, START-5).

    Raising SystemExit from the handler interrupts whatever the main thread is blocked in
    (select, poll, epoll.poll, accept): PEP 475 retries those calls only when the handler returns.
    """

    def leave(signum: int, frame: FrameType | None) -> None:
        sys.exit(0)

    signal.signal(signal.SIGTERM, leave)
    signal.signal(signal.SIGINT, leave)


def start(description: str) -> socket.socket:
    """The command line read, the signals set to exit, the listener announced: spec START."""
    args = parse_args(description)
    exit_on_signals()
    return open_listener(args.host, args.port)
