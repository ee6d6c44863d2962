"""ABORT-5: the EPOLLHUP/EPOLLERR branch only unregisters the fd and never closes it.

Models a hang-up branch written as "stop watching it" alone: the server survives, but every
connection that ends there leaks its socket (still referenced in `conns`, so GC cannot close
it). EPOLLIN is tested first, so only the suite's fault interposer (hup=always) reaches the branch.
"""

from _epoll_base import EpollEchoServer, run_epoll


class HupIgnored(EpollEchoServer):
    def on_hangup(self, fd: int) -> None:
        # The defect: no close(), and conns[fd] keeps the socket alive.
        self.epoll.unregister(fd)
        del self.out[fd]


if __name__ == "__main__":
    run_epoll(HupIgnored)
