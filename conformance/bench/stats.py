"""From repetitions to figures: medians with their spread, and ratios to a baseline.

Rule: a ratio compares medians of the same workload measured in the same run, so the load
the machine carried at the time cancels out as far as it can. Throughput is round trips per
second, or MiB/s for a bulk stream (no round trips there); CPU cost is per round trip, or per
GiB for a bulk stream.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from conformance.bench.loadgen import Sample
from conformance.bench.runner import Outcome

METRICS = (
    "round_trips_per_s",
    "mib_per_s",
    "cpu_us_per_round_trip",
    "cpu_ms_per_gib",
    "p50_us",
    "p99_us",
    "client_busy",
)


@dataclass(frozen=True)
class Spread:
    median: float
    min: float
    max: float


def _value(sample: Sample, metric: str) -> float | None:
    value = getattr(sample, metric)
    return None if value is None else float(value)


def summarize(outcome: Outcome) -> dict[str, Spread]:
    """Median, min and max of every metric over the repetitions that produced one."""
    summary = {}
    for metric in METRICS:
        values = [v for s in outcome.samples if (v := _value(s, metric)) is not None]
        if values:
            summary[metric] = Spread(statistics.median(values), min(values), max(values))
    return summary


def headline_metrics(summary: dict[str, Spread]) -> tuple[str, str]:
    """(throughput metric, CPU metric) that apply: per round trip, or per byte for a stream."""
    if "cpu_us_per_round_trip" in summary:
        return "round_trips_per_s", "cpu_us_per_round_trip"
    return "mib_per_s", "cpu_ms_per_gib"


def ratios(summary: dict[str, Spread], baseline: dict[str, Spread]) -> dict[str, float]:
    """Throughput and CPU cost as multiples of the baseline's (above 1: more of either)."""
    if not summary or not baseline:
        return {}
    speed, cost = headline_metrics(summary)
    found: dict[str, float] = {}
    for name, metric in (("throughput", speed), ("cpu", cost)):
        if metric in summary and metric in baseline and baseline[metric].median > 0:
            found[name] = summary[metric].median / baseline[metric].median
    return found
