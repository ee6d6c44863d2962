"""START-5: a catch-all around each loop iteration swallows KeyboardInterrupt: Ctrl-C is lost.

Models the "keep the server alive whatever happens" loop (`except BaseException: pass`, or a
bare `except:`). It installs no SIGINT handler: Python's default raises KeyboardInterrupt, which
the catch-all eats. SIGTERM still ends it at once (os._exit, since a SystemExit raised by a
handler would be eaten too), so START-4 keeps passing.
"""

import os
import signal

from _base import EchoServer, run


class SwallowsSigint(EchoServer):
    @staticmethod
    def install_signal_handlers() -> None:
        signal.signal(signal.SIGTERM, lambda signum, frame: os._exit(0))

    def serve_forever(self) -> None:
        while True:
            try:  # noqa: SIM105 - written the way the bug is written in the wild
                self.step()
            # The defect: KeyboardInterrupt is a BaseException.
            except BaseException:
                pass


if __name__ == "__main__":
    run(SwallowsSigint)
