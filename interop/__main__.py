"""``python -m interop``: the whole matrix of real servers in one conformance run, one report.

    python -m interop                                 # every server that can run here
    python -m interop --only twisted,ncat -- --clause CLOSE
    python -m interop --report-dir reports/interop -- -n 0

What cannot run here (not installed, no compiler) is listed as not run, with the reason: that
is not a failure. The verdicts are then compared with ``expected.toml``, the grid INTEROP.md
explains: a cell that differs from it is reported, and fails the run.

Exit status: 0 the grid is the expected one; 1 a cell differs; 2 the run itself failed (the
kit's exit status 2: a server that cannot be launched, a harness error).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from conformance import cli
from interop import expected, matrix

EXPECTED = Path(__file__).resolve().parent / "expected.toml"
GRID_DIFFERS = 1


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m interop", description=__doc__.splitlines()[0])
    p.add_argument("--only", default="", metavar="NAMES", help="comma-separated servers")
    p.add_argument("--report-dir", type=Path, default=Path("reports/interop"))
    p.add_argument("--expected", type=Path, default=EXPECTED, help="the documented grid (TOML)")
    p.add_argument("conformance_args", nargs="*", help="after --: for python -m conformance")
    return p.parse_args(argv)


def summary(resolved: list[matrix.Resolved], differences: list[str]) -> str:
    """interop.md: what ran, what could not and why, and where the grid left INTEROP.md's."""
    lines = [
        "# Interop matrix",
        "",
        "| server | what | install | command |",
        "| --- | --- | --- | --- |",
    ]
    for r in resolved:
        command = f"`{r.template}`" if r.template else f"not run: {r.not_run}"
        lines.append(f"| {r.server.name} | {r.server.what} | {r.server.install} | {command} |")
    lines += ["", "The grid: report.md (and report.html) beside this file.", ""]
    if differences:
        lines += ["## Cells that differ from INTEROP.md (interop/expected.toml)", ""]
        lines += [f"- {d}" for d in differences]
    else:
        lines.append("Every cell that ran is as INTEROP.md (interop/expected.toml) says.")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    resolved = [matrix.resolve(s) for s in matrix.pick(args.only)]
    for r in resolved:
        if r.not_run:
            print(f"{r.server.name}: not run: {r.not_run}", file=sys.stderr)
    running = [r for r in resolved if r.template]
    if not running:
        print("no server of the matrix can run here", file=sys.stderr)
        return cli.RUN_FAILED
    servers = [a for r in running for a in ("--server-cmd", r.template, "--name", r.server.name)]
    report_dir: Path = args.report_dir
    status = cli.main([*servers, f"--report-dir={report_dir}", *args.conformance_args])
    if status == cli.RUN_FAILED:
        return status
    grid = json.loads((report_dir / "report.json").read_text())["verdicts"]
    differences = expected.differences(expected.load(args.expected), grid)
    (report_dir / "interop.md").write_text(summary(resolved, differences))
    for line in differences:
        print(f"differs from INTEROP.md: {line}", file=sys.stderr)
    print(f"interop summary in {report_dir / 'interop.md'}")
    return GRID_DIFFERS if differences else cli.CONFORMANT


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
