"""`python -m conformance` as a backend author meets it: exit codes, messages and reports.

Each test runs the CLI in a child process against real servers (reference, broken, or an
inline stub) and reads its exit status, its output and the reports it wrote.
"""

from __future__ import annotations

import contextlib
import html
import json
import re
import shutil
import socket
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance import __version__, spec
from conformance.cli import CONFORMANT, NOT_CONFORMANT, RUN_FAILED, document_status
from conformance.harness import procfs, waiting
from conformance.native.build import BuildUnavailable, go_program
from conformance.reports import html as report_html
from conformance.reports.files import FILES
from conformance.reports.report import EVIDENCE_CAP, untrusted

ROOT = Path(__file__).resolve().parents[1]
BROKEN = ROOT / "tests" / "broken"
ODD = ROOT / "tests" / "odd"

pytestmark = pytest.mark.timeout(180)

# Answers every connection with markup and terminal escapes, and logs the same: a report must
# show them as text, never run or render them.
HOSTILE = """
import socket, sys
print("<script>document.title='owned'</script>\\x1b[31m\\x00 logged", flush=True)
listener = socket.create_server((sys.argv[1], int(sys.argv[2])))
print("LISTENING", sys.argv[1], listener.getsockname()[1], flush=True)
while True:
    conn, _ = listener.accept()
    conn.recv(65536)
    conn.sendall(b"<script>document.title='owned'</script>\\x1b[31m\\x00")
    conn.close()
"""


def template(server: Path) -> str:
    return f"{sys.executable} {server} --host {{host}} --port {{port}}"


