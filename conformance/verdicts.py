"""Verdicts per (server, clause), folded from test reports, and the grid that shows them.

A clause's verdict is its worst test's: one failing test fails the clause. N/A counts only
when every test of the clause was N/A.
"""

from __future__ import annotations

from collections import defaultdict

import pytest

from conformance import spec

NON_STRICT = "NON-STRICT"  # the verdict, and the prefix of a failed SHOULD test's reason

# Least to most severe.
ORDER = ("N/A", "PASS", "XFAIL", "NON-STRICT", "XPASS-STRICT", "TIMEOUT", "FAIL", "CRASH", "ERROR")
SHORT = {
    "N/A": "n/a",
    "PASS": "pass",
    "XFAIL": "xfail",
    "NON-STRICT": "ns",
    "XPASS-STRICT": "XPASS",
    "TIMEOUT": "TIMEOUT",
    "FAIL": "FAIL",
    "CRASH": "CRASH",
    "ERROR": "ERROR",
}


def verdict_of(report: pytest.TestReport) -> str | None:
    """The verdict a report gives, or None for a phase that says nothing (a passed setup)."""
    props = dict(report.user_properties)
    if report.when != "call" and not report.failed and not report.skipped:
        return None
    if report.skipped:
        reason = getattr(report, "wasxfail", None)
        if reason is None:
            return "N/A"
        return NON_STRICT if reason.startswith(NON_STRICT) else "XFAIL"
    if report.failed:
        if report.when != "call":
            return "ERROR"
        if "crashed" in props:
            return "CRASH"
        text = report.longreprtext
        if "[XPASS(strict)]" in text:
            return "XPASS-STRICT"
        if "Failed: Timeout" in text:
            return "TIMEOUT"
        return "ERROR" if "harness error" in props else "FAIL"
    return "PASS"


class Grid:
    def __init__(self) -> None:
        self.cells: dict[tuple[str, str], str] = {}  # (server, clause) -> worst verdict

    def add(self, report: pytest.TestReport) -> None:
        props = dict(report.user_properties)
        verdict = verdict_of(report)
        if verdict is None or "clause" not in props:
            return
        key = (str(props["server"]), str(props["clause"]))
        old = self.cells.get(key)
        if old is None or ORDER.index(verdict) > ORDER.index(old):
            self.cells[key] = verdict

    def as_dict(self) -> dict[str, dict[str, str]]:
        """{server: {clause: verdict}}."""
        found: dict[str, dict[str, str]] = defaultdict(dict)
        for (server, clause), verdict in self.cells.items():
            found[server][clause] = verdict
        return dict(found)

    def render(self) -> list[str]:
        clauses = [c for c in spec.load().clauses.values() if any(k[1] == c.id for k in self.cells)]
        servers = sorted({server for server, _ in self.cells})
        width = max([7, *(len(s) for s in servers)])
        head = f"{'clause':<10} {'level':<6} " + " ".join(f"{s:>{width}}" for s in servers)
        lines = [head, "-" * len(head)]
        for clause in clauses:
            cells = (SHORT[self.cells.get((s, clause.id), "N/A")] for s in servers)
            row = f"{clause.id:<10} {clause.level:<6} " + " ".join(f"{c:>{width}}" for c in cells)
            lines.append(row)
        totals: dict[str, int] = defaultdict(int)
        for verdict in self.cells.values():
            totals[verdict] += 1
        lines.append("verdicts: " + ", ".join(f"{v} {totals[v]}" for v in ORDER if totals[v]))
        return lines
