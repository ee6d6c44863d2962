"""PNG plots of a run, drawn from its JSON document: throughput, latency, idle scaling.

matplotlib is an optional extra (``pip install .[bench]``): without it the plots are skipped
with a message, and the JSON and Markdown are written all the same. A plot with nothing to
show (no such workload in the run) is not drawn.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

Document = dict[str, Any]
ROW_HEIGHT = 2.2  # inches per workload panel


def available() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def _median(document: Document, server: str, workload: str, metric: str) -> float:
    figure = document["results"][server][workload]["summary"].get(metric)
    return float(figure["median"]) if figure else 0.0


def _throughput(document: Document, ax: Any, load: dict[str, Any]) -> None:
    metric = "mib_per_s" if load["bulk"] else "round_trips_per_s"
    servers = list(document["results"])
    cells = [document["results"][s][load["name"]]["summary"].get(metric) for s in servers]
    medians = [c["median"] if c else 0 for c in cells]
    spread = [[c["median"] - c["min"] if c else 0 for c in cells]]
    spread.append([c["max"] - c["median"] if c else 0 for c in cells])
    ax.barh(servers, medians, xerr=spread, color="tab:blue")
    ax.set_title(f"{load['name']}: {'MiB/s' if load['bulk'] else 'round trips/s'}", fontsize=9)


def _latency(document: Document, ax: Any, load: dict[str, Any]) -> None:
    servers = list(document["results"])
    for offset, metric in ((-0.2, "p50_us"), (0.2, "p99_us")):
        medians = [_median(document, s, load["name"], metric) for s in servers]
        ax.barh([i + offset for i in range(len(servers))], medians, height=0.4, label=metric)
    ax.set_yticks(range(len(servers)), servers)
    ax.set_xscale("log")
    ax.set_title(f"{load['name']}: round-trip latency, us (log scale)", fontsize=9)
    ax.legend(fontsize=7)


def _idle_scaling(document: Document, ax: Any, sweep: list[dict[str, Any]]) -> None:
    counts = [w["idle"] for w in sweep]
    for server, cells in document["results"].items():
        reached = [
            (n, cells[w["name"]]["summary"]["cpu_us_per_round_trip"]["median"])
            for n, w in zip(counts, sweep, strict=True)
            if "cpu_us_per_round_trip" in cells[w["name"]]["summary"]
        ]
        if not reached:
            continue
        line = ax.plot(*zip(*reached, strict=True), marker="o", label=server)
        if len(reached) < len(counts):  # stopped (select at FD_SETSIZE): say where
            ax.annotate("stops", reached[-1], color=line[0].get_color(), fontsize=8)
    ax.set_xlabel("idle connections (beside 10 active)")
    ax.set_ylabel("server CPU us per round trip (log)")
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    ax.set_title("Cost of a round trip as idle connections grow")


def write(document: Document, out: Path) -> list[Path]:
    """Draw throughput.png, latency.png and idle_scaling.png into ``out``; return their paths."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on a CI machine
    import matplotlib.pyplot as plt

    loads = [w for w in document["workloads"] if not w["name"].startswith("idle_")]
    sweep = [w for w in document["workloads"] if w["name"].startswith("idle_")]
    panels = [
        ("throughput.png", loads, _throughput),
        ("latency.png", [w for w in loads if not w["bulk"]], _latency),
    ]
    written = []
    for name, chosen, draw in panels:
        if not chosen:
            continue
        size = (8, ROW_HEIGHT * len(chosen))
        fig, axes = plt.subplots(len(chosen), 1, figsize=size, squeeze=False)
        for ax, load in zip(axes[:, 0], chosen, strict=True):
            draw(document, ax, load)
            ax.tick_params(labelsize=8)
        written.append(_save(plt, fig, out / name))
    if sweep:
        fig, ax = plt.subplots(figsize=(8, 5))
        _idle_scaling(document, ax, sweep)
        written.append(_save(plt, fig, out / "idle_scaling.png"))
    return written


def _save(plt: Any, fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
