"""The conformance report as data: one result per test, folded into verdicts per clause.

Rules this module keeps:
- Everything a server sent or logged is untrusted: it is kept as text, capped at EVIDENCE_CAP
  characters per item, with control characters shown as escapes; renderers escape it again
  for their format.
- The JSON document is the report; Markdown, HTML and JUnit are views of it (html.py). Its
  shape is documented in ``REPORT_SCHEMA`` below and versioned by ``schema``.
- A document says where it came from: ``runs`` holds one entry per run (one for a run, one per
  source for a merged report, merge.py), and every server under test is in exactly one run's
  ``servers``, with the command it was started by.
"""

from __future__ import annotations

import json
import platform
import re
import socket
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from conformance import __version__, spec
from conformance.reports.verdicts import ORDER, totals, verdict_of

SCHEMA = 2
EVIDENCE_CAP = 4000
CRASH_EVIDENCE = "crash evidence"  # the report section with the last traceback in the log
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")

REPORT_SCHEMA = """\
{
  "schema": 2,
  "kit_version": "0.1.0", "spec_version": "1.1.0",
  "runs": [{"directory": "/abs/path/of/the/report/dir", "host": "ci-runner-7",
            "started": "2026-01-31T12:00:00+00:00", "finished": "2026-01-31T12:02:10+00:00",
            "kit_version": "0.1.0",
            "environment": {"python": "...", "platform": "...", "kernel": "..."},
            "servers": {"<server>": "how it was started: its command, or running at HOST:PORT"},
            "problems": ["dead baseline entry [server] test: ...", ...],
            "source": "reports-node (merged reports only: the REPORT_DIR it was read from)"}],
  "servers": ["asyncio_echo", ...],
  "clauses": [{"id": "ECHO-2", "level": "MUST", "title": "...", "text": "...",
               "tests": ["test_binary_bytes_come_back_unchanged", ...]}],
  "verdicts": {"<server>": {"<clause id>": "PASS|FAIL|NON-STRICT|XFAIL|XPASS-STRICT|N/A|
                                          CRASH|TIMEOUT|ERROR"}},
  "results": [{"server": "...", "clause": "...", "test": "...", "nodeid": "...",
               "verdict": "...", "duration": 0.12, "reason": "...", "evidence": "...",
               "log": "...", "crash": "..."}],
  "totals": {"PASS": 190, ...}
}"""


def untrusted(text: str, cap: int = EVIDENCE_CAP) -> str:
    """``text`` safe to keep: control characters escaped, at most ``cap`` characters."""
    shown = CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    if len(shown) > cap:
        shown = shown[:cap] + f"\n[... {len(shown) - cap} more characters cut]"
    return shown


@dataclass
class TestResult:
    server: str
    clause: str
    test: str
    nodeid: str
    verdict: str
    duration: float
    reason: str = ""  # why a test was N/A, expected to fail, or NON-STRICT
    evidence: str = ""  # what the test observed: the failure message with the transcript
    log: str = ""  # the server's crash report or log tail
    crash: str = ""  # a dead server's last traceback, panic or fatal error found in its log


def result_of(report: pytest.TestReport) -> TestResult | None:
    """The result a test report gives, or None for a phase that says nothing."""
    props = dict(report.user_properties)
    verdict = verdict_of(report)
    if verdict is None or "clause" not in props:
        return None
    result = TestResult(
        server=str(props["server"]),
        clause=str(props["clause"]),
        test=report.nodeid.split("::")[-1].split("[")[0],
        nodeid=report.nodeid,
        verdict=verdict,
        duration=round(report.duration, 3),
    )
    if isinstance(report.longrepr, tuple):  # a skip: (path, line, reason)
        result.reason = untrusted(str(report.longrepr[2]))
    elif verdict == "ERROR":  # the kit's own fault: where it happened matters most
        result.evidence = untrusted(report.longreprtext[-EVIDENCE_CAP:])
    elif report.longrepr is not None:
        crash = getattr(report.longrepr, "reprcrash", None)
        result.evidence = untrusted(crash.message if crash else report.longreprtext)
    if hasattr(report, "wasxfail"):
        result.reason = untrusted(report.wasxfail)
    result.log = untrusted(
        "\n".join(text for name, text in report.sections if name.startswith("server"))
    )
    result.crash = untrusted("\n".join(t for n, t in report.sections if n == CRASH_EVIDENCE))
    return result


