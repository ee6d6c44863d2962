"""The fault interposer (faults.c) as the kit sees it: built on first use, put into a server's
environment, and read back from its log.

Rules this module keeps:
- The configuration format is documented once, in the spec ("The fault interposer", before
  the FAULT clauses); this module only writes it (ECHO_KIT_FAULTS, ECHO_KIT_FAULT_LOG) and adds
  ECHO_KIT_FAULT_KIT, the kit's pid, without which the interposer stays inert: it acts only in
  a process outside the kit's session, and the harness starts every server in a new session.
- A server that cannot be interposed is N/A with the reason, decided before it starts where
  that is possible: no C compiler to build the library, a statically linked binary (no
  PT_INTERP program header: no dynamic loader, so LD_PRELOAD is never read).
- A fault that never fired proves nothing: the tests ask the log what was injected and say
  N/A, never PASS, when their fault is not there.
"""

from __future__ import annotations

import os
import shutil
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from conformance.harness.waiting import DeadlineExceeded, wait_until
from conformance.native.build import BuildUnavailable, c_program

if TYPE_CHECKING:
    from conformance.harness.server import ServerProcess
    from conformance.plugin import Launcher

SOURCE = Path(__file__).resolve().parent / "faults.c"
ELF_MAGIC = b"\x7fELF"
PT_INTERP = 3
# The wait calls that can report a hang-up (select() has no hang-up bit).
HANGUP_WAITS = frozenset({"epoll_wait", "epoll_pwait", "epoll_pwait2", "poll", "ppoll"})


def interposer() -> Path:
    """The shared library, built from faults.c with the machine's C compiler if not cached."""
    return c_program(SOURCE, library=True)


def fault_env(faults: str, log: Path, library: Path) -> dict[str, str]:
    """The environment that loads the interposer into a server, configured with ``faults``."""
    preload = " ".join(filter(None, [str(library), os.environ.get("LD_PRELOAD", "")]))
    return {
        "LD_PRELOAD": preload,
        "ECHO_KIT_FAULTS": faults,
        "ECHO_KIT_FAULT_LOG": str(log),
        "ECHO_KIT_FAULT_KIT": str(os.getpid()),
    }


def static_binary(program: str) -> bool:
    """Whether ``program`` (a path or a name on PATH) is an ELF file with no PT_INTERP header:
    linked statically, so no dynamic loader runs and LD_PRELOAD is ignored. Scripts and
    programs not found are not (the log will tell whether anything was interposed)."""
    path = shutil.which(program)
    if path is None:
        return False
    with open(path, "rb") as f:
        header = f.read(64)
        if len(header) < 64 or header[:4] != ELF_MAGIC:
            return False
        wide, endian = header[4] == 2, "<" if header[5] == 1 else ">"
        if wide:
            (phoff,) = struct.unpack_from(endian + "Q", header, 32)
            phentsize, phnum = struct.unpack_from(endian + "HH", header, 54)
        else:
            (phoff,) = struct.unpack_from(endian + "I", header, 28)
            phentsize, phnum = struct.unpack_from(endian + "HH", header, 42)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    types = [struct.unpack_from(endian + "I", table, i * phentsize)[0] for i in range(phnum)]
    return PT_INTERP not in types


@dataclass(frozen=True)
class FaultLog:
    """What the interposer logged: lines ``<pid> <kind> <call> ...`` (see faults.c)."""

    path: Path

    def lines(self, kind: str) -> list[list[str]]:
        try:
            text = self.path.read_text(errors="replace")
        except FileNotFoundError:
            return []
        return [words for words in map(str.split, text.splitlines()) if words[1:2] == [kind]]

    def count(self, kind: str) -> int:
        return len(self.lines(kind))

    def waits(self) -> set[str]:
        """The wait calls the server's processes made (the first of each process)."""
        return {words[2] for words in self.lines("wait") if len(words) > 2}

    def injected(self, kind: str, at_least: int = 1, timeout: float = 2.0) -> bool:
        """Wait up to ``timeout`` for ``at_least`` injections of ``kind`` to be logged."""
        try:
            wait_until(lambda: self.count(kind) >= at_least, timeout, f"{kind} injections")
        except DeadlineExceeded:
            return False
        return True

    def require(self, kind: str, what: str, at_least: int = 1, timeout: float = 2.0) -> None:
        """N/A unless ``kind`` was injected: the fault never reached the server."""
        if not self.injected(kind, at_least, timeout):
            waits = ", ".join(sorted(self.waits())) or "none"
            pytest.skip(
                f"N/A: the interposer never injected {what} (logged {self.count(kind)} of "
                f"{at_least}; wait calls seen: {waits})"
            )


def launch_with_faults(launch: Launcher, faults: str, log: Path) -> tuple[ServerProcess, FaultLog]:
    """A fresh server with the interposer configured with ``faults``, or N/A with the reason."""
    argv = launch.command.argv
    if argv and static_binary(argv[0]):
        pytest.skip(f"N/A: {argv[0]} is linked statically (no dynamic loader reads LD_PRELOAD)")
    try:
        library = interposer()
    except BuildUnavailable as exc:
        pytest.skip(f"N/A: the fault interposer cannot be built here: {exc}")
    server = launch(env=fault_env(faults, log, library))
    return server, FaultLog(log)
