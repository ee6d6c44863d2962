"""Writing a run's figures: one JSON document (everything) and a Markdown summary of it.

Rule: the Markdown is rendered from the JSON document alone, so the two never disagree, and
every figure in it is a median over repetitions, with min-max beside the primary ones.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from conformance.bench import stats
from conformance.bench.runner import Results
from conformance.bench.targets import Target
from conformance.bench.workloads import Workload

Document = dict[str, Any]


def build(
    meta: dict[str, Any],
    workloads: list[Workload],
    targets: list[Target],
    results: Results,
    baseline: str,
) -> Document:
    base = results.get(baseline, {})
    base_summaries = {w: stats.summarize(o) for w, o in base.items()}
    table: dict[str, dict[str, Any]] = {}
    for target in targets:
        if target.command is None:
            continue
        table[target.name] = {}
        for workload in workloads:
            outcome = results[target.name][workload.name]
            summary = stats.summarize(outcome)
            table[target.name][workload.name] = {
                "summary": {m: dataclasses.asdict(s) for m, s in summary.items()},
                "ratio": stats.ratios(summary, base_summaries.get(workload.name, {})),
                "samples": [dataclasses.asdict(s) for s in outcome.samples],
                "errors": outcome.errors,
                "load": [dataclasses.asdict(load) for load in outcome.load],
            }
    return {
        "meta": {**meta, "baseline": baseline},
        "workloads": [dataclasses.asdict(w) for w in workloads],
        "targets": [
            {"name": t.name, "role": t.role, "skipped": t.skipped or None} for t in targets
        ],
        "results": table,
    }


def write_json(document: Document, path: Path) -> None:
    path.write_text(json.dumps(document, indent=2) + "\n")


def _spread(cell: dict[str, Any], metric: str, digits: int = 0, spread: bool = False) -> str:
    figure = cell["summary"].get(metric)
    if figure is None:
        return "-"
    text = f"{figure['median']:,.{digits}f}"
    return f"{text} ({figure['min']:,.{digits}f}-{figure['max']:,.{digits}f})" if spread else text


def _ratio(cell: dict[str, Any], which: str) -> str:
    value = cell["ratio"].get(which)
    return "-" if value is None else f"{value:.2f}x"


def _load(cell: dict[str, Any]) -> str:
    """The machine's load average before -> after the workload, one pair per repetition."""
    return ", ".join(f"{r['before']:.1f}->{r['after']:.1f}" for r in cell.get("load", [])) or "-"


def _failure(cell: dict[str, Any]) -> str:
    return f"failed: {cell['errors'][0]}" if cell["errors"] else "no figures"


def _workload_table(document: Document, workload: dict[str, Any]) -> list[str]:
    bulk = workload["bulk"]
    cost = "server CPU ms/GiB" if bulk else "server CPU us/round trip"
    lines = [
        f"| server | {cost} | round trips/s | MiB/s | p50 us | p99 us | throughput vs baseline "
        "| CPU vs baseline | client busy | load average |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for name, cells in document["results"].items():
        cell = cells[workload["name"]]
        if not cell["summary"]:
            lines.append(f"| {name} | {_failure(cell)} |  |  |  |  |  |  |  | {_load(cell)} |")
            continue
        cost_metric = "cpu_ms_per_gib" if bulk else "cpu_us_per_round_trip"
        lines.append(
            f"| {name} | {_spread(cell, cost_metric, 1, spread=True)} "
            f"| {'-' if bulk else _spread(cell, 'round_trips_per_s', spread=True)} "
            f"| {_spread(cell, 'mib_per_s', spread=bulk)} "
            f"| {_spread(cell, 'p50_us')} | {_spread(cell, 'p99_us')} "
            f"| {_ratio(cell, 'throughput')} | {_ratio(cell, 'cpu')} "
            f"| {_spread(cell, 'client_busy', 2)} | {_load(cell)} |"
        )
    return lines


def _idle_table(document: Document) -> list[str]:
    sweep = [w["name"] for w in document["workloads"] if w["name"].startswith("idle_")]
    if not sweep:
        return []
    counts = [name.removeprefix("idle_") for name in sweep]
    lines = [
        "## Idle-connection scaling: server CPU us per round trip (10 active, 1 KiB)",
        "",
        "| server | " + " | ".join(f"{c} idle" for c in counts) + " |",
        "| --- |" + " ---: |" * len(counts),
    ]
    for name, cells in document["results"].items():
        row = [
            _spread(cells[w], "cpu_us_per_round_trip", 1)
            if cells[w]["summary"]
            else ("stopped" if cells[w]["errors"] else "-")
            for w in sweep
        ]
        lines.append(f"| {name} | " + " | ".join(row) + " |")
    lines += [
        "",
        "Load average of the machine before -> after each idle workload (one pair per repetition):",
        "",
        "| server | " + " | ".join(f"{c} idle" for c in counts) + " |",
        "| --- |" + " --- |" * len(counts),
    ]
    for name, cells in document["results"].items():
        lines.append(f"| {name} | " + " | ".join(_load(cells[w]) for w in sweep) + " |")
    stops = [
        f"- {name} at {w.removeprefix('idle_')} idle: {cells[w]['errors'][0]}"
        for name, cells in document["results"].items()
        for w in sweep
        if cells[w]["errors"] and not cells[w]["summary"]
    ]
    return [*lines, "", *stops, ""] if stops else [*lines, ""]


def to_markdown(document: Document) -> str:
    meta = document["meta"]
    lines = [
        "# Echo server benchmark",
        "",
        f"Run {meta['started']} on {meta['machine']} (load average "
        f"{meta['load_average']['before']:.1f} before, {meta['load_average']['after']:.1f} "
        f"after); {meta['repeat']} repetition(s) of "
        f"{meta['duration']:g} s windows; figures are medians, (min-max) beside the primary "
        f"ones; ratios are to `{meta['baseline']}` in the same run. Command: "
        f"`{meta['command']}`",
        "",
    ]
    skipped = [t for t in document["targets"] if t["skipped"]]
    lines += [f"- {t['name']} not run: {t['skipped']}" for t in skipped]
    lines += [""] if skipped else []
    for workload in document["workloads"]:
        if workload["name"].startswith("idle_"):
            continue
        shape = "stream" if workload["bulk"] else f"{workload['size']} B round trips"
        lines += [f"## {workload['name']}: {workload['connections']} connection(s), {shape}"]
        lines += ["", *_workload_table(document, workload), ""]
    return "\n".join(lines + _idle_table(document))
