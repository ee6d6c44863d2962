"""Baseline: the bundled asyncio server unchanged, on uvloop's event loop instead of asyncio's.

The ratio of the two isolates what the event loop costs: the protocol code is the same.
"""

import runpy
import sys
from pathlib import Path

import uvloop

SERVER = Path(__file__).resolve().parents[3] / "implementations" / "asyncio_echo.py"

sys.path.insert(0, str(SERVER.parent))  # where asyncio_echo finds _common and _connection
uvloop.install()
runpy.run_path(str(SERVER), run_name="__main__")