@dataclass
class Report:
    results: list[TestResult] = field(default_factory=list)
    started: datetime = field(default_factory=lambda: datetime.now(UTC))

    def add(self, report: pytest.TestReport) -> TestResult | None:
        result = result_of(report)
        if result is not None:
            self.results.append(result)
        return result

    def verdicts(self) -> dict[str, dict[str, str]]:
        """{server: {clause: worst verdict of its tests}}."""
        found: dict[str, dict[str, str]] = defaultdict(dict)
        for r in self.results:
            old = found[r.server].get(r.clause)
            if old is None or ORDER.index(r.verdict) > ORDER.index(old):
                found[r.server][r.clause] = r.verdict
        return {server: dict(sorted(cells.items())) for server, cells in sorted(found.items())}

    def as_dict(
        self, directory: Path, commands: dict[str, str], problems: list[str]
    ) -> dict[str, Any]:
        """The report document (REPORT_SCHEMA) of a run writing to ``directory``; ``commands``
        says how each server was started, ``problems`` what failed the run beyond its cells."""
        document = spec.load()
        verdicts = self.verdicts()
        coverage: dict[str, set[str]] = defaultdict(set)
        for r in self.results:
            coverage[r.clause].add(r.test)
        run = {
            "directory": str(directory.resolve()),
            "host": socket.gethostname(),
            "started": self.started.isoformat(timespec="seconds"),
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            "kit_version": __version__,
            "environment": {
                "python": sys.version.split()[0],
                "platform": platform.platform(),
                "kernel": platform.release(),
            },
            "servers": {server: commands.get(server, "") for server in verdicts},
            "problems": problems,
        }
        return {
            "schema": SCHEMA,
            "kit_version": __version__,
            "spec_version": document.version,
            "runs": [run],
            "servers": sorted(verdicts),
            "clauses": [
                {
                    "id": c.id,
                    "level": c.level,
                    "title": c.title,
                    "text": c.text,
                    "tests": sorted(coverage.get(c.id, [])),
                }
                for c in document.clauses.values()
            ],
            "verdicts": verdicts,
            "results": [asdict(r) for r in sorted(self.results, key=lambda r: r.nodeid)],
            "totals": totals(verdicts),
        }


