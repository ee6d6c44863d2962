"""RES-3: selects with timeout 0, so the idle server spins at 100 % of a core.

Models `select(..., 0)` / `epoll.poll(0)` used as "non-blocking" polling: every answer is
right, and the CPU never rests.
"""

from _base import EchoServer, run


class BusyPoll(EchoServer):
    select_timeout = 0  # the defect: None (block until ready) is right


if __name__ == "__main__":
    run(BusyPoll)
