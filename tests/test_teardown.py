"""No server outlives the kit: not on Ctrl-C, not on a test timeout, not when the kit is killed.

Each test runs the suite in a child pytest whose environment carries a unique marker; every
server it starts inherits the marker, so /proc tells whether any of them survived.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from conformance.harness import procfs
from conformance.harness.waiting import wait_until

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "conformance" / "suite"
NEVER_READS = ROOT / "tests" / "broken" / "never_reads.py"

pytestmark = pytest.mark.timeout(60)


def marked_processes(marker: str) -> list[int]:
    """Pids whose environment carries ``marker`` (the child pytest and its servers)."""
    return [
        pid for pid, environ in procfs.read_each_process("environ") if marker.encode() in environ
    ]


def start_kit(marker: str, *args: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "pytest", str(SUITE), "-p", "no:xdist", "-q", *args]
    env = {**os.environ, "ECHO_KIT_TEST_MARKER": marker}
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def wait_for_a_server(kit: subprocess.Popen[bytes], marker: str) -> None:
    wait_until(
        lambda: [p for p in marked_processes(marker) if p != kit.pid], 20.0, "a server to start"
    )


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "kill"])
def test_no_server_survives_the_kit_being_stopped(signum: signal.Signals) -> None:
    marker = uuid.uuid4().hex
    kit = start_kit(marker, "-k", "selectors_echo and (burst or large_payload or reset)")
    try:
        wait_for_a_server(kit, marker)
        kit.send_signal(signum)
        kit.communicate(timeout=20)
        wait_until(lambda: not marked_processes(marker), 5.0, "every server to be gone")
    finally:
        kit.kill()
        kit.wait()


def test_no_server_survives_a_test_timeout() -> None:
    marker = uuid.uuid4().hex
    server_cmd = f"{sys.executable} {NEVER_READS} --host {{host}} --port {{port}}"
    kit = start_kit(marker, "--server-cmd", server_cmd, "--clause", "ECHO-4", "--timeout", "1")
    try:
        output, _ = kit.communicate(timeout=40)
    finally:
        kit.kill()
        kit.wait()
    assert b"Timeout" in output, output.decode(errors="replace")[-2000:]
    assert kit.returncode == 1
    assert not marked_processes(marker)
