"""The interop matrix (interop/): servers that cannot run are listed with the reason, one run
covers every server, and a cell that leaves INTEROP.md's grid is reported and fails the run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from interop import expected, matrix, runs

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.timeout(180)


def documented(text: str, tmp_path: Path) -> expected.Expected:
    path = tmp_path / "expected.toml"
    path.write_text(text)
    return expected.load(path)


@pytest.mark.parametrize(
    ("toml", "grid", "differs"),
    [
        ("", {"s": {"ECHO-1": "PASS"}}, []),  # not listed: PASS expected
        ("", {"s": {"ECHO-1": "FAIL"}}, ["s ECHO-1: FAIL, documented PASS"]),
        ('[s]\n"START-4" = "FAIL"\n', {"s": {"START-4": "FAIL"}}, []),
        (
            '[s]\n"START-4" = "FAIL"\n',
            {"s": {"START-4": "PASS"}},
            ["s START-4: PASS, documented FAIL"],
        ),
        ('[s]\n"MODEL-1" = ["PASS", "FAIL"]\n', {"s": {"MODEL-1": "PASS"}}, []),  # varies
        ('[s]\n"MODEL-1" = ["PASS", "FAIL"]\n', {"s": {"MODEL-1": "FAIL"}}, []),
        ('[gone]\n"ECHO-1" = "FAIL"\n', {}, []),  # a server that did not run is no difference
    ],
)
def test_cells_are_compared_with_the_documented_grid(
    toml: str, grid: expected.Grid, differs: list[str], tmp_path: Path
) -> None:
    assert expected.differences(documented(toml, tmp_path), grid) == differs


def test_a_server_that_cannot_run_is_listed_with_the_reason_and_the_install() -> None:
    def missing() -> str:
        raise matrix.Unavailable("frobd is not on PATH")

    server = matrix.InteropServer("frob", "frobd's echo", "Debian frobd", missing)
    resolved = matrix.resolve(server)
    assert resolved.template == ""
    assert resolved.not_run == "frobd is not on PATH (install: Debian frobd)"


def test_every_template_has_host_and_port_and_every_server_file_says_what_changed() -> None:
    for server in matrix.MATRIX:
        resolved = matrix.resolve(server)
        if resolved.template:
            assert "{port}" in resolved.template and "{host}" in resolved.template, server.name
    for path in sorted(matrix.SERVERS.iterdir()):
        head = path.read_text().lower().splitlines()[:12]
        assert any("host" in line and "port" in line for line in head), path.name


def test_unknown_server_name_is_refused_with_the_known_ones() -> None:
    with pytest.raises(SystemExit, match=r"no server named nope .*known: .*twisted"):
        matrix.pick("twisted,nope")


def test_one_run_covers_the_chosen_servers_and_compares_the_grid(tmp_path: Path) -> None:
    """Two real servers, one conformance run, one report; a cell INTEROP.md does not expect
    (the C baseline passes ECHO-1, documented here as FAIL) fails the run and is named."""
    chosen = [s for s in ("go", "c_epoll") if matrix.resolve(matrix.pick(s)[0]).template]
    if not chosen:
        pytest.skip("neither go nor gcc is installed")
    grid = tmp_path / "expected.toml"
    grid.write_text(f'[{chosen[-1]}]\n"ECHO-1" = "FAIL"\n')
    argv = ["--only", ",".join(chosen), "--report-dir", str(tmp_path), "--expected", str(grid)]
    run = subprocess.run(
        [sys.executable, "-m", "interop", *argv, "--", "--clause", "ECHO-1", "-n", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=170,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["verdicts"] == {name: {"ECHO-1": "PASS"} for name in chosen}
    assert f"differs from INTEROP.md: {chosen[-1]} ECHO-1: PASS, documented FAIL" in run.stderr
    summary = (tmp_path / "interop.md").read_text()
    assert all(f"| {name} |" in summary for name in chosen)


def test_runs_mark_a_varying_cell_with_its_frequency_and_document_every_verdict(
    tmp_path: Path,
) -> None:
    for run, verdict in enumerate(("FAIL", "PASS", "FAIL")):
        report = tmp_path / str(run)
        report.mkdir()
        verdicts = {"s": {"ECHO-1": "PASS", "START-4": "FAIL", "MODEL-1": verdict}}
        (report / "report.json").write_text(json.dumps({"verdicts": verdicts}))
    seen = runs.cells(sorted(tmp_path.iterdir()))
    table = runs.grid(seen, 3)
    assert "| START-4 | FAIL |" in table and "| ECHO-1 | PASS |" in table
    assert "| MODEL-1 | FAIL 2/3, PASS 1/3 |" in table
    assert runs.documented(seen) == ["\n[s]", '"START-4" = "FAIL"', '"MODEL-1" = ["FAIL", "PASS"]']
