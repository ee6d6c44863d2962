"""Echo server on asyncio: a BufferedProtocol whose reading follows the transport's flow control.

The event loop owns readiness, partial sends and the write buffer; the protocol only decides
when to stop reading (pause_writing) and when to start again (resume_writing).
"""

# Facts about asyncio:
# - transport.write() never blocks and never refuses: what the socket does not take is queued
#   without limit. Only pause_writing()/resume_writing(), called when that queue crosses the
#   high/low water marks, let a protocol stop a client that never reads from filling memory.
# - BufferedProtocol lets the protocol supply the receive buffer (recv_into), which is how the
#   read size is capped; Protocol.data_received gets whatever a 256 KiB recv() returned.
# - eof_received() returning a false value closes the transport, and close() first flushes what
#   is queued: a half-closed client still gets all its echo, then EOF.
# - ECONNRESET and EPIPE end the transport quietly (connection_lost(exc)); the loop goes on.
# - create_server() is not used: it re-listens with backlog 100, and on EMFILE its accept loop
#   (3.11) schedules a retry per failed accept() of the batch, so retries multiply (measured:
#   30 % CPU and a flood of log lines at the fd limit). The accept loop here is the one the
#   other servers use; connect_accepted_socket() wraps each client in a transport.

import asyncio
import signal
import socket
from typing import cast

from _common import open_listener, parse_args
from _connection import CHUNK, HIGH_WATER, accept_all

starting: set[asyncio.Task[tuple[asyncio.Transport, asyncio.BaseProtocol]]] = set()


class EchoProtocol(asyncio.BufferedProtocol):
    """One client: the transport holds the bytes owed; this only paces the reading."""

    def __init__(self) -> None:
        self.inbuf = bytearray(CHUNK)
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A cast, not an isinstance check: uvloop's transports do not subclass asyncio's.
        self.transport = cast(asyncio.Transport, transport)
        self.transport.set_write_buffer_limits(high=HIGH_WATER)  # low defaults to high / 4

    def get_buffer(self, sizehint: int) -> bytearray:
        return self.inbuf

    def buffer_updated(self, nbytes: int) -> None:
        assert self.transport is not None
        self.transport.write(self.inbuf[:nbytes])  # a copy: inbuf is reused by the next read

    def eof_received(self) -> bool:
        return False  # close, after the transport has flushed what is owed

    def pause_writing(self) -> None:
        assert self.transport is not None
        self.transport.pause_reading()  # the client is not reading: neither do we

    def resume_writing(self) -> None:
        assert self.transport is not None
        self.transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


def accept_clients(loop: asyncio.AbstractEventLoop, listener: socket.socket) -> None:
    for sock in accept_all(listener):
        task = loop.create_task(loop.connect_accepted_socket(EchoProtocol, sock))
        starting.add(task)  # the loop holds tasks weakly
        task.add_done_callback(starting.discard)


async def serve(host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    listener = open_listener(host, port)
    loop.add_reader(listener, accept_clients, loop, listener)
    await stop.wait()
    # The process exit closes the connections, and the clients see EOF or a reset.
    loop.remove_reader(listener)


def main() -> None:
    args = parse_args("Echo server on asyncio with flow control.")
    asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
