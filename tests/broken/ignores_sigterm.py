"""START-4: SIGTERM is ignored (SIG_IGN); only SIGKILL ends the server.

Models a daemon that masks SIGTERM (or inherits SIG_IGN from its parent and never resets it),
so a service manager's stop times out.
"""

import signal

from _base import EchoServer, exit_on_signals, run


class IgnoresSigterm(EchoServer):
    @staticmethod
    def install_signal_handlers() -> None:
        exit_on_signals()
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the defect


if __name__ == "__main__":
    run(IgnoresSigterm)
