"""The pytest plugin: which servers the suite runs against, clause markers, verdicts.

Rules this plugin keeps:
- Every conformance test carries ``@pytest.mark.clause("ID")`` naming a clause of the spec;
  an unknown id is a collection error, and ``--clause`` selects by id or area.
- The suite is parametrized over every server under ``implementations/`` (sorted, id = file
  stem) or, with ``--server-cmd``, over external commands instead; ``--server-host`` puts
  them on another loopback address (``::1``: the whole suite over IPv6).
- A failed SHOULD clause is reported as NON-STRICT and does not fail the run (unless
  ``--strict-should``); a failed MUST clause does. Known failures from expectations files are
  strict: a pass fails the run.
- A test that fails while its server has died is CRASH, with exit status and log tail, whatever
  the clause's level: a crash is never softened to NON-STRICT, never accepted by a --baseline
  and never written by --update-baseline (only the bundled servers' own expectations.toml
  may list one, each saying why).
- Under ``-n`` with ``--dist loadgroup`` (the CLI's), a module's tests against one server run
  on one worker, and the heavy tests all on one (``conformance/scheduling.py``).
"""

from __future__ import annotations

import functools
import ipaddress
import re
import socket
import tomllib
from collections.abc import Generator, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from conformance import __version__, spec
from conformance.harness import addresses, procfs, waiting
from conformance.harness.server import LaunchError, ServerCommand, ServerProcess, stop_all
from conformance.reports import expectations
from conformance.reports.expectations import Expectation
from conformance.reports.files import write_reports
from conformance.reports.report import CRASH_EVIDENCE, Report
from conformance.reports.verdicts import NON_STRICT, render_grid

IMPLEMENTATIONS = Path(__file__).resolve().parents[1] / "implementations"
# Verdicts an --update-baseline run records as known failures: never CRASH.
BASELINED = ("FAIL", "TIMEOUT", "NON-STRICT", "XFAIL")
DEFAULT_TIMEOUT = 60.0  # seconds per test, when the run does not configure pytest-timeout
# What a server under test can make a test raise; anything else is a fault of the kit.
VIOLATIONS = (AssertionError, pytest.fail.Exception, LaunchError, ConnectionError, TimeoutError)
# How a server that cannot listen on an IPv6 host at all says so: the kernel's EAFNOSUPPORT
# ("Address family not supported by protocol": an AF_INET socket given ::1) or getaddrinfo's
# EAI_ADDRFAMILY ("Address family for hostname not supported": the seeds' socket(AF_INET)).
NO_IPV6 = re.compile(r"^.*address family.*$", re.IGNORECASE | re.MULTILINE)
# Set on a test whose expected failure comes from --baseline: a crash there is still CRASH.
FROM_BASELINE = pytest.StashKey[bool]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("conformance", "echo server conformance")
    group.addoption(
        "--server-cmd",
        action="append",
        default=[],
        metavar="TEMPLATE",
        help="run the suite against this command instead of the bundled implementations; "
        "{host} and {port} are filled in, e.g. 'node echo.js {port}' (repeatable)",
    )
    group.addoption(
        "--server-addr",
        action="append",
        default=[],
        metavar="HOST:PORT",
        help="run the suite against a server already running there; clauses that need its "
        "process (fds, CPU, signals, restarts) are N/A (repeatable)",
    )
    group.addoption(
        "--server-host",
        default=addresses.IPV4_LOOPBACK,
        metavar="ADDRESS",
        help="the address the servers the suite starts listen on, given to them as {host} "
        "(default 127.0.0.1; ::1 runs the suite over IPv6); N/A everywhere if this machine "
        "has no such loopback address",
    )
    group.addoption(
        "--name",
        action="append",
        default=[],
        help="a name for each --server-cmd, then each --server-addr, in the same order "
        "(default: server1, server2, ...)",
    )
    group.addoption(
        "--clause",
        default="",
        metavar="IDS",
        help="run only these clauses: comma-separated ids (ECHO-2) or areas (ECHO)",
    )
    group.addoption(
        "--level",
        choices=("must", "should"),
        default=None,
        help="run only the clauses of this level",
    )
    group.addoption(
        "--baseline",
        default="",
        metavar="FILE",
        help="known failures of the servers under test (expectations TOML: "
        "[server] test = { clause = 'ID', why = '...' }); entries that now pass (stale) or "
        "match no test (dead) fail the run",
    )
    group.addoption(
        "--update-baseline",
        default="",
        metavar="FILE",
        help="write every test that did not pass to FILE as a baseline, and accept the run",
    )
    group.addoption(
        "--strict-should",
        action="store_true",
        help="an unmet SHOULD clause (NON-STRICT) fails the run, as a MUST clause does "
        "(python -m conformance --strict)",
    )
    group.addoption(
        "--timeout-multiplier",
        type=float,
        default=1.0,
        metavar="X",
        help="multiply every deadline the suite waits on by X (a slow or loaded machine)",
    )
    group.addoption(
        "--progress",
        action="store_true",
        help="print one line per finished test: server, clause, verdict, test",
    )
    group.addoption(
        "--report-dir",
        default="",
        metavar="DIR",
        help="write report.json, report.md and report.html to DIR",
    )
    group.addoption(
        "--spread-heavy",
        action="store_true",
        help="with -n and --dist loadgroup, let the heavy tests (CPU sampling, memory, thousands "
        "of connections) of different servers run at once; by default they share one worker",
    )
    group.addoption(
        "--implementations",
        default=str(IMPLEMENTATIONS),
        metavar="DIR",
        help="directory whose servers the suite runs against by default: *.py, seed/*.py, and "
        "C sources c/*.c, compiled on first use",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "clause(id): the spec clause (e.g. ECHO-2) this test checks; required"
    )
    # pytest-xdist registers it too; without xdist (-p no:xdist) it must still be known.
    config.addinivalue_line(
        "markers", "xdist_group(name): run with the other tests of this group on one worker"
    )
    wanted = config.getoption("--clause")
    if wanted:
        try:
            spec.load().select(wanted)
        except ValueError as exc:
            raise pytest.UsageError(f"--clause: {exc}") from None
    names = config.getoption("--name")
    if len(names) > len(config.getoption("--server-cmd")) + len(config.getoption("--server-addr")):
        raise pytest.UsageError("--name given more often than --server-cmd and --server-addr")
    server_commands(config)  # a bad --server-cmd template is a usage error before anything runs
    host = server_host(config)
    if not ipaddress.ip_address(host).is_loopback and _missing(host):
        raise pytest.UsageError(f"--server-host: {_missing(host)}")
    multiplier = config.getoption("--timeout-multiplier")
    if multiplier <= 0:
        raise pytest.UsageError(f"--timeout-multiplier must be positive, not {multiplier}")
    waiting.TIME_SCALE = multiplier


