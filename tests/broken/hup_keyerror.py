"""ABORT-4: the EPOLLHUP branch deletes the connection, then looks it up again: KeyError.

Models the seed epoll server's `del conns[fd]` followed by `conns[fd].getpeername()`. EPOLLIN
is tested first (as in the seed), so the branch runs only for HUP/ERR without IN, which the
suite's fault interposer produces; then the KeyError ends the server.
"""

from _epoll_base import EpollEchoServer, run_epoll


class HupKeyError(EpollEchoServer):
    def on_hangup(self, fd: int) -> None:
        self.epoll.unregister(fd)
        self.conns[fd].close()
        del self.conns[fd]
        # The defect: conns[fd] was just deleted, so this raises KeyError.
        print("client", self.conns[fd].getpeername(), "off line")


if __name__ == "__main__":
    run_epoll(HupKeyError)
