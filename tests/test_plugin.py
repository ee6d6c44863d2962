"""The pytest plugin as a user meets it: header, clause selection, external commands, exit codes.

Each test runs the suite in a child pytest (pytester) and reads its output and exit status.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from conformance import spec

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "conformance" / "suite"
REFERENCE = ROOT / "implementations" / "selectors_echo.py"
BROKEN = ROOT / "tests" / "broken"
ODD = ROOT / "tests" / "odd"

pytestmark = pytest.mark.timeout(120)


def template(server: Path) -> str:
    return f"{sys.executable} {server} --host {{host}} --port {{port}}"


def run_suite(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(str(SUITE), f"--rootdir={ROOT}", "-p", "no:xdist", *args)


def test_header_shows_spec_version_and_servers(pytester: pytest.Pytester) -> None:
    result = run_suite(pytester, "--collect-only", "--clause", "ECHO-1")
    result.stdout.fnmatch_lines(
        [f"echo-server spec {spec.load().version} *", "servers under test: asyncio_echo, *"]
    )


def test_clause_selects_by_id_and_by_area(pytester: pytest.Pytester) -> None:
    by_id = run_suite(pytester, "--collect-only", "-q", "--clause", "ECHO-2", "-k", "epoll_echo")
    by_id.stdout.fnmatch_lines(["*3/*tests collected*"])  # three ECHO-2 tests, one server
    by_area = run_suite(pytester, "--collect-only", "-q", "--clause", "close", "-k", "epoll_echo")
    by_area.stdout.fnmatch_lines(["*5/*tests collected*"])


def test_unknown_clause_is_a_usage_error_listing_the_valid_ones(pytester: pytest.Pytester) -> None:
    result = run_suite(pytester, "--clause", "ECHO-99")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--clause: unknown clause or area 'ECHO-99'*ECHO-1*"])


def test_external_command_that_conforms_exits_zero(pytester: pytest.Pytester) -> None:
    result = run_suite(
        pytester, "--server-cmd", template(REFERENCE), "--name", "mine", "--clause", "ECHO-1"
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*ECHO-1*MUST*pass*"])


def test_must_violation_exits_nonzero(pytester: pytest.Pytester) -> None:
    result = run_suite(
        pytester, "--server-cmd", template(BROKEN / "line_buffered.py"), "--clause", "ECHO-1"
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*expected 5 bytes within 1 s*", "*ECHO-1*MUST*FAIL*"])


def test_should_violation_is_non_strict_and_exits_zero(pytester: pytest.Pytester) -> None:
    result = run_suite(
        pytester,
        "--server-cmd",
        template(BROKEN / "tiny_backlog.py"),
        "--clause",
        "ACCEPT-2",
        "-rx",
    )
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        ["*ACCEPT-2*SHOULD*ns*", "*NON-STRICT: SHOULD clause ACCEPT-2 not met*"]
    )


def test_strict_should_fails_the_run_on_a_non_strict_clause(pytester: pytest.Pytester) -> None:
    server = template(BROKEN / "tiny_backlog.py")
    result = run_suite(pytester, "--server-cmd", server, "--clause", "ACCEPT-2", "--strict-should")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        ["*server1] SHOULD clause ACCEPT-2 not met: this fails the run*", "*ACCEPT-2*SHOULD*ns*"]
    )


def test_crash_in_a_should_clause_is_crash_not_non_strict(pytester: pytest.Pytester) -> None:
    server = template(ODD / "dies_at_fiftieth_client.py")
    result = run_suite(pytester, "--server-cmd", server, "--clause", "ACCEPT-2")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*CRASHED: the server died (exit status 1)*", "*IndexError*", "*ACCEPT-2*SHOULD*CRASH*"]
    )


def test_crash_mid_test_is_reported_as_crashed(pytester: pytest.Pytester) -> None:
    result = run_suite(
        pytester, "--server-cmd", template(BROKEN / "dies_on_reset.py"), "--clause", "ABORT-1"
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        ["*CRASHED: the server died (exit status 1)*", "*ConnectionResetError*", "*ABORT-1*CRASH*"]
    )


def test_template_without_port_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = run_suite(pytester, "--server-cmd", "my-server --listen 8080")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*no {port} placeholder*"])


def test_expected_failure_that_passes_fails_the_run(pytester: pytest.Pytester) -> None:
    impls = pytester.mkdir("impls")
    (impls / "fixed.py").write_text(REFERENCE.read_text())
    for helper in ("_common.py", "_connection.py"):
        (impls / helper).write_text((REFERENCE.parent / helper).read_text())
    (impls / "expectations.toml").write_text(
        "[fixed]\ntest_small_message_comes_back_promptly = "
        '{ clause = "ECHO-1", why = "used to be line-buffered" }\n'
    )
    result = run_suite(pytester, "--implementations", str(impls), "--clause", "ECHO-1")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*XPASS(strict)*used to be line-buffered*", "*XPASS*"])