def pytest_report_header(config: pytest.Config) -> list[str]:
    servers = ", ".join(c.name for c, _ in server_commands(config)) or "none"
    return [
        f"echo-server spec {spec.load().version} ({spec.SPEC_PATH}), kit {__version__}",
        f"servers under test: {servers}",
        f"servers started on: {server_host(config)}",
    ]


def server_host(config: pytest.Config) -> str:
    """--server-host, normalised (a UsageError if it is no IP address)."""
    try:
        return addresses.parse_host(config.getoption("--server-host"))
    except ValueError as exc:
        raise pytest.UsageError(f"--server-host: {exc}") from None


@functools.cache
def _missing(host: str) -> str | None:
    return addresses.cannot_bind(host)


def server_commands(config: pytest.Config) -> list[tuple[ServerCommand, Path | None]]:
    """(command, file it came from) for every server under test, sorted for xdist."""
    templates, running = config.getoption("--server-cmd"), config.getoption("--server-addr")
    host = server_host(config)
    if templates or running:
        given = len(templates) + len(running)
        names = config.getoption("--name")
        names += [f"server{i}" for i in range(len(names) + 1, given + 1)]
        try:
            pairs = zip(names[: len(templates)], templates, strict=True)
            commands = [ServerCommand.from_template(n, t).on(host) for n, t in pairs]
            named = zip(names[len(templates) :], running, strict=True)
            commands += [ServerCommand.running_at(n, a) for n, a in named]
        except LaunchError as exc:
            raise pytest.UsageError(str(exc)) from None
        return [(c, None) for c in commands]
    return [
        (ServerCommand.bundled(p).on(host), p)
        for p in bundled(Path(config.getoption("--implementations")))
    ]


