"""``python -m interop.runs DIR...``: the grid of several matrix runs, with what varied.

Prints INTEROP.md's grid (a cell that was not the same in every run shows each verdict with
how many runs gave it, e.g. ``FAIL 2/3, PASS 1/3``) and the ``expected.toml`` that documents
it (such a cell lists every verdict seen). Each DIR holds one run's report.json.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from conformance import spec


def cells(reports: list[Path]) -> dict[str, dict[str, Counter[str]]]:
    """{server: {clause: how many runs gave each verdict}}."""
    seen: dict[str, dict[str, Counter[str]]] = {}
    for report in reports:
        verdicts = json.loads((report / "report.json").read_text())["verdicts"]
        for server, row in verdicts.items():
            for clause, verdict in row.items():
                seen.setdefault(server, {}).setdefault(clause, Counter())[verdict] += 1
    return seen


def _cell(counts: Counter[str], runs: int) -> str:
    if len(counts) == 1:
        return next(iter(counts))
    return ", ".join(f"{v} {n}/{runs}" for v, n in counts.most_common())


def grid(seen: dict[str, dict[str, Counter[str]]], runs: int) -> list[str]:
    servers = sorted(seen)
    lines = ["| clause | " + " | ".join(servers) + " |", "|---" * (len(servers) + 1) + "|"]
    for clause in spec.load().clauses:
        row = [_cell(seen[s][clause], runs) if clause in seen[s] else "" for s in servers]
        if any(row):
            lines.append(f"| {clause} | " + " | ".join(row) + " |")
    return lines


def documented(seen: dict[str, dict[str, Counter[str]]]) -> list[str]:
    lines = []
    for server in sorted(seen):
        odd = {c: sorted(n) for c, n in seen[server].items() if set(n) != {"PASS"}}
        if odd:
            lines.append(f"\n[{server}]")
        for clause in spec.load().clauses:
            if clause in odd:
                verdicts = odd[clause]
                value = f'"{verdicts[0]}"' if len(verdicts) == 1 else json.dumps(verdicts)
                lines.append(f'"{clause}" = {value}')
    return lines


def main(argv: list[str]) -> int:
    reports = [Path(a) for a in argv]
    if not reports:
        print(__doc__, file=sys.stderr)
        return 2
    seen = cells(reports)
    print("\n".join(grid(seen, len(reports))))
    print("\n# expected.toml\n" + "\n".join(documented(seen)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
