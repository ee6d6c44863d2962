"""MUX-2: it goes on reading from a client that does not read its echo, so the echo piles up
in its memory without limit.

Models an asyncio Protocol whose data_received() calls transport.write() with no flow control
(no pause_writing() that pauses reading), or any loop that reads whenever a socket is readable:
a client that sends and never reads makes the server hold everything it sent.
"""

from _base import EchoServer, run


class UnboundedBuffer(EchoServer):
    high_water = None  # the defect: a connection is read from however much it is owed


if __name__ == "__main__":
    run(UnboundedBuffer)