def bundled(root: Path) -> list[Path]:
    """The server files under ``root``: *.py, seed/*.py and the C sources c/*.c (compiled on
    first launch), helpers (_*) aside, sorted."""
    found = [*root.glob("*.py"), *root.glob("seed/*.py"), *root.glob("c/*.c")]
    return sorted(p for p in found if p.stem[0] != "_")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "server_command" in metafunc.fixturenames:
        commands = [c for c, _ in server_commands(metafunc.config)]
        metafunc.parametrize(
            "server_command", commands, ids=[c.name for c in commands], scope="module"
        )


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """--dist loadgroup: the suite's work units are a module's tests against one server, and
    the heavy tests together (conformance/scheduling.py says why not xdist's own rule)."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from conformance.scheduling import SuiteScheduling  # imports xdist, which is optional here

    return SuiteScheduling(config, log)


def clause_of(item: pytest.Item) -> spec.Clause | None:
    marker = item.get_closest_marker("clause")
    return spec.load().clauses.get(marker.args[0]) if marker else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    clauses = spec.load().clauses
    if not server_commands(config) and any("server_command" in _fixtures(i) for i in items):
        root = config.getoption("--implementations")
        raise pytest.UsageError(
            f"no servers to test: none under {root} (*.py, seed/*.py, c/*.c); "
            "give one with --server-cmd 'CMD {host} {port}'"
        )
    known, baseline = _expectations(config), _baseline(config)
    wanted = _wanted_clauses(config)
    default_timeout = None if _timeout_configured(config) else pytest.mark.timeout(DEFAULT_TIMEOUT)
    selected, deselected = [], []
    for item in items:
        marker = item.get_closest_marker("clause")
        if marker is None:
            selected.append(item)
            continue
        cid = marker.args[0]
        if cid not in clauses:
            raise pytest.UsageError(f"{item.nodeid}: clause {cid!r} is not in {spec.SPEC_PATH}")
        if cid not in wanted:
            deselected.append(item)
            continue
        selected.append(item)
        if default_timeout and item.get_closest_marker("timeout") is None:
            item.add_marker(default_timeout)
        command = _command_of(item)
        if command is None:
            continue
        item.user_properties += [("clause", cid), ("server", command.name)]
        key = (command.name, getattr(item, "originalname", item.name))
        if key in known:
            _expect_failure(item, known[key], cid)
            item.stash[FROM_BASELINE] = key in baseline
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected


def _fixtures(item: pytest.Item) -> list[str]:
    names: list[str] = getattr(item, "fixturenames", [])
    return names


def _wanted_clauses(config: pytest.Config) -> set[str]:
    """The clause ids --clause and --level select (all of them by default)."""
    document = spec.load()
    chosen = config.getoption("--clause")
    wanted = document.select(chosen) if chosen else set(document.clauses)
    level = config.getoption("--level")
    if level:
        wanted &= {c.id for c in document.clauses.values() if c.level == level.upper()}
    return wanted


def _timeout_configured(config: pytest.Config) -> bool:
    """Whether pytest-timeout was given a timeout; if not, each test gets DEFAULT_TIMEOUT."""
    return bool(config.getoption("timeout", None) or config.getini("timeout"))


def _command_of(item: pytest.Item) -> ServerCommand | None:
    callspec = getattr(item, "callspec", None)
    command = callspec.params.get("server_command") if callspec else None
    return command if isinstance(command, ServerCommand) else None


def _expectations(config: pytest.Config) -> Mapping[tuple[str, str], Expectation]:
    found: dict[tuple[str, str], Expectation] = dict(_baseline(config))
    for command, path in server_commands(config):
        if path is None:
            continue
        try:
            entries = expectations.beside(path)
        except ValueError as exc:
            raise pytest.UsageError(str(exc)) from None
        found.update({k: v for k, v in entries.items() if k[0] == command.name})
    return found


def _baseline(config: pytest.Config) -> Mapping[tuple[str, str], Expectation]:
    path = config.getoption("--baseline")
    if not path:
        return {}
    try:
        return expectations.load(Path(path))
    except FileNotFoundError:
        raise pytest.UsageError(f"--baseline: no such file: {path}") from None
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise pytest.UsageError(f"--baseline: {exc}") from None


def _expect_failure(item: pytest.Item, known: Expectation, cid: str) -> None:
    if known.clause != cid:
        raise pytest.UsageError(
            f"expectation [{known.server}] {known.test} says clause {known.clause}, "
            f"but the test checks {cid}"
        )
    item.add_marker(pytest.mark.xfail(reason=f"{cid}: {known.why}", strict=True))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    # Our wrapper runs after pytest's xfail handling: an expected failure arrives skipped.
    expected_failure = report.skipped and hasattr(report, "wasxfail") and call.excinfo is not None
    if call.when == "teardown" or not (report.failed or expected_failure):
        return report
    servers = _servers_of(item)
    crashed = next((s for s in servers if not s.alive and not s.signalled), None)
    if crashed is not None:
        report.sections.append(("server crashed", crashed.crash_report()))
        evidence = crashed.crash_evidence()
        if evidence:
            report.sections.append((CRASH_EVIDENCE, evidence))
        crash = ("crashed", crashed.exit_description())
        report.user_properties.append(crash)
        item.user_properties.append(crash)  # JUnit writes the properties of the teardown report
        if expected_failure and item.stash.get(FROM_BASELINE, False):
            # A baseline accepts failures, never a crash (README "Baselines").
            report.outcome = "failed"
            del report.wasxfail
    elif report.failed:
        for server in servers:
            report.sections.append(("server log", server.log_tail()))
    if not report.failed or call.when != "call" or call.excinfo is None:
        return report
    if not call.excinfo.errisinstance(VIOLATIONS):
        # Reported as ERROR, and never softened to NON-STRICT below.
        report.user_properties.append(("harness error", call.excinfo.typename))
        return report
    clause = clause_of(item)
    expected_to_fail = item.get_closest_marker("xfail") is not None
    if clause and clause.level == "SHOULD" and not expected_to_fail and crashed is None:
        report.outcome = "skipped"
        report.wasxfail = (
            f"{NON_STRICT}: SHOULD clause {clause.id} not met: {call.excinfo.exconly()}"
        )
    return report


def _servers_of(item: pytest.Item) -> list[ServerProcess]:
    funcargs: dict[str, Any] = getattr(item, "funcargs", {})
    # module_server and server are the same process: keep each once.
    found = list({id(v): v for v in funcargs.values() if isinstance(v, ServerProcess)}.values())
    launcher = funcargs.get("launch")
    if isinstance(launcher, Launcher):
        found += launcher.started
    return found


def pytest_sessionfinish(session: pytest.Session) -> None:
    stop_all()
    if hasattr(session.config, "workerinput"):  # xdist: the controller writes the reports
        return
    update = session.config.getoption("--update-baseline")
    problems = [] if update else _baseline_problems(session.config)
    report_dir = session.config.getoption("--report-dir")
    if report_dir:
        commands = {c.name: c.shown() for c, _ in server_commands(session.config)}
        document = _report.as_dict(Path(report_dir), commands, problems)
        write_reports(document, Path(report_dir), junit=False)  # pytest's --junitxml writes it
    harness_failed = any(r.verdict == "ERROR" for r in _report.results)
    crashes = [r for r in _report.results if r.verdict == "CRASH"]
    if update:
        Path(update).write_text(expectations.dump(_known_failures(session.config)))
        _baseline_news.append(f"baseline written to {update}")
        _baseline_news.extend(
            f"not baselined: [{r.server}] {r.test} ({r.clause}) crashed the server; "
            "a baseline never accepts a crash"
            for r in crashes
        )
        if not harness_failed:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED if crashes else pytest.ExitCode.OK
        return
    _baseline_news.extend(problems)
    if session.config.getoption("--strict-should"):
        _strict_news.extend(_unmet_should_clauses())
        problems += _strict_news
    if problems and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# Lines for the terminal summary about the baseline: written there, after the session ends.
_baseline_news: list[str] = []
# Lines for the terminal summary about SHOULD clauses that fail the run (--strict-should).
_strict_news: list[str] = []


def _baseline_problems(config: pytest.Config) -> list[str]:
    """Stale entries (the test now passes) and dead ones (no test ran for them)."""
    entries = _baseline(config)
    ran = {(r.server, r.test): r for r in _report.results}
    wanted = _wanted_clauses(config)
    problems = []
    for key, entry in sorted(entries.items()):
        result = ran.get(key)
        where = f"[{entry.server}] {entry.test}"
        if result is None and entry.clause in wanted:
            problems.append(f"dead baseline entry {where}: no such test ran for that server")
        elif result is not None and result.verdict == "XPASS-STRICT":
            problems.append(f"stale baseline entry {where}: it passes now")
    return problems


def _unmet_should_clauses() -> list[str]:
    """With --strict-should, every NON-STRICT cell fails the run."""
    return [
        f"[{server}] SHOULD clause {clause} not met: this fails the run (--strict-should)"
        for server, cells in _report.verdicts().items()
        for clause, verdict in cells.items()
        if verdict == NON_STRICT
    ]


def _known_failures(config: pytest.Config) -> list[Expectation]:
    """Every test that did not pass, as a baseline entry (reasons kept from the old baseline)."""
    old = _baseline(config)
    found = []
    for r in _report.results:
        if r.verdict not in BASELINED:
            continue
        previous = old.get((r.server, r.test))
        observed = next(iter((r.evidence or r.reason).splitlines()), "")
        observed = re.sub(r"^[\w.]+: ", "", observed)[:200]  # without the exception's type
        why = previous.why if previous else observed
        found.append(Expectation(r.server, r.test, r.clause, why or r.verdict))
    return found


# -- fixtures ------------------------------------------------------------------------------


class Launcher:
    """Starts fresh instances of the server under test; stops them all at teardown."""

    def __init__(self, command: ServerCommand, log_dir: Path) -> None:
        self.command, self.log_dir = command, log_dir
        self.started: list[ServerProcess] = []

    def __call__(
        self,
        port: int | None = None,
        env: Mapping[str, str] | None = None,
        fd_limit: int | None = None,
    ) -> ServerProcess:
        """Start one and wait until it is ready; ``fd_limit`` sets its RLIMIT_NOFILE (soft
        and hard) before exec, whatever language it is written in."""
        if self.command.address is not None:
            pytest.skip("N/A with --server-addr: this clause starts its own server instances")
        log = self.log_dir / f"{self.command.name}-{len(self.started)}.log"
        server = ServerProcess(self.command, log, env=env or {}, fd_limit=fd_limit)
        self.started.append(server)
        return start(server, port)

    def free_port(self) -> int:
        """A port to ask a server for: free on the run's host, outside the ephemeral range."""
        return procfs.pick_free_port(self.command.host)

    def stop_all(self) -> None:
        for server in self.started:
            server.stop()


