"""Known failures as data: which tests a server is expected to fail, with the reason.

A file holds one table per server (keyed by its id, the file stem) mapping a test name to
``{ clause = "ID", why = "..." }``. They are applied as strict expected failures: an expected
failure that starts passing fails the run, so a fixed bug forces an update of the file. An entry
naming a test that does not exist is caught by the kit's meta-tests (tests/test_meta.py).
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path

FILE_NAME = "expectations.toml"


@dataclass(frozen=True)
class Expectation:
    server: str
    test: str
    clause: str
    why: str


def load(path: Path) -> dict[tuple[str, str], Expectation]:
    """(server, test name) -> Expectation; a ValueError names the file and entry at fault."""
    with open(path, "rb") as f:
        data = tomllib.load(f)
    found = {}
    for server, tests in data.items():
        for test, entry in tests.items():
            where = f"{path}: [{server}] {test}"
            if not isinstance(entry, dict) or set(entry) != {"clause", "why"}:
                raise ValueError(f'{where}: expected {{ clause = "ID", why = "..." }}')
            if not str(entry["why"]).strip():
                raise ValueError(f"{where}: 'why' must say why the server fails")
            found[server, test] = Expectation(server, test, entry["clause"], entry["why"])
    return found


def beside(server_file: Path) -> dict[tuple[str, str], Expectation]:
    """The expectations file next to a bundled server, if there is one."""
    path = server_file.parent / FILE_NAME
    return load(path) if path.exists() else {}


def dump(entries: list[Expectation]) -> str:
    """A file ``load`` reads back: one table per server, one line per test."""
    lines = ["# Known failures, written by --update-baseline; edit the reasons as you like.", ""]
    for server in sorted({e.server for e in entries}):
        lines.append(f"[{json.dumps(server)}]")
        for e in sorted((e for e in entries if e.server == server), key=lambda e: e.test):
            lines.append(
                f"{e.test} = {{ clause = {json.dumps(e.clause)}, why = {json.dumps(e.why)} }}"
            )
        lines.append("")
    return "\n".join(lines)
