"""The spec as data: clauses parsed from spec/echo-server.md, the only copy of their prose.

A clause heading is ``### AREA-N (MUST|SHOULD) Title``; its text runs to the next heading.
The document's ``Version:`` line is the spec version shown in the suite's header.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

# In the repository a link to spec/echo-server.md; in an installed package, a copy of it.
SPEC_PATH = (Path(__file__).parent / "echo-server.md").resolve()
HEADING = re.compile(r"^### ([A-Z]+-\d+) \((MUST|SHOULD)\) (.+)$")
VERSION = re.compile(r"^Version: (\S+)$", re.MULTILINE)


@dataclass(frozen=True)
class Clause:
    id: str
    level: str  # "MUST" or "SHOULD"
    title: str
    text: str

    @property
    def area(self) -> str:
        return self.id.split("-")[0]


@dataclass(frozen=True)
class Spec:
    version: str
    clauses: dict[str, Clause]

    def select(self, wanted: str) -> set[str]:
        """Clause ids named by ``wanted``: a comma list of ids (``ECHO-2``) or areas (``ECHO``).

        An unknown name raises ValueError listing the valid ones.
        """
        chosen: set[str] = set()
        for name in (n.strip().upper() for n in wanted.split(",") if n.strip()):
            matches = {cid for cid, c in self.clauses.items() if name in (cid, c.area)}
            if not matches:
                areas = sorted({c.area for c in self.clauses.values()})
                raise ValueError(
                    f"unknown clause or area {name!r}; areas: {', '.join(areas)}; "
                    f"clauses: {', '.join(self.clauses)}"
                )
            chosen |= matches
        return chosen


def parse(text: str) -> Spec:
    version = VERSION.search(text)
    if version is None:
        raise ValueError("the spec has no 'Version: X.Y.Z' line")
    clauses: dict[str, Clause] = {}
    current: tuple[str, str, str] | None = None
    body: list[str] = []

    def close_clause() -> None:
        if current is not None:
            cid, level, title = current
            if cid in clauses:
                raise ValueError(f"clause {cid} is defined twice")
            clauses[cid] = Clause(cid, level, title, "\n".join(body).strip())

    for line in text.splitlines():
        heading = HEADING.match(line)
        if heading or line.startswith("#"):
            close_clause()
            current = (heading[1], heading[2], heading[3]) if heading else None
            body = []
        elif current is not None:
            body.append(line)
    close_clause()
    return Spec(version.group(1), clauses)


@functools.cache
def load(path: Path = SPEC_PATH) -> Spec:
    return parse(path.read_text(encoding="utf-8"))
