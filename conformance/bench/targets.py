"""The servers a benchmark run measures: bundled implementations, baselines, and the user's.

Rule: a baseline that cannot run here (no compiler, no node, no uvloop) is still listed, with
the reason it was skipped, so a report never silently lacks a column.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from conformance.harness.server import ServerCommand
from conformance.native.build import BuildUnavailable, c_program, go_program

ROOT = Path(__file__).resolve().parents[2]
IMPLEMENTATIONS = ROOT / "implementations"
NODE_SERVER = ROOT / "examples" / "node-echo.js"  # the kit's Node example, which conforms
GO_SERVER = ROOT / "examples" / "go-echo"  # Go's net.Listener example, built with go build
SERVERS = Path(__file__).resolve().parent / "servers"
C_SOURCES = Path(__file__).resolve().parent / "c"  # built with gcc on first use
C_BASELINE = "c_epoll"


@dataclass(frozen=True)
class Target:
    name: str
    role: str  # "implementation", "baseline" or "custom"
    command: ServerCommand | None
    skipped: str = ""  # why it cannot run here, when command is None


def bundled(root: Path = IMPLEMENTATIONS) -> list[Target]:
    """Every implementations/*.py (not the seeds: they are known to be broken)."""
    files = sorted(p for p in root.glob("*.py") if not p.stem.startswith("_"))
    return [Target(p.stem, "implementation", ServerCommand.bundled(p)) for p in files]


def _announcing(name: str, *argv: str) -> ServerCommand:
    return ServerCommand(name, (*argv, "--host", "{host}", "--port", "{port}"), announces=True)


def c_built(name: str) -> Path:
    """The binary of ``c/<name>.c`` (BuildUnavailable when it cannot be built here)."""
    return c_program(C_SOURCES / f"{name}.c")


def c_baseline() -> Target:
    try:
        binary = c_built("epoll_echo_server")
    except BuildUnavailable as exc:
        return Target(C_BASELINE, "baseline", None, str(exc))
    return Target(C_BASELINE, "baseline", _announcing(C_BASELINE, str(binary)))


def uvloop_baseline() -> Target:
    if importlib.util.find_spec("uvloop") is None:
        return Target("uvloop", "baseline", None, "uvloop is not installed (pip install uvloop)")
    script = str(SERVERS / "uvloop_echo.py")
    return Target("uvloop", "baseline", _announcing("uvloop", sys.executable, script))


def node_baseline() -> Target:
    node = shutil.which("node")
    if node is None:
        return Target("node", "baseline", None, "node is not on PATH")
    if not NODE_SERVER.exists():
        return Target("node", "baseline", None, f"{NODE_SERVER} is missing")
    return Target("node", "baseline", _announcing("node", node, str(NODE_SERVER)))


def go_baseline() -> Target:
    try:
        binary = go_program(GO_SERVER)
    except BuildUnavailable as exc:
        return Target("go", "baseline", None, str(exc))
    # It prints no ready line: the harness picks its port and waits for the LISTEN socket.
    argv = (str(binary), "--host", "{host}", "--port", "{port}")
    return Target("go", "baseline", ServerCommand("go", argv))


def baselines() -> list[Target]:
    return [c_baseline(), uvloop_baseline(), node_baseline(), go_baseline()]


def custom(templates: list[str], names: list[str]) -> list[Target]:
    """One target per ``--server-cmd`` template, named by ``--name`` or numbered."""
    names = names + [f"server{i}" for i in range(len(names) + 1, len(templates) + 1)]
    return [
        Target(n, "custom", ServerCommand.from_template(n, t))
        for n, t in zip(names, templates, strict=True)
    ]
