"""FAULT-4: after any accept() error but EAGAIN, stops watching the listener for good.

Models "back off when accept() fails" with the resume forgotten (asyncio pauses accepting
for a second on EMFILE and the like, then resumes): the server keeps serving the connections
it has, but from the first ECONNABORTED, ENOBUFS or EMFILE on, no new client is accepted.
"""

from _base import EchoServer, run


class StopsAcceptingOnError(EchoServer):
    def on_accept_error(self, exc: OSError) -> None:
        if not isinstance(exc, BlockingIOError):
            self.selector.unregister(self.listener)  # the defect: never registered again


if __name__ == "__main__":
    run(StopsAcceptingOnError)
