"""``python -m conformance``: the suite against servers, with reports and an exit code for CI.

Exit codes (also in README "CI recipe"):
  0  conformant: every MUST clause passed, or failed only as the baseline expects
  1  not conformant: a MUST clause failed, a server crashed (in a clause of any level) or
     timed out, an expected failure now passes, the baseline has stale or dead entries, or,
     with --strict, a SHOULD clause was not met
  2  the run itself failed: bad arguments, a server that cannot be launched, a harness error

Everything after ``--`` goes to pytest unchanged.

``python -m conformance merge OUT REPORT_DIR...`` combines the report.json of several runs into
one report in OUT (reports/merge.py), with the same exit statuses, read from its verdicts; 2
also when the reports cannot be merged (another spec version, a missing or foreign report).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from conformance import __version__, plugin, spec
from conformance.reports import merge
from conformance.reports.files import FILES, write_reports
from conformance.reports.verdicts import render_grid

SUITE = Path(__file__).resolve().parent / "suite"
CONFORMANT, NOT_CONFORMANT, RUN_FAILED = 0, 1, 2
TEST_TIMEOUT = 60.0  # seconds per test, times --timeout-multiplier
# pytest's own codes for a run that did not happen as asked.
RUN_FAILURES = (
    pytest.ExitCode.INTERRUPTED,
    pytest.ExitCode.INTERNAL_ERROR,
    pytest.ExitCode.USAGE_ERROR,
    pytest.ExitCode.NO_TESTS_COLLECTED,
)
# Verdicts that make a run not conformant (pytest counts their tests as failed).
NOT_CONFORMANT_VERDICTS = ("XPASS-STRICT", "TIMEOUT", "FAIL", "CRASH")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m conformance",
        description="Run the echo-server conformance suite and write its reports.",
        epilog="exit status: 0 conformant, 1 not conformant, 2 usage, launch or harness error. "
        "'python -m conformance merge OUT REPORT_DIR...' combines the reports of several runs.",
    )
    p.add_argument(
        "--version",
        action="version",
        version=f"echo-conformance {__version__}, echo-server spec {spec.load().version}",
    )
    p.add_argument(
        "--server-cmd",
        action="append",
        default=[],
        metavar="TEMPLATE",
        help="a server to test instead of the bundled ones: {host} and {port} are filled in "
        "(repeatable)",
    )
    p.add_argument(
        "--server-addr",
        action="append",
        default=[],
        metavar="HOST:PORT",
        help="a server already running there, e.g. 127.0.0.1:7000 or [::1]:7000; clauses that "
        "need its process are N/A (repeatable)",
    )
    p.add_argument(
        "--server-host",
        metavar="ADDRESS",
        help="the address given as {host} to the servers the kit starts: 127.0.0.1 (default) "
        "or ::1, the whole suite over IPv6",
    )
    p.add_argument(
        "--name",
        action="append",
        default=[],
        help="a name per --server-cmd, then per --server-addr",
    )
    p.add_argument("--clause", default="", metavar="IDS", help="ids or areas: ECHO-2,CLOSE")
    p.add_argument("--level", choices=("must", "should"), help="only clauses of this level")
    p.add_argument(
        "--strict",
        action="store_true",
        help="an unmet SHOULD clause (NON-STRICT) fails the run too, as h2spec's strict mode",
    )
    p.add_argument("--baseline", metavar="FILE", help="known failures to accept (TOML)")
    p.add_argument(
        "--update-baseline", metavar="FILE", help="write what did not pass to FILE, exit 0"
    )
    p.add_argument(
        "--timeout-multiplier",
        type=float,
        default=1.0,
        metavar="X",
        help="give every deadline X times longer (a slow machine)",
    )
    p.add_argument(
        "-n", "--workers", default="auto", help="parallel workers (pytest-xdist); 0 for none"
    )
    p.add_argument(
        "--report-dir",
        default="reports",
        type=Path,
        help="where report.json, report.md, report.html and junit.xml go (default: reports)",
    )
    p.add_argument("pytest_args", nargs="*", help="after --: extra arguments for pytest")
    return p


def pytest_arguments(args: argparse.Namespace) -> list[str]:
    report_dir: Path = args.report_dir
    command = [
        str(SUITE),
        "-p",
        "conformance.plugin",
        "-p",
        "no:cacheprovider",
        "-q",
        "--progress",
        f"--timeout={TEST_TIMEOUT * args.timeout_multiplier:g}",
        f"--timeout-multiplier={args.timeout_multiplier:g}",
        f"--report-dir={report_dir}",
        f"--junitxml={report_dir / 'junit.xml'}",
    ]
    for template in args.server_cmd:
        command.append(f"--server-cmd={template}")
    for address in args.server_addr:
        command.append(f"--server-addr={address}")
    for name in args.name:
        command.append(f"--name={name}")
    if args.strict:
        command.append("--strict-should")  # pytest's own --strict is another thing
    for option in ("server_host", "clause", "level", "baseline", "update_baseline"):
        value = getattr(args, option)
        if value:
            command.append(f"--{option.replace('_', '-')}={value}")
    if args.workers not in ("0", "1"):
        # loadgroup, with the plugin's work units (conformance/scheduling.py): a module's tests
        # against one server on one worker, and the heavy tests (CPU sampling, RSS, thousands
        # of connections) together, so that they never starve each other.
        command += ["-n", args.workers, "--dist", "loadgroup"]
    extra: list[str] = args.pytest_args
    return command + extra


def exit_status(pytest_status: int, report_dir: Path) -> int:
    """The documented exit status, from pytest's and the report's verdicts."""
    if pytest_status in RUN_FAILURES:
        return RUN_FAILED
    report = report_dir / "report.json"
    if not report.exists():
        return RUN_FAILED
    if "ERROR" in json.loads(report.read_text())["totals"]:
        return RUN_FAILED
    return CONFORMANT if pytest_status == pytest.ExitCode.OK else NOT_CONFORMANT


def document_status(document: dict[str, Any]) -> int:
    """The exit status a report stands for, by the rules of a run (for a merged report)."""
    counted = document["totals"]
    if "ERROR" in counted:
        return RUN_FAILED
    problems = any(run["problems"] for run in document["runs"])
    failed = any(verdict in counted for verdict in NOT_CONFORMANT_VERDICTS)
    return NOT_CONFORMANT if failed or problems else CONFORMANT


def merge_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m conformance merge",
        description="Combine the report.json of several runs (servers, machines, CI jobs) into "
        "one report: " + ", ".join(FILES) + ". A server name held by two runs becomes two "
        "columns, NAME@REPORT_DIR.",
        epilog="exit status: 0 conformant, 1 not conformant, 2 a run holds an ERROR or the "
        "reports cannot be merged (different spec versions, a missing report)",
    )
    p.add_argument("out", type=Path, metavar="OUT", help="where the merged report goes")
    p.add_argument(
        "sources",
        type=Path,
        nargs="+",
        metavar="REPORT_DIR",
        help="a run's report directory (or its report.json)",
    )
    return p


def merge_main(argv: Sequence[str]) -> int:
    args = merge_parser().parse_args(argv)
    out: Path = args.out
    sources: list[Path] = args.sources
    try:
        if out.resolve() in {s.resolve() for s in sources}:
            raise merge.MergeError(f"{out} is also a REPORT_DIR: merging would overwrite it")
        document = merge.combine([(str(s), merge.load(s)) for s in sources])
    except merge.MergeError as exc:
        print(f"merge: {exc}", file=sys.stderr)
        return RUN_FAILED
    write_reports(document, out)
    for line in render_grid(document["verdicts"]):
        print(line)
    print(f"merged {len(sources)} reports in {out}/: {', '.join(FILES)}")
    code = document_status(document)
    print(f"exit status {code}: " + ("conformant", "not conformant", "a run failed")[code])
    return code


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["merge"]:
        return merge_main(argv[1:])
    args = parser().parse_args(argv)
    if not (args.server_cmd or args.server_addr) and not plugin.bundled(plugin.IMPLEMENTATIONS):
        print(
            f"no servers to test: nothing bundled under {plugin.IMPLEMENTATIONS}; "
            "give one with --server-cmd 'CMD {host} {port}'",
            file=sys.stderr,
        )
        return RUN_FAILED
    report_dir: Path = args.report_dir
    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / "report.json").unlink(missing_ok=True)  # a stale report must not count
    os.environ.setdefault("HYPOTHESIS_PROFILE", "ci")
    # A fresh interpreter: pytest must import the plugin itself to rewrite its asserts.
    status = subprocess.run([sys.executable, "-m", "pytest", *pytest_arguments(args)]).returncode
    code = exit_status(status, report_dir)
    if (report_dir / "report.json").exists():
        print(f"reports in {report_dir}/: report.html, report.md, report.json, junit.xml")
    print(f"exit status {code}: " + ("conformant", "not conformant", "the run failed")[code])
    return code


if __name__ == "__main__":
    sys.exit(main())
