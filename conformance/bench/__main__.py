"""Command line: ``python -m conformance.bench [--quick] [--server-cmd T --name N] ...``.

Exit status 0 when every runnable target was measured (a workload a server cannot do, such as
select() past FD_SETSIZE, is a figure, not a failure); 2 on a usage error or when the load
generator cannot be built. There are no thresholds: the figures are for reading.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shlex
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol, TypeVar

from conformance.bench import plots, report, runner, targets, workloads
from conformance.harness import fdlimit
from conformance.harness.addresses import IPV4_LOOPBACK, parse_host
from conformance.harness.server import LaunchError
from conformance.native.build import BuildUnavailable


@dataclass(frozen=True)
class Preset:
    repeat: int
    duration: float  # seconds of each timed window
    warmup: float  # seconds of the same load before it


FULL = Preset(repeat=3, duration=1.0, warmup=0.3)
QUICK = Preset(repeat=1, duration=0.2, warmup=0.05)  # checks the harness, measures little


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m conformance.bench", description=__doc__)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a few short workloads, one repetition: checks the harness works (~15 s for "
        "every server, ~5 s for one and the C baseline)",
    )
    parser.add_argument(
        "--server-cmd",
        action="append",
        default=[],
        metavar="TEMPLATE",
        help="also measure this server, e.g. 'node echo.js --port {port}' (repeatable)",
    )
    parser.add_argument("--name", action="append", default=[], help="name of each --server-cmd")
    parser.add_argument(
        "--server-host",
        type=host_option,
        default=IPV4_LOOPBACK,
        metavar="ADDRESS",
        help="the address every server listens on and the load comes to (default 127.0.0.1; "
        "::1 for IPv6)",
    )
    parser.add_argument(
        "--only",
        default="",
        metavar="NAMES",
        help="comma-separated targets to run (bundled stems, baselines, --name); default all",
    )
    parser.add_argument(
        "--workloads",
        default="",
        metavar="NAMES",
        help="comma-separated workloads to run (e.g. rt_1k_c100,idle_10000); default all",
    )
    parser.add_argument(
        "--baseline",
        default=targets.C_BASELINE,
        help=f"the target ratios are given against (default {targets.C_BASELINE})",
    )
    parser.add_argument("--repeat", type=int, help="repetitions (default 3; quick 1)")
    parser.add_argument("--duration", type=float, help="seconds per timed window (default 1)")
    parser.add_argument("--out", type=Path, default=Path("reports/bench"), help="output dir")
    args = parser.parse_args(argv)
    preset = QUICK if args.quick else FULL
    args.repeat = preset.repeat if args.repeat is None else args.repeat
    args.duration = preset.duration if args.duration is None else args.duration
    args.warmup = preset.warmup
    if args.repeat < 1 or args.duration <= 0:
        parser.error("--repeat must be at least 1 and --duration positive")
    if len(args.name) > len(args.server_cmd):
        parser.error("--name given more often than --server-cmd")
    return args


class Named(Protocol):
    @property
    def name(self) -> str: ...


N = TypeVar("N", bound=Named)


def pick(option: str, names: str, offered: list[N], keep: str = "") -> list[N]:
    """The offered items named in a comma-separated option (all if none), and ``keep``."""
    wanted = {n for n in names.split(",") if n}
    unknown = wanted - {item.name for item in offered}
    if unknown:
        known = ", ".join(item.name for item in offered)
        raise SystemExit(f"{option}: nothing named {', '.join(sorted(unknown))} (known: {known})")
    return [i for i in offered if i.name in wanted or i.name == keep] if wanted else offered


def host_option(text: str) -> str:
    try:
        return parse_host(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def choose_targets(args: argparse.Namespace) -> list[targets.Target]:
    offered = [
        *targets.bundled(),
        *targets.baselines(),
        *targets.custom(args.server_cmd, args.name),
    ]
    offered = [
        replace(t, command=t.command.on(args.server_host)) if t.command else t for t in offered
    ]
    chosen = pick("--only", args.only, offered, keep=args.baseline)
    for target in chosen:
        if target.skipped:
            say(f"{target.name}: not run: {target.skipped}")
    if args.baseline not in {t.name for t in chosen if t.command}:
        say(f"baseline {args.baseline} cannot run: figures are given without ratios")
    return chosen


def run_measured(
    args: argparse.Namespace, argv: list[str], chosen: list[targets.Target], plan: runner.Plan
) -> tuple[runner.Results, dict[str, object]]:
    """Run the plan; the results and what a reader needs to know about the run."""
    fd_limit = fdlimit.raise_to_hard()
    cores = runner.split_cores()
    began = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    started, load_before = time.monotonic(), os.getloadavg()[0]
    results = runner.run(chosen, plan, cores, say)
    return results, {
        "started": began,
        "machine": f"{platform.system()} {platform.release()}, {os.cpu_count()} CPUs",
        "python": platform.python_version(),
        "command": shlex.join(["python", "-m", "conformance.bench", *argv]),
        "quick": args.quick,
        "repeat": args.repeat,
        "duration": args.duration,
        "warmup": args.warmup,
        "cores": {"server": cores[0], "client": cores[1]} if cores else None,
        "fd_limit": fd_limit,
        "elapsed_s": round(time.monotonic() - started, 1),
        # Other work on the machine shows here; ratios to the baseline absorb most of it.
        "load_average": {"before": load_before, "after": os.getloadavg()[0]},
    }


def write_outputs(document: report.Document, out: Path) -> None:
    report.write_json(document, out / "bench.json")
    (out / "bench.md").write_text(report.to_markdown(document) + "\n")
    say(f"wrote {out / 'bench.json'} and {out / 'bench.md'}")
    if not plots.available():
        say("matplotlib is not installed: no plots (pip install matplotlib, or .[bench])")
        return
    for path in plots.write(document, out):
        say(f"wrote {path}")


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        client = targets.c_built("echo_client")
        chosen = choose_targets(args)
    except (BuildUnavailable, LaunchError) as exc:
        say(f"cannot run the benchmark: {exc}")
        return 2
    offered = workloads.QUICK if args.quick else workloads.FULL
    plan = runner.Plan(
        workloads=pick("--workloads", args.workloads, offered),
        repeat=args.repeat,
        duration=args.duration,
        warmup=args.warmup,
        log_dir=args.out / "logs",
        client=client,
    )
    args.out.mkdir(parents=True, exist_ok=True)
    results, meta = run_measured(args, argv, chosen, plan)
    write_outputs(report.build(meta, plan.workloads, chosen, results, args.baseline), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
