"""It daemonizes: forks, the parent exits 0, the child calls setsid() and serves.

What many Unix daemons do unless given a -f/--foreground flag. The child leaves the process
group the kit started; the kit must say so, and leave none of it running.
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "broken"))

from _base import EchoServer, run

if __name__ == "__main__":
    if os.fork():
        os._exit(0)
    os.setsid()
    print(f"daemon pid {os.getpid()}", flush=True)
    run(EchoServer)
