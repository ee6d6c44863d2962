"""The pytest plugin: which servers the suite runs against, clause markers, verdicts.

Rules this plugin keeps:
- Every conformance test carries ``@pytest.mark.clause("ID")`` naming a clause of the spec;
  an unknown id is a collection error, and ``--clause`` selects by id or area.
- The suite is parametrized over every server under ``implementations/`` (sorted, id = file
  stem) or, with ``--server-cmd``, over external commands instead.
- A failed SHOULD clause is reported as NON-STRICT and does not fail the run; a failed MUST
  clause does. Known failures from expectations files are strict: a pass fails the run.
- A test that fails while its server has died says CRASHED, with exit status and log tail.
"""

from __future__ import annotations

import json
import os
from collections.abc import Generator, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import Phase, settings

from conformance import __version__, expectations, spec
from conformance.expectations import Expectation
from conformance.server import LaunchError, ServerCommand, ServerProcess, stop_all
from conformance.verdicts import NON_STRICT, Grid

IMPLEMENTATIONS = Path(__file__).resolve().parents[1] / "implementations"
# What a server under test can make a test raise; anything else is a fault of the kit.
VIOLATIONS = (AssertionError, pytest.fail.Exception, LaunchError, ConnectionError, TimeoutError)

# ci: the same examples every run, and no shrinking: against a server that never answers each
# shrink step costs a receive deadline, and the unshrunk chunking is evidence enough.
settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=20,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


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
        "--name",
        action="append",
        default=[],
        help="a name for each --server-cmd, in the same order (default: server1, server2, ...)",
    )
    group.addoption(
        "--clause",
        default="",
        metavar="IDS",
        help="run only these clauses: comma-separated ids (ECHO-2) or areas (ECHO)",
    )
    group.addoption(
        "--verdicts-json",
        default="",
        metavar="FILE",
        help="write the verdict of every (server, clause) to FILE as JSON",
    )
    group.addoption(
        "--implementations",
        default=str(IMPLEMENTATIONS),
        metavar="DIR",
        help="directory whose *.py servers (and seed/*.py) the suite runs against by default",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "clause(id): the spec clause (e.g. ECHO-2) this test checks; required"
    )
    wanted = config.getoption("--clause")
    if wanted:
        try:
            spec.load().select(wanted)
        except ValueError as exc:
            raise pytest.UsageError(f"--clause: {exc}") from None
    names, commands = config.getoption("--name"), config.getoption("--server-cmd")
    if len(names) > len(commands):
        raise pytest.UsageError("--name given more often than --server-cmd")


def pytest_report_header(config: pytest.Config) -> list[str]:
    servers = ", ".join(c.name for c, _ in server_commands(config))
    return [
        f"echo-server spec {spec.load().version} ({spec.SPEC_PATH}), kit {__version__}",
        f"servers under test: {servers}",
    ]


def server_commands(config: pytest.Config) -> list[tuple[ServerCommand, Path | None]]:
    """(command, file it came from) for every server under test, sorted for xdist."""
    templates = config.getoption("--server-cmd")
    if templates:
        names = config.getoption("--name")
        names += [f"server{i}" for i in range(len(names) + 1, len(templates) + 1)]
        try:
            pairs = zip(names, templates, strict=True)
            return [(ServerCommand.from_template(n, t), None) for n, t in pairs]
        except LaunchError as exc:
            raise pytest.UsageError(str(exc)) from None
    root = Path(config.getoption("--implementations"))
    files = sorted(p for p in [*root.glob("*.py"), *root.glob("seed/*.py")] if p.stem[0] != "_")
    if not files:
        raise pytest.UsageError(f"no servers found under {root} (looked for *.py, seed/*.py)")
    return [(ServerCommand.bundled(p), p) for p in files]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "server_command" in metafunc.fixturenames:
        commands = [c for c, _ in server_commands(metafunc.config)]
        metafunc.parametrize(
            "server_command", commands, ids=[c.name for c in commands], scope="module"
        )


