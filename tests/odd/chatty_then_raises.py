"""It raises on the first bytes it receives, then logs 2000 lines on its way out.

The traceback is written first and the chatter after it (an atexit handler here; a C server's
block-buffered stdout flushed by exit() after its error went to stderr does the same), so the
log's last lines are chatter. The kit must still show the traceback in the CRASH evidence.
"""

import atexit
import socket
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "broken"))

from _base import EchoServer, run

CHATTER_LINES = 2000


def say_goodbye() -> None:
    for i in range(CHATTER_LINES):
        print(f"debug: chatter line {i}, releasing what the server held")


class ChattyThenRaises(EchoServer):
    def on_data(self, conn: socket.socket, data: bytes) -> None:
        raise RuntimeError("chatty server gives up")


if __name__ == "__main__":
    atexit.register(say_goodbye)
    run(ChattyThenRaises)
