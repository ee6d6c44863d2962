"""The fault interposer (conformance/native/faults.c) acts only in servers the kit launched,
and the kit tells the binaries it cannot reach (static ones) before it starts them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.native.build import BuildUnavailable
from conformance.native.faults import fault_env, interposer, static_binary

try:
    LIBRARY = interposer()
except BuildUnavailable as exc:  # CI has gcc; a machine without one says so
    pytest.skip(f"the interposer cannot be built: {exc}", allow_module_level=True)

# One TCP connection on loopback, and how many of 100 bytes one send() moved.
ONE_SEND = """
import socket
listener = socket.create_server(("127.0.0.1", 0))
client = socket.create_connection(listener.getsockname())
server, _ = listener.accept()
print(server.send(b"x" * 100))
"""


def _send_with_short_writes(env: dict[str, str], new_session: bool = False) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, "-c", ONE_SEND],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
        start_new_session=new_session,
    )
    return int(done.stdout), done.stderr


def test_in_a_process_the_kit_did_not_launch_it_is_inert_and_says_so(tmp_path: Path) -> None:
    env = fault_env("short_writes", tmp_path / "faults.log", LIBRARY)
    del env["ECHO_KIT_FAULT_KIT"]
    sent, said = _send_with_short_writes(env)
    assert sent == 100 and "not launched by the kit's harness" in said, said
    assert not (tmp_path / "faults.log").exists()


def test_in_the_kits_own_session_it_is_inert_and_says_so(tmp_path: Path) -> None:
    """LD_PRELOAD left in the kit's environment by mistake: the kit is never interposed."""
    env = fault_env("short_writes", tmp_path / "faults.log", LIBRARY)  # names this pid
    sent, said = _send_with_short_writes(env)
    assert sent == 100 and "loaded into the kit itself" in said, said
    assert not (tmp_path / "faults.log").exists()


def test_in_a_session_of_its_own_it_injects_and_logs(tmp_path: Path) -> None:
    """The control: launched as the harness launches servers, the same call is cut short."""
    env = fault_env("short_writes", tmp_path / "faults.log", LIBRARY)
    sent, said = _send_with_short_writes(env, new_session=True)
    assert 1 <= sent <= 7, said
    assert " short_write send " in (tmp_path / "faults.log").read_text()


def test_static_binaries_are_told_apart(tmp_path: Path) -> None:
    assert not static_binary(sys.executable)
    assert not static_binary(str(Path(__file__)))  # not ELF: the log will tell
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("no gcc to build a static program")
    source = tmp_path / "static.c"
    source.write_text("int main(void) { return 0; }\n")
    built = subprocess.run(
        [gcc, "-static", "-o", str(tmp_path / "static"), str(source)], capture_output=True
    )
    if built.returncode != 0:
        pytest.skip(f"no static libc to link with: {built.stderr[-200:]!r}")
    assert static_binary(str(tmp_path / "static"))
