"""The documented grid (``expected.toml``) and where a run's verdicts leave it.

Rule: a cell not listed is expected to PASS; a listed cell names its verdict, or the list of
verdicts it varies between (INTEROP.md says how often, and why). Only the servers and clauses
that ran are compared: a server not installed here, or a ``--clause`` selection, is no
difference.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

Grid = dict[str, dict[str, str]]  # {server: {clause: verdict}}
Expected = dict[str, dict[str, frozenset[str]]]  # {server: {clause: verdicts allowed}}


def load(path: Path) -> Expected:
    document = tomllib.loads(path.read_text())
    return {
        server: {
            clause: frozenset([allowed] if isinstance(allowed, str) else allowed)
            for clause, allowed in cells.items()
        }
        for server, cells in document.items()
    }


def differences(expected: Expected, grid: Grid) -> list[str]:
    """One line per cell whose verdict is not one INTEROP.md documents."""
    found = []
    for server, cells in sorted(grid.items()):
        documented = expected.get(server, {})
        for clause, verdict in sorted(cells.items()):
            allowed = documented.get(clause, frozenset({"PASS"}))
            if verdict not in allowed:
                found.append(
                    f"{server} {clause}: {verdict}, documented {'/'.join(sorted(allowed))}"
                )
    return found
