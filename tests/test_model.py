"""The MODEL-1 state machine catches a defect only it reaches, and its replay script, run on
its own, reproduces the failure and passes a correct server."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conformance.exploration import model
from conformance.harness.client import ClientError
from conformance.harness.server import ServerCommand, ServerProcess

ROOT = Path(__file__).resolve().parents[1]
BROKEN = ROOT / "tests" / "broken" / "stale_buffer_on_fd_reuse.py"
REFERENCE = ROOT / "implementations" / "selectors_echo.py"

pytestmark = pytest.mark.timeout(180)

Start = Callable[[Path], ServerProcess]


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Start]:
    """Starts bundled servers by file; stops them all at teardown."""
    started: list[ServerProcess] = []

    def start(path: Path) -> ServerProcess:
        log = tmp_path / f"{path.stem}-{len(started)}.log"
        started.append(ServerProcess(ServerCommand.bundled(path), log))
        return started[-1].start()

    yield start
    for server in started:
        server.stop()


def replay(script: Path, server: ServerProcess) -> subprocess.CompletedProcess[str]:
    """The script as a backend author runs it; -I -S: no site-packages, so no kit."""
    command = [sys.executable, "-I", "-S", str(script), "--port", str(server.port)]
    command += ["--pid", str(server.pid)]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=120, cwd=script.parent, check=False
    )


def test_replay_script_reproduces_the_failure_and_passes_a_correct_server(
    start: Start, tmp_path: Path
) -> None:
    with pytest.raises(ClientError, match=r"Replay: \S+ (\S+\.py) --host") as caught:
        model.explore(start(BROKEN), tmp_path)
    found = re.search(r"Replay: \S+ (\S+\.py) --host", str(caught.value))
    assert found, str(caught.value)
    script = Path(found.group(1))
    failing = replay(script, start(BROKEN))
    assert failing.returncode == 1, failing.stdout[-2000:] + failing.stderr[-2000:]
    assert "FAILED at step" in failing.stderr, failing.stderr[-2000:]
    passing = replay(script, start(REFERENCE))
    assert passing.returncode == 0, passing.stdout[-2000:] + passing.stderr[-2000:]
    assert "every step kept to the echo model" in passing.stdout