@pytest.fixture(scope="module")
def module_server(
    server_command: ServerCommand, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    log = tmp_path_factory.mktemp(server_command.name) / "server.log"
    if server_command.address is not None:
        yield ServerProcess.attach(server_command, log)
        return
    server = ServerProcess(server_command, log)
    try:
        yield start(server)
    finally:
        server.stop()


def start(server: ServerProcess, port: int | None = None) -> ServerProcess:
    """Start ``server``; N/A when the run's host cannot be had: the machine has no such
    loopback address (IPv6 disabled), or the server is IPv4-only and the host is IPv6."""
    missing = _missing(server.host)
    if missing:
        pytest.skip(f"N/A: {missing}")
    try:
        return server.start(port)
    except LaunchError:
        said = NO_IPV6.search(server.log_path.read_text(errors="replace"))
        if addresses.family(server.host) != socket.AF_INET6 or said is None:
            raise
        pytest.skip(
            f"N/A over IPv6: the server cannot listen on {server.host}, "
            f"it is IPv4-only ({said.group().strip()})"
        )


@pytest.fixture
def server(module_server: ServerProcess) -> ServerProcess:
    """The module's shared server, restarted first if an earlier test killed it."""
    module_server.restart_if_dead()
    return module_server


@pytest.fixture
def launch(server_command: ServerCommand, tmp_path: Path) -> Iterator[Launcher]:
    """A factory for fresh servers, for clauses that stop, signal or measure a server."""
    launcher = Launcher(server_command, tmp_path)
    try:
        yield launcher
    finally:
        launcher.stop_all()


# -- the verdict grid ----------------------------------------------------------------------

_report = Report()


@pytest.hookimpl(trylast=True)
def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    result = _report.add(report)
    reporter = _progress_reporter
    if result is not None and reporter is not None:
        reporter.write_line(
            f"{result.server:<16} {result.clause:<10} {result.verdict:<12} {result.test}"
        )


_progress_reporter: Any = None


@pytest.hookimpl(wrapper=True)
def pytest_report_teststatus(
    report: pytest.TestReport, config: pytest.Config
) -> Generator[None, tuple[str, str, str], tuple[str, str, str]]:
    """With --progress, the verdict lines replace pytest's progress dots."""
    category, letter, word = yield
    return (category, "", word) if config.getoption("--progress") else (category, letter, word)


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    global _progress_reporter
    if session.config.getoption("--progress") and not hasattr(session.config, "workerinput"):
        _progress_reporter = session.config.pluginmanager.get_plugin("terminalreporter")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for title, news in (("baseline", _baseline_news), ("strict", _strict_news)):
        if news:
            terminalreporter.section(title)
            for line in news:
                terminalreporter.write_line(line)
    verdicts = _report.verdicts()
    if not verdicts:
        return
    terminalreporter.section("conformance verdicts (server x clause)")
    for line in render_grid(verdicts):
        terminalreporter.write_line(line)