def origins(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """{server: the run it was tested in}."""
    return {server: run for run in document["runs"] for server in run["servers"]}


def to_markdown(document: dict[str, Any]) -> str:
    """A grid to paste in an issue: clauses down, servers across, then the failures."""
    servers = document["servers"]
    lines = [
        f"# Conformance report (spec {document['spec_version']}, kit {document['kit_version']})",
        "",
        "| clause | level | " + " | ".join(servers) + " |",
        "| --- | --- | " + " | ".join("---" for _ in servers) + " |",
    ]
    for clause in document["clauses"]:
        cells = [document["verdicts"].get(s, {}).get(clause["id"], "") for s in servers]
        if any(cells):
            row = [clause["id"], clause["level"], *cells]
            lines.append("| " + " | ".join(row) + " |")
    totals = ", ".join(f"{v} {n}" for v, n in document["totals"].items())
    lines += ["", f"Verdicts: {totals}", ""]
    headings, rows = server_origins(document)
    lines += ["## Servers", "", "| " + " | ".join(headings) + " |", "|" + " --- |" * len(headings)]
    for server, *rest in rows:
        lines.append("| " + " | ".join([server, *(_markdown_code(v) for v in rest)]) + " |")
    lines.append("")
    problems = [p for run in document["runs"] for p in run["problems"]]
    if problems:
        lines += ["## Run problems", "", *(f"- {_markdown_code(p)}" for p in problems), ""]
    problems = [r for r in document["results"] if r["verdict"] not in ("PASS", "N/A", "XFAIL")]
    if problems:
        lines += ["## Not passing", ""]
        for r in problems:
            first = (r["evidence"] or r["reason"]).splitlines()[:1]
            detail = _markdown_code(first[0]) if first else ""
            lines.append(
                f"- **{r['server']}** {r['clause']} `{r['test']}`: {r['verdict']} {detail}"
            )
        lines.append("")
    crashes = [r for r in document["results"] if r["verdict"] == "CRASH" and r.get("crash")]
    if crashes:
        lines += ["## Crashes", ""]
        for r in crashes:
            lines += [f"**{r['server']}** {r['clause']} `{r['test']}`:", ""]
            # An indented code block: untrusted lines cannot close it or carry markup.
            lines += [f"    {line}" for line in r["crash"].splitlines()] + [""]
    lines += ["## Coverage", "", "| clause | tests |", "| --- | --- |"]
    for clause in document["clauses"]:
        tests = ", ".join(f"`{t}`" for t in clause["tests"]) or "(none)"
        lines.append(f"| {clause['id']} | {tests} |")
    return "\n".join(lines) + "\n"


def server_origins(document: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Where each column came from, as a table: headings, then per server its name, how it was
    started and where and when its run happened ("merged from" only in a merged report)."""
    runs = origins(document)
    merged = any("source" in run for run in document["runs"])
    headings = ["server", "started by", "host", "started", "kit", "report directory"]
    fields = ("host", "started", "kit_version", "directory", *(["source"] if merged else []))
    rows = []
    for server in document["servers"]:
        run = runs.get(server, {})
        started_by = run.get("servers", {}).get(server, "?")
        rows.append([server, started_by, *(run.get(f, "?") for f in fields)])
    return [*headings, *(["merged from"] if merged else [])], rows


def run_summary(run: dict[str, Any]) -> str:
    """Where and when a run happened, in one line."""
    where = f"{run.get('host', '?')} at {run.get('started', '?')}"
    where += f", kit {run.get('kit_version', '?')}"
    return where + (f", merged from {run['source']}" if "source" in run else "")


def _markdown_code(text: str) -> str:
    """Untrusted text as inline code: it cannot close the span or inject markup."""
    text = text[:300].replace("`", "'").replace("|", "\\|")
    return f"`{text}`"


def write_json(document: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(document, indent=2) + "\n")


# How each verdict shows in JUnit XML, as pytest's --junitxml shows the outcome behind it.
JUNIT_ELEMENT = {
    "N/A": "skipped",
    "XFAIL": "skipped",
    "NON-STRICT": "skipped",
    "XPASS-STRICT": "failure",
    "TIMEOUT": "failure",
    "FAIL": "failure",
    "CRASH": "failure",
    "ERROR": "error",
}


def to_junit(document: dict[str, Any]) -> str:
    """JUnit XML for CI systems, in the shape pytest's --junitxml gives a run: one testcase per
    (server, test) with ``clause`` and ``server`` properties; one testsuite per server, named
    after it, with its run's host and start time."""
    root = ET.Element("testsuites", name="echo-conformance")
    runs = origins(document)
    for server in document["servers"]:
        results = [r for r in document["results"] if r["server"] == server]
        kinds = [JUNIT_ELEMENT.get(r["verdict"]) for r in results]
        run = runs.get(server, {})
        suite = ET.SubElement(
            root,
            "testsuite",
            name=server,
            tests=str(len(results)),
            failures=str(kinds.count("failure")),
            errors=str(kinds.count("error")),
            skipped=str(kinds.count("skipped")),
            time=f"{sum(r['duration'] for r in results):.3f}",
            timestamp=run.get("started", ""),
            hostname=run.get("host", ""),
        )
        for result, kind in zip(results, kinds, strict=True):
            case = ET.SubElement(
                suite,
                "testcase",
                classname=result["nodeid"].split("::")[0].removesuffix(".py").replace("/", "."),
                name=f"{result['test']}[{server}]",
                time=f"{result['duration']:.3f}",
            )
            properties = ET.SubElement(case, "properties")
            ET.SubElement(properties, "property", name="clause", value=result["clause"])
            ET.SubElement(properties, "property", name="server", value=server)
            if kind is not None:
                # untrusted() again: a merged document was read from a file, and XML cannot
                # hold most control characters.
                detail = result["evidence"] or result["reason"]
                first = next(iter(detail.splitlines()), "")
                message = untrusted(f"{result['verdict']}: {first}", cap=300)
                outcome = ET.SubElement(case, kind, message=message)
                both = "\n\n".join(t for t in (detail, result["log"]) if t)
                outcome.text = untrusted(both, cap=2 * EVIDENCE_CAP + 100)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