def conformance(*args: str) -> tuple[int, str]:
    """``python -m conformance ARGS``: its exit status and its output."""
    result = subprocess.run(
        [sys.executable, "-m", "conformance", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=170,
    )
    return result.returncode, result.stdout + result.stderr


def run_cli(report_dir: Path, *args: str) -> tuple[int, str]:
    return conformance(f"--report-dir={report_dir}", *args)


def report(report_dir: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((report_dir / "report.json").read_text())
    return document


def test_version_names_kit_and_spec(tmp_path: Path) -> None:
    status, output = run_cli(tmp_path, "--version")
    assert status == 0
    assert f"echo-conformance {__version__}, echo-server spec {spec.load().version}" in output


def test_conformant_server_exits_0_and_writes_every_report(tmp_path: Path) -> None:
    server = template(ROOT / "implementations" / "selectors_echo.py")
    status, output = run_cli(tmp_path, "--server-cmd", server, "--name", "ref", "--clause", "ECHO")
    assert status == CONFORMANT, output
    assert {p.name for p in tmp_path.iterdir()} >= {
        "report.json",
        "report.md",
        "report.html",
        "junit.xml",
    }
    document = report(tmp_path)
    assert document["spec_version"] == spec.load().version
    echo_clauses = {c for c in spec.load().clauses if c.startswith("ECHO-")}
    assert document["verdicts"] == {"ref": dict.fromkeys(sorted(echo_clauses), "PASS")}
    coverage = {c["id"]: c["tests"] for c in document["clauses"]}
    assert "test_all_byte_values_come_back" in coverage["ECHO-2"]
    assert "| ECHO-2 | MUST | PASS |" in (tmp_path / "report.md").read_text()
    assert "ref              ECHO-2" in output  # progress: one line per finished test


def test_failing_server_exits_1_with_the_evidence(tmp_path: Path) -> None:
    server = template(BROKEN / "close_without_flush.py")
    status, output = run_cli(tmp_path, "--server-cmd", server, "--clause", "CLOSE-3")
    assert status == NOT_CONFORMANT, output
    [result] = report(tmp_path)["results"]
    assert result["verdict"] == "FAIL"
    assert "bytes missing at the end" in result["evidence"]
    assert "connection: EOF" in result["evidence"]  # how the connection ended, precisely


def test_crashing_server_exits_1_with_crash_verdict_and_log_tail(tmp_path: Path) -> None:
    server = template(ROOT / "implementations" / "seed" / "seed_epoll.py")
    status, output = run_cli(tmp_path, "--server-cmd", server, "--clause", "ABORT-1", "-n", "0")
    assert status == NOT_CONFORMANT, output
    [result] = report(tmp_path)["results"]
    assert result["verdict"] == "CRASH"
    assert "Traceback" in result["log"] and "exit status 1" in result["log"]


# ACCEPT-2 is a SHOULD clause; this server raises when it accepts the burst's 50th client.
FIFTY = ("--server-cmd", template(ODD / "dies_at_fiftieth_client.py"), "--name", "fifty")
FIFTY_ARGS = (*FIFTY, "--clause", "ACCEPT-2", "-n", "0")
BURST_TEST = "test_connect_burst_is_served_promptly"


def test_crash_in_a_should_clause_is_crash_and_exits_1_in_every_report(tmp_path: Path) -> None:
    status, output = run_cli(tmp_path, *FIFTY_ARGS)
    assert status == NOT_CONFORMANT, output
    document = report(tmp_path)
    assert document["verdicts"] == {"fifty": {"ACCEPT-2": "CRASH"}}
    [result] = document["results"]
    assert "exit status 1" in result["log"] and not result["reason"]  # no NON-STRICT reason
    assert "IndexError: connection table full: client 50" in result["crash"]
    assert re.search(r"^ACCEPT-2 +SHOULD +CRASH$", output, re.MULTILINE), output  # the grid
    assert "| ACCEPT-2 | SHOULD | CRASH |" in (tmp_path / "report.md").read_text()
    assert '<td class="v-CRASH"' in (tmp_path / "report.html").read_text()
    [case] = ET.parse(tmp_path / "junit.xml").getroot().iter("testcase")
    assert case.find("failure") is not None and case.find("skipped") is None
    properties = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert properties == {"clause": "ACCEPT-2", "server": "fifty", "crashed": "exit status 1"}


def test_a_baseline_never_accepts_a_crash(tmp_path: Path) -> None:
    """--update-baseline leaves the crash out and fails; a hand-written entry does not hide it."""
    baseline = tmp_path / "baseline.toml"
    status, output = run_cli(tmp_path, *FIFTY_ARGS, "--update-baseline", str(baseline))
    assert status == NOT_CONFORMANT, output
    assert BURST_TEST not in baseline.read_text()
    assert f"not baselined: [fifty] {BURST_TEST} (ACCEPT-2) crashed the server" in output
    baseline.write_text(f'[fifty]\n{BURST_TEST} = {{ clause = "ACCEPT-2", why = "dies" }}\n')
    status, output = run_cli(tmp_path, *FIFTY_ARGS, "--baseline", str(baseline))
    assert status == NOT_CONFORMANT, output
    assert report(tmp_path)["verdicts"] == {"fifty": {"ACCEPT-2": "CRASH"}}


def test_strict_fails_the_run_on_an_unmet_should_clause(tmp_path: Path) -> None:
    server = template(BROKEN / "tiny_backlog.py")
    args = ("--server-cmd", server, "--name", "tiny", "--clause", "ACCEPT-2", "-n", "0")
    status, output = run_cli(tmp_path, *args, "--strict")
    assert status == NOT_CONFORMANT, output
    assert report(tmp_path)["verdicts"] == {"tiny": {"ACCEPT-2": "NON-STRICT"}}
    assert "[tiny] SHOULD clause ACCEPT-2 not met: this fails the run" in output


def test_crash_after_heavy_output_shows_its_traceback(tmp_path: Path) -> None:
    """The traceback went to stderr before the buffered stdout was flushed at exit: the log's
    last lines are chatter, and the report must still show why the server died."""
    server = template(ODD / "chatty_then_raises.py")
    args = ("--server-cmd", server, "--name", "chatty", "--clause", "ECHO-1", "-n", "0")
    status, output = run_cli(tmp_path, *args)
    assert status == NOT_CONFORMANT, output
    [result] = report(tmp_path)["results"]
    assert result["verdict"] == "CRASH"
    assert "chatter line 1999" in result["log"] and "RuntimeError" not in result["log"]
    assert result["crash"].count("Traceback (most recent call last):") == 1
    assert result["crash"].endswith("| RuntimeError: chatty server gives up")
    markdown = (tmp_path / "report.md").read_text()
    assert "## Crashes" in markdown and f"\n    {result['crash'].splitlines()[-1]}\n" in markdown
    assert "RuntimeError: chatty server gives up" in (tmp_path / "report.html").read_text()


def test_daemonizing_server_is_named_and_none_of_it_is_left(tmp_path: Path) -> None:
    server = template(ODD / "daemonizes.py")
    args = ("--server-cmd", server, "--name", "daemon", "--clause", "ECHO-1", "-n", "0")
    status, output = run_cli(tmp_path, *args)
    assert status == RUN_FAILED, output
    assert "the server detached from its process group (daemonized)" in output
    [result] = report(tmp_path)["results"]
    assert result["verdict"] == "ERROR"
    daemons = [int(pid) for pid in re.findall(r"daemon pid (\d+)", result["evidence"])]
    assert daemons, result["evidence"]
    assert not [pid for pid in daemons if running(pid)], "the daemon outlived the run"


def running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie has exited)."""
    try:
        return procfs.stat_fields(Path(f"/proc/{pid}/stat").read_bytes())[0] != b"Z"
    except OSError:
        return False


def test_server_that_never_listens_exits_2_naming_the_command(tmp_path: Path) -> None:
    server = template(BROKEN / "never_listens.py")
    status, output = run_cli(tmp_path, "--server-cmd", server, "--clause", "ECHO-1", "-n", "0")
    assert status == RUN_FAILED, output
    assert "server never listened within 5 s" in output and "never_listens.py" in output
    [result] = report(tmp_path)["results"]
    assert result["verdict"] == "ERROR"
    # A harness error keeps its traceback: where the kit failed matters more than the message.
    assert "server never listened" in result["evidence"] and "server.py" in result["evidence"]


def test_unknown_clause_exits_2_listing_the_valid_ones(tmp_path: Path) -> None:
    status, output = run_cli(tmp_path, "--clause", "ECHO-99")
    assert status == RUN_FAILED
    assert "unknown clause or area 'ECHO-99'" in output and "ECHO-1" in output


def test_baseline_accepts_known_failures_and_flags_stale_ones(tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.toml"
    broken = template(BROKEN / "close_without_flush.py")
    args = ("--clause", "CLOSE-3", "--name", "mine", "-n", "0")
    update = ("--update-baseline", str(baseline))
    status, output = run_cli(tmp_path, "--server-cmd", broken, *args, *update)
    assert status == CONFORMANT, output
    assert "test_echo_still_owed_at_half_close_is_flushed_then_eof" in baseline.read_text()
    status, output = run_cli(tmp_path, "--server-cmd", broken, *args, "--baseline", str(baseline))
    assert status == CONFORMANT, output
    assert report(tmp_path)["totals"] == {"XFAIL": 1}
    fixed = template(BROKEN / "correct_baseline.py")
    status, output = run_cli(tmp_path, "--server-cmd", fixed, *args, "--baseline", str(baseline))
    assert status == NOT_CONFORMANT
    assert "stale baseline entry [mine]" in output


def test_dead_baseline_entry_fails_the_run(tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.toml"
    baseline.write_text('[mine]\ntest_no_such_thing = { clause = "ECHO-1", why = "gone" }\n')
    server = template(ROOT / "implementations" / "selectors_echo.py")
    args = ("--server-cmd", server, "--name", "mine", "--clause", "ECHO-1", "-n", "0")
    status, output = run_cli(tmp_path, *args, "--baseline", str(baseline))
    assert status == NOT_CONFORMANT
    assert "dead baseline entry [mine] test_no_such_thing" in output
    # Recorded in report.json too: a merge of this report must not call it conformant.
    [problem] = report(tmp_path)["runs"][0]["problems"]
    assert problem.startswith("dead baseline entry [mine] test_no_such_thing")


@contextlib.contextmanager
def server_started_by_hand(host: str) -> Iterator[str]:
    """The port of a reference server started outside the kit on ``host``, as a user would."""
    server = ROOT / "implementations" / "epoll_echo.py"
    command = [sys.executable, str(server), "--host", host, "--port", "0"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as running:
        try:
            assert running.stdout is not None
            yield running.stdout.readline().split()[2]
        finally:
            running.terminate()


def test_running_server_by_address_makes_process_clauses_na(tmp_path: Path) -> None:
    with server_started_by_hand("127.0.0.1") as port:
        args = ("--server-addr", f"127.0.0.1:{port}", "--clause", "ECHO-1,RES-1", "-n", "0")
        status, output = run_cli(tmp_path, *args)
    assert status == CONFORMANT, output
    results = {r["clause"]: r for r in report(tmp_path)["results"]}
    assert results["ECHO-1"]["verdict"] == "PASS"
    assert results["RES-1"]["verdict"] == "N/A"
    assert "--server-addr" in results["RES-1"]["reason"]


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed")
def test_html_report_shows_hostile_bytes_as_text_in_a_real_browser(tmp_path: Path) -> None:
    stub = tmp_path / "hostile.py"
    stub.write_text(HOSTILE)
    server = f"{sys.executable} {stub} {{host}} {{port}}"
    status, _ = run_cli(tmp_path, "--server-cmd", server, "--name", "hostile", "--clause", "ECHO-1")
    assert status == NOT_CONFORMANT
    page = tmp_path / "report.html"
    browser = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1200,900"]
    dom = subprocess.run(
        [*browser, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=60
    ).stdout
    assert "owned" not in dom.split("</title>")[0]  # the page's title was not rewritten
    assert "<script" not in dom  # the server's markup was never parsed as markup
    assert "&lt;script&gt;" in dom and "\\x1b[31m" in dom  # shown as text, escapes visible
    assert '<a href="#cell-hostile-ECHO-1">FAIL</a></td>' in dom
    # The page reads like a page: titles in the grid, the clause's Markdown rendered.
    assert '<td class="title">A small message comes back promptly</td>' in dom
    assert "<strong>Provoke.</strong> Connect, send" in dom and "**" not in dom
    assert f'<span class="word">{html.escape(str(stub))}</span>' in dom  # the column's origin
    subprocess.run(
        [
            *browser,
            f"--screenshot={tmp_path / 'report.png'}",
            f"{page.as_uri()}#cell-hostile-ECHO-1",
        ],
        capture_output=True,
        timeout=60,
        check=True,
    )
    assert (tmp_path / "report.png").stat().st_size > 10_000


# -- one report from many runs -------------------------------------------------------------


@pytest.fixture(scope="module")
def two_jobs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The report directories two CI jobs leave: a conformant server and a failing one."""
    passing = tmp_path_factory.mktemp("job-selectors")
    server = template(ROOT / "implementations" / "selectors_echo.py")
    args = ("--clause", "ECHO-2", "-n", "0")
    status, output = run_cli(passing, "--server-cmd", server, "--name", "selectors", *args)
    assert status == CONFORMANT, output
    failing = tmp_path_factory.mktemp("job-decodes")
    server = template(BROKEN / "decodes_utf8.py")
    status, output = run_cli(failing, "--server-cmd", server, "--name", "decodes", *args)
    assert status == NOT_CONFORMANT, output
    return passing, failing


def test_merge_shows_both_servers_and_where_each_came_from(
    two_jobs: tuple[Path, Path], tmp_path: Path
) -> None:
    passing, failing = two_jobs
    status, output = conformance("merge", str(tmp_path), str(passing), str(failing))
    assert status == NOT_CONFORMANT, output  # one of them fails: as a run of both would
    assert {p.name for p in tmp_path.iterdir()} == set(FILES)
    merged = report(tmp_path)
    assert merged["verdicts"] == {"decodes": {"ECHO-2": "FAIL"}, "selectors": {"ECHO-2": "PASS"}}
    assert {r["server"] for r in merged["results"]} == {"decodes", "selectors"}
    origin = {server: run for run in merged["runs"] for server in run["servers"]}
    for server, job, program in (
        ("selectors", passing, "selectors_echo.py"),
        ("decodes", failing, "decodes_utf8.py"),
    ):
        run = origin[server]
        assert (run["source"], run["directory"]) == (str(job), str(job.resolve()))
        assert run["host"] == socket.gethostname() and run["kit_version"] == __version__
        assert run["started"] <= run["finished"] and program in run["servers"][server]
    assert "| ECHO-2 | MUST | FAIL | PASS |" in (tmp_path / "report.md").read_text()
    page = (tmp_path / "report.html").read_text()
    assert html.escape(str(passing)) in page and "<script" not in page
    # junit.xml: the cases and outcomes pytest's own junit.xml gave each run.
    assert junit_cases(tmp_path) == junit_cases(passing) | junit_cases(failing)
    suites = ET.parse(tmp_path / "junit.xml").getroot()
    assert [suite.get("name") for suite in suites] == ["decodes", "selectors"]


def junit_cases(report_dir: Path) -> set[tuple[str, str, str, str]]:
    """(classname, name, outcome, clause) of every testcase in the directory's junit.xml."""
    found = set()
    for case in ET.parse(report_dir / "junit.xml").getroot().iter("testcase"):
        outcomes = [e.tag for e in case if e.tag in ("failure", "error", "skipped")]
        clause = case.find("properties/property[@name='clause']")
        assert clause is not None
        outcome = outcomes[0] if outcomes else "passed"
        found.add(
            (case.get("classname", ""), case.get("name", ""), outcome, clause.get("value", ""))
        )
    return found


def test_merge_keeps_both_columns_of_one_server_name(
    two_jobs: tuple[Path, Path], tmp_path: Path
) -> None:
    passing, _ = two_jobs
    again = shutil.copytree(passing, tmp_path / "again")  # the same server, another job
    status, output = conformance("merge", str(tmp_path / "out"), str(passing), str(again))
    assert status == CONFORMANT, output
    merged = report(tmp_path / "out")
    columns = [f"selectors@{passing}", f"selectors@{again}"]
    assert merged["servers"] == sorted(columns)
    assert [server for run in merged["runs"] for server in run["servers"]] == columns
    assert {r["server"] for r in merged["results"]} == set(columns)


def test_merge_refuses_different_spec_versions(two_jobs: tuple[Path, Path], tmp_path: Path) -> None:
    passing, failing = two_jobs
    older = tmp_path / "older"
    older.mkdir()
    document = report(failing) | {"spec_version": "0.9.0"}
    (older / "report.json").write_text(json.dumps(document))
    status, output = conformance("merge", str(tmp_path / "out"), str(passing), str(older))
    assert status == RUN_FAILED
    expected = f"{passing} is spec {spec.load().version}, {older} is spec 0.9.0"
    assert f"cannot merge reports of different spec versions: {expected}" in output
    assert not (tmp_path / "out").exists()


def test_merge_refuses_a_directory_without_report(
    two_jobs: tuple[Path, Path], tmp_path: Path
) -> None:
    status, output = conformance("merge", str(tmp_path / "out"), str(two_jobs[0]), str(tmp_path))
    assert status == RUN_FAILED
    assert f"{tmp_path / 'report.json'}: no such report" in output


@pytest.mark.parametrize(
    ("totals", "problems", "status"),
    [
        ({"PASS": 3, "N/A": 1, "XFAIL": 1, "NON-STRICT": 1}, [], CONFORMANT),
        ({"PASS": 3}, ["dead baseline entry [x] test_y: no such test ran"], NOT_CONFORMANT),
        ({"PASS": 3, "FAIL": 1}, [], NOT_CONFORMANT),
        ({"CRASH": 1}, [], NOT_CONFORMANT),
        ({"TIMEOUT": 1}, [], NOT_CONFORMANT),
        ({"XPASS-STRICT": 1}, [], NOT_CONFORMANT),
        ({"FAIL": 1, "ERROR": 1}, [], RUN_FAILED),
    ],
)
def test_merged_exit_status_follows_the_rules_of_a_run(
    totals: dict[str, int], problems: list[str], status: int
) -> None:
    document = {"totals": totals, "runs": [{"problems": []}, {"problems": problems}]}
    assert document_status(document) == status


# -- the page reads like a page -----------------------------------------------------------

MARKUP = "<img src=x onerror=alert(1)><script>alert(1)</script>"


@pytest.mark.parametrize(
    ("text", "page"),
    [
        (
            '**Provoke.** Send `b"x"`.',
            "<p><strong>Provoke.</strong> Send <code>b&quot;x&quot;</code>.</p>",
        ),
        ("one\nline\n\nanother", "<p>one line</p>\n<p>another</p>"),
        ("- a `x`\n- b\n  more", "<ul><li>a <code>x</code></li><li>b more</li></ul>"),
        ("`**not bold**`", "<p><code>**not bold**</code></p>"),
        (f"**{MARKUP}** `{MARKUP}`", "<p><strong>&lt;img src=x onerror=alert(1)&gt;&lt;script&gt;"),
    ],
)
def test_clause_markdown_is_rendered_after_escaping(text: str, page: str) -> None:
    assert report_html.markdown(text).startswith(page)
    assert "<script" not in report_html.markdown(text) and "<img" not in report_html.markdown(text)


def test_page_escapes_hostile_text_in_every_place_a_report_holds_it(
    two_jobs: tuple[Path, Path],
) -> None:
    """A report.json read back for a merge is as untrusted as what a server sent."""
    document = report(two_jobs[1])
    run, clause, result = document["runs"][0], document["clauses"][0], document["results"][0]
    run |= {"host": MARKUP, "servers": {MARKUP: MARKUP}, "problems": [MARKUP], "source": MARKUP}
    clause |= {"id": MARKUP, "title": MARKUP, "text": f"**{MARKUP}**\n\n`{MARKUP}`"}
    result |= {"clause": MARKUP, "server": MARKUP, "evidence": MARKUP, "log": MARKUP}
    result |= {"verdict": "FAIL", "test": MARKUP}
    document |= {"servers": [MARKUP], "verdicts": {MARKUP: {MARKUP: MARKUP}}, "totals": {MARKUP: 1}}
    page = report_html.render(document)
    assert "<script" not in page and "<img" not in page
    assert page.count("&lt;script&gt;") >= 10


# -- servers in other languages ------------------------------------------------------------
# node, socat and the C baseline are cells of the interop matrix (tox -e interop compares their
# verdicts with interop/expected.toml, three runs measured); Go's example stays here for what
# the grid cannot say: its crash evidence.
GO_EXAMPLE = ROOT / "examples" / "go-echo"
# log.Fatal on any Accept error: EMFILE ends it, in RES-4 and in RES-5 (which holds it at the
# same limit). Each open connection holds 3 fds (its socket and a pipe pair of Go's splice
# pool): MUX-5 gives it room for that.
GO_CRASHES = {"RES-4": "CRASH", "RES-5": "CRASH"}
# Built with CGO_ENABLED=0 it is a static binary: no dynamic loader reads LD_PRELOAD.
GO_NOT_INTERPOSED = {c: "N/A" for c in ("ABORT-4", "ABORT-5", *(f"FAULT-{n}" for n in range(1, 7)))}


def verdicts_other_than_pass(report_dir: Path) -> dict[str, str]:
    [cells] = report(report_dir)["verdicts"].values()
    return {clause: verdict for clause, verdict in cells.items() if verdict != "PASS"}


@pytest.fixture(scope="module")
def go_echo() -> Path:
    try:
        return go_program(GO_EXAMPLE)
    except BuildUnavailable as exc:
        pytest.skip(f"the Go example cannot be built: {exc}")


def test_go_net_listener_example_fails_only_by_dying_at_its_fd_limit(
    tmp_path: Path, go_echo: Path
) -> None:
    """Go's pool of splice pipes keeps fds open after sessions: no fd clause may call it a
    leak (RES-1, RES-2, RES-8, ABORT-6, MODEL-1 pass); its log.Fatal on EMFILE is a crash."""
    template = f"{go_echo} --host {{host}} --port {{port}}"
    status, output = run_cli(tmp_path, "--server-cmd", template, "--name", "go")
    assert status == NOT_CONFORMANT, output
    gaps = verdicts_other_than_pass(tmp_path)
    assert gaps == GO_NOT_INTERPOSED | GO_CRASHES
    for result in report(tmp_path)["results"]:
        if result["clause"] in GO_CRASHES:
            assert "accept4: too many open files" in result["log"], result


def test_untrusted_text_is_capped_and_shows_control_characters() -> None:
    shown = untrusted("\x00\x1b[31m\tok\n" + "x" * 10_000)
    assert shown.startswith("\\x00\\x1b[31m\tok\n")
    assert len(shown) < EVIDENCE_CAP + 100 and shown.endswith("more characters cut]")


def test_level_selects_clauses_by_level(tmp_path: Path) -> None:
    server = template(ROOT / "implementations" / "epoll_echo.py")
    args = ("--server-cmd", server, "--name", "e", "--clause", "ACCEPT", "--level", "should")
    status, output = run_cli(tmp_path, *args, "-n", "0")
    assert status == CONFORMANT, output
    assert report(tmp_path)["verdicts"] == {"e": {"ACCEPT-2": "PASS"}}


def test_timeout_multiplier_scales_every_deadline_and_must_be_positive(tmp_path: Path) -> None:
    status, output = run_cli(tmp_path, "--timeout-multiplier", "0", "--clause", "ECHO-1")
    assert status == RUN_FAILED and "--timeout-multiplier must be positive" in output
    waiting.TIME_SCALE = 3.0
    try:
        with pytest.raises(waiting.DeadlineExceeded, match=r"not within 0\.03 s"):
            waiting.wait_until(lambda: False, 0.01, "never")
    finally:
        waiting.TIME_SCALE = 1.0
