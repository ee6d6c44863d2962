"""It logs 100 KiB to stdout, then raises on the first bytes it receives.

stdout to a file is block-buffered and stderr is not: the traceback reaches the log first, the
buffered lines are flushed after it at exit, so the log's last lines are chatter. The kit must
still show the traceback in the CRASH evidence.
"""

import socket
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "broken"))

from _base import EchoServer, run

CHATTER_LINES = 2000


class ChattyThenRaises(EchoServer):
    def on_data(self, conn: socket.socket, data: bytes) -> None:
        for i in range(CHATTER_LINES):
            print(f"debug: chatter line {i} about the {len(data)} bytes received")
        raise RuntimeError("chatty server gives up")


if __name__ == "__main__":
    run(ChattyThenRaises)
