"""RES-5: when accept() fails with EMFILE it gives up until the next wake-up, and spins.

Models `except OSError: return` around accept() ("try again later"): the client stays queued,
so the level-triggered listener is ready again at once, and the loop runs at 100 % of a core
until a descriptor is freed. It keeps serving, and recovers once clients close.
"""

from _base import EchoServer, run


class SpinsOnEmfile(EchoServer):
    def on_accept_error(self, exc: OSError) -> None:
        pass  # the defect: the queued client is neither accepted nor refused


if __name__ == "__main__":
    run(SpinsOnEmfile)
