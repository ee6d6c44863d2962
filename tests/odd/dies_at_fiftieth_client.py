"""It raises when it accepts its 50th connection: a crash in ACCEPT-2's burst, a SHOULD clause.

Models a server with a fixed-size connection table indexed without a bounds check. A crash is
CRASH whatever the level of the clause that provoked it (README "Reading the report").
"""

import socket
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "broken"))

from _base import EchoServer, run

TABLE_SIZE = 49


class DiesAtFiftiethClient(EchoServer):
    accepted = 0

    def on_accept(self, conn: socket.socket) -> None:
        self.accepted += 1
        if self.accepted > TABLE_SIZE:
            raise IndexError(f"connection table full: client {self.accepted}")


if __name__ == "__main__":
    run(DiesAtFiftiethClient)
