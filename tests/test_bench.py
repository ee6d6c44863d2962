"""The benchmark's harness works: it measures, verifies every byte, and reports limits as such.

No figure is asserted against a threshold here: speed goals live in BENCHMARKS.md. These check
that a quick run produces well-formed, positive, byte-verified figures, and that the load
generator fails loudly on a wrong echo and on a server that stops serving connections.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from conformance.bench import plots, report
from conformance.bench.loadgen import LoadError, Sample, measure
from conformance.bench.runner import Outcome
from conformance.bench.targets import Target, c_built
from conformance.bench.workloads import QUICK, Workload, idle_sweep
from conformance.harness.server import ServerCommand, ServerProcess
from conformance.native.build import BuildUnavailable

ROOT = Path(__file__).resolve().parents[1]
QUICK_TIMEOUT = 60.0  # the quick mode takes ~5 s for one server and the C baseline

try:
    CLIENT = c_built("echo_client")
except BuildUnavailable as exc:  # CI has gcc; a machine without one says so
    pytest.skip(f"the load generator cannot be built: {exc}", allow_module_level=True)


class QuickRun(NamedTuple):
    document: dict[str, Any]
    markdown: str
    out: Path


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> QuickRun:
    out = tmp_path_factory.mktemp("bench")
    argv = [sys.executable, "-m", "conformance.bench", "--quick", "--only", "epoll_echo"]
    run = subprocess.run(
        [*argv, "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=QUICK_TIMEOUT
    )
    assert run.returncode == 0, run.stderr
    document = json.loads((out / "bench.json").read_text())
    return QuickRun(document, (out / "bench.md").read_text(), out)


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[[Path], ServerProcess]]:
    started: list[ServerProcess] = []

    def start(path: Path) -> ServerProcess:
        server = ServerProcess(ServerCommand.bundled(path), tmp_path / f"{path.stem}.log")
        started.append(server)
        return server.start(port=0)

    yield start
    for server in started:
        server.stop()


def test_quick_run_measures_the_server_and_the_c_baseline(quick_run: QuickRun) -> None:
    results = quick_run.document["results"]
    assert set(results) == {"epoll_echo", "c_epoll"}
    for name, cells in results.items():
        assert set(cells) == {w.name for w in QUICK}
        for workload, cell in cells.items():
            assert cell["errors"] == [], f"{name} {workload}: {cell['errors']}"
            (sample,) = cell["samples"]
            assert sample["bytes_verified"] > 0 and sample["seconds"] > 0, (name, workload)
            assert sample["server_cpu"] > 0, (name, workload)
            assert cell["ratio"]["throughput"] > 0 and cell["ratio"]["cpu"] > 0, (name, workload)


def test_quick_run_reads_the_load_average_around_each_workload(quick_run: QuickRun) -> None:
    """Per workload, not per run: a workload can load the machine by itself."""
    for cells in quick_run.document["results"].values():
        for cell in cells.values():
            (load,) = cell["load"]  # one repetition
            assert load["before"] >= 0 and load["after"] >= 0
    assert "| load average |" in quick_run.markdown
    assert "Load average of the machine before -> after each idle workload" in quick_run.markdown


@pytest.mark.skipif(shutil.which("go") is None, reason="go is not installed")
def test_go_baseline_is_built_and_measured(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "conformance.bench", "--quick", "--only", "go"]
    run = subprocess.run(
        [*argv, "--workloads", "rt_1k_c10", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=QUICK_TIMEOUT,
    )
    assert run.returncode == 0, run.stderr
    results = json.loads((tmp_path / "bench.json").read_text())["results"]
    assert set(results) == {"go", "c_epoll"}
    cell = results["go"]["rt_1k_c10"]
    assert cell["errors"] == [] and cell["ratio"]["cpu"] > 0


def test_quick_run_has_latency_for_round_trips_only(quick_run: QuickRun) -> None:
    for cells in quick_run.document["results"].values():
        assert cells["rt_1k_c10"]["summary"]["p99_us"]["median"] > 0
        assert cells["rt_1k_c10"]["summary"]["cpu_us_per_round_trip"]["median"] > 0
        assert "p50_us" not in cells["bulk"]["summary"]  # a stream has no round trips


def test_quick_run_writes_a_markdown_table_per_workload(quick_run: QuickRun) -> None:
    for workload in ("rt_1k_c10", "rt_1m_c4", "bulk"):
        assert f"## {workload}:" in quick_run.markdown
    assert "| epoll_echo |" in quick_run.markdown and "| c_epoll |" in quick_run.markdown
    assert "## Idle-connection scaling" in quick_run.markdown
    if plots.available():
        for png in ("throughput.png", "latency.png", "idle_scaling.png"):
            assert (quick_run.out / png).read_bytes().startswith(b"\x89PNG"), png


def test_client_rejects_a_corrupted_echo(start_server: Callable[[Path], ServerProcess]) -> None:
    """The load generator checks every byte: a server that alters bytes is an error."""
    server = start_server(ROOT / "tests" / "broken" / "decodes_utf8.py")
    with pytest.raises(LoadError, match="echo mismatch on connection"):
        measure(CLIENT, server, Workload("rt_1k_c1", connections=1), duration=0.1, warmup=0)


def test_select_past_fd_setsize_is_a_finding(start_server: Callable[[Path], ServerProcess]) -> None:
    """select() refuses clients past FD_SETSIZE: the client says so, the server lives on."""
    server = start_server(ROOT / "implementations" / "select_echo.py")
    with pytest.raises(LoadError, match=r"idle connection \d+ of 1100 was not served"):
        measure(CLIENT, server, Workload("idle_1100", idle=1100), duration=0.1, warmup=0)
    assert server.alive


def _sample(cpu_us_per_round_trip: float) -> Sample:
    return Sample(1000, 1000 * 1024, 0.01, cpu_us_per_round_trip * 1e-3, 0.01, 50.0, 90.0)


def test_report_shows_where_a_server_stops_and_ratios_to_the_baseline() -> None:
    sweep = idle_sweep((0, 5000))
    command = ServerCommand.bundled(ROOT / "implementations" / "select_echo.py")
    chosen = [Target("select_echo", "implementation", command), Target("c", "baseline", command)]
    refused = "idle connection 1020 of 5000 was not served (EOF)"
    results = {
        "select_echo": {"idle_0": Outcome([_sample(9.0)]), "idle_5000": Outcome([], [refused])},
        "c": {"idle_0": Outcome([_sample(6.0)]), "idle_5000": Outcome([_sample(6.0)])},
    }
    meta = {"started": "now", "machine": "test", "repeat": 1, "duration": 1.0, "command": "x"}
    meta["load_average"] = {"before": 0.0, "after": 0.0}
    document = report.build(meta, sweep, chosen, results, baseline="c")
    assert document["results"]["select_echo"]["idle_0"]["ratio"]["cpu"] == pytest.approx(1.5)
    markdown = report.to_markdown(document)
    assert "| select_echo | 9.0 | stopped |" in markdown, markdown
    assert f"- select_echo at 5000 idle: {refused}" in markdown, markdown
