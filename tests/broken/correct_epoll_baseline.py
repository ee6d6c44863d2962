"""The raw-epoll base unmodified: it must pass every clause, ABORT-4/5 through the
fault interposer too."""

from _epoll_base import EpollEchoServer, run_epoll

if __name__ == "__main__":
    run_epoll(EpollEchoServer)
