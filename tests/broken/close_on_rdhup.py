"""CLOSE-2: asks for EPOLLRDHUP and closes as soon as it is reported, before reading.

Models "RDHUP means the client is gone": the data that arrived just before the client's FIN
(reported in the same event) is never read, and the client gets EOF without its echo.
"""

import select

from _epoll_base import EpollEchoServer, run_epoll


class CloseOnRdhup(EpollEchoServer):
    interest = select.EPOLLIN | select.EPOLLRDHUP

    def on_event(self, fd: int, event: int) -> None:
        if event & select.EPOLLRDHUP:
            self.close(fd)  # the defect: the data sent before the FIN is still unread
        else:
            super().on_event(fd, event)


if __name__ == "__main__":
    run_epoll(CloseOnRdhup)
