"""Echo server with a thread per connection: blocking sockets, no readiness API at all.

Blocking sendall() is the backpressure: while a client does not read, its thread waits in
sendall() and does not recv() more, so memory stays at one chunk per connection.
"""

# Facts about threads and blocking sockets:
# - sendall() returns only when every byte is in the kernel; the partial-send bookkeeping the
#   multiplexing servers keep is done inside it. It raises on EPIPE/ECONNRESET.
# - Signals are delivered to the main thread only, so the accept loop lives there: SIGTERM's
#   handler raises SystemExit out of accept(). Daemon threads do not hold the exit back.
# - Each connection costs a thread (8 MiB of reserved stack, little of it touched); the limit is
#   threads and memory rather than FD_SETSIZE.
# - accept() failing with EMFILE leaves the client queued and the next accept() fails at once:
#   pause briefly instead of spinning until a connection closes and frees a descriptor.

import socket
import threading
import time

from _common import start

CHUNK = 64 * 1024  # most bytes taken from the kernel by one recv()
ACCEPT_RETRY = 0.1  # seconds to wait after accept() fails for want of resources


def serve_client(sock: socket.socket) -> None:
    """Echo until EOF, then close; any socket error ends the connection, never the server."""
    buffer = memoryview(bytearray(CHUNK))  # reused: no new bytes object per recv()
    with sock:
        try:
            while n := sock.recv_into(buffer):
                sock.sendall(buffer[:n])
        except OSError:  # ECONNRESET, EPIPE: the client is gone, and so are the bytes owed
            pass


def accept_clients(listener: socket.socket) -> None:
    listener.setblocking(True)  # open_listener() makes it non-blocking for the other servers
    while True:
        try:
            sock, _ = listener.accept()
        except ConnectionAbortedError:
            continue  # that client gave up while queued; the next one may be fine
        except OSError:  # EMFILE, ENFILE, ENOBUFS: waiting is what frees them
            time.sleep(ACCEPT_RETRY)
            continue
        try:
            threading.Thread(target=serve_client, args=(sock,), daemon=True).start()
        except RuntimeError:  # "can't start new thread": refuse this client, keep the rest
            sock.close()


def main() -> None:
    accept_clients(start("Echo server with a thread per connection."))


if __name__ == "__main__":
    main()
