"""Verdicts: what one test report says, and the terminal grid of them per (server, clause).

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


def render_grid(verdicts: dict[str, dict[str, str]]) -> list[str]:
    """Clauses down, servers across, short verdict names; then the totals."""
    servers = sorted(verdicts)
    seen = {clause for cells in verdicts.values() for clause in cells}
    clauses = [c for c in spec.load().clauses.values() if c.id in seen]
    width = max([7, *(len(s) for s in servers)])
    head = f"{'clause':<10} {'level':<6} " + " ".join(f"{s:>{width}}" for s in servers)
    lines = [head, "-" * len(head)]
    for clause in clauses:
        cells = (SHORT[verdicts[s].get(clause.id, "N/A")] for s in servers)
        lines.append(
            f"{clause.id:<10} {clause.level:<6} " + " ".join(f"{c:>{width}}" for c in cells)
        )
    lines.append("verdicts: " + ", ".join(f"{v} {n}" for v, n in totals(verdicts).items()))
    return lines


def totals(verdicts: dict[str, dict[str, str]]) -> dict[str, int]:
    """How many (server, clause) cells have each verdict, least severe first."""
    counts: dict[str, int] = defaultdict(int)
    for cells in verdicts.values():
        for verdict in cells.values():
            counts[verdict] += 1
    return {v: counts[v] for v in ORDER if counts[v]}
