"""ABORT-3: recv() errors are handled but send() errors are not; SIGPIPE is back at SIG_DFL.

Models a server that guards only its read path. A client that stops reading while echo is owed,
then resets, makes send() raise ConnectionResetError (first) or BrokenPipeError (after); with
SIGPIPE restored to its default, the EPIPE case kills the process by signal, as in C.
"""

import signal
import socket

from _base import EchoServer, exit_on_signals, run


class DiesOnSendError(EchoServer):
    @staticmethod
    def install_signal_handlers() -> None:
        exit_on_signals()
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # Python's own default is SIG_IGN

    def on_send_error(self, conn: socket.socket, exc: OSError) -> None:
        raise exc  # the defect


if __name__ == "__main__":
    run(DiesOnSendError)