def clause_of(item: pytest.Item) -> spec.Clause | None:
    marker = item.get_closest_marker("clause")
    return spec.load().clauses.get(marker.args[0]) if marker else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    clauses = spec.load().clauses
    known = _expectations(config)
    chosen = config.getoption("--clause")
    wanted = spec.load().select(chosen) if chosen else None
    selected, deselected = [], []
    for item in items:
        marker = item.get_closest_marker("clause")
        if marker is None:
            selected.append(item)
            continue
        cid = marker.args[0]
        if cid not in clauses:
            raise pytest.UsageError(f"{item.nodeid}: clause {cid!r} is not in {spec.SPEC_PATH}")
        if wanted is not None and cid not in wanted:
            deselected.append(item)
            continue
        selected.append(item)
        command = _command_of(item)
        if command is None:
            continue
        item.user_properties += [("clause", cid), ("server", command.name)]
        key = (command.name, getattr(item, "originalname", item.name))
        if key in known:
            _expect_failure(item, known[key], cid)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected


def _command_of(item: pytest.Item) -> ServerCommand | None:
    callspec = getattr(item, "callspec", None)
    command = callspec.params.get("server_command") if callspec else None
    return command if isinstance(command, ServerCommand) else None


def _expectations(config: pytest.Config) -> Mapping[tuple[str, str], Expectation]:
    found: dict[tuple[str, str], Expectation] = {}
    for command, path in server_commands(config):
        if path is None:
            continue
        try:
            entries = expectations.beside(path)
        except ValueError as exc:
            raise pytest.UsageError(str(exc)) from None
        found.update({k: v for k, v in entries.items() if k[0] == command.name})
    return found


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
    if not report.failed or call.when == "teardown":
        return report
    for server in _servers_of(item):
        if not server.alive and not server.signalled:
            report.sections.append(("server crashed", server.crash_report()))
            report.user_properties.append(("crashed", server.exit_description()))
            break
    if call.when != "call" or call.excinfo is None:
        return report
    if not call.excinfo.errisinstance(VIOLATIONS):
        # Reported as ERROR, and never softened to NON-STRICT below.
        report.user_properties.append(("harness error", call.excinfo.typename))
        return report
    clause = clause_of(item)
    expected_to_fail = item.get_closest_marker("xfail") is not None
    if clause and clause.level == "SHOULD" and not expected_to_fail:
        report.outcome = "skipped"
        report.wasxfail = (
            f"{NON_STRICT}: SHOULD clause {clause.id} not met: {call.excinfo.exconly()}"
        )
    return report


def _servers_of(item: pytest.Item) -> list[ServerProcess]:
    funcargs: dict[str, Any] = getattr(item, "funcargs", {})
    found = [v for v in funcargs.values() if isinstance(v, ServerProcess)]
    launcher = funcargs.get("launch")
    if isinstance(launcher, Launcher):
        found += launcher.started
    return found


def pytest_sessionfinish(session: pytest.Session) -> None:
    stop_all()
    path = session.config.getoption("--verdicts-json")
    if path and not hasattr(session.config, "workerinput"):  # xdist: the controller writes
        Path(path).write_text(json.dumps(_grid.as_dict(), indent=2, sort_keys=True) + "\n")


# -- fixtures ------------------------------------------------------------------------------


class Launcher:
    """Starts fresh instances of the server under test; stops them all at teardown."""

    def __init__(self, command: ServerCommand, log_dir: Path) -> None:
        self.command, self.log_dir = command, log_dir
        self.started: list[ServerProcess] = []

    def __call__(
        self, port: int | None = None, env: Mapping[str, str] | None = None
    ) -> ServerProcess:
        log = self.log_dir / f"{self.command.name}-{len(self.started)}.log"
        server = ServerProcess(self.command, log, env=env or {})
        self.started.append(server)
        return server.start(port)

    def stop_all(self) -> None:
        for server in self.started:
            server.stop()


@pytest.fixture(scope="module")
def module_server(
    server_command: ServerCommand, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    log = tmp_path_factory.mktemp(server_command.name) / "server.log"
    server = ServerProcess(server_command, log)
    try:
        yield server.start()
    finally:
        server.stop()


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

_grid = Grid()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _grid.add(report)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _grid.cells:
        return
    terminalreporter.section("conformance verdicts (server x clause)")
    for line in _grid.render():
        terminalreporter.write_line(line)
