"""The tutorial's servers fail for the reasons their expectations give, not for any reason.

Strict expected failures only say that a test fails. These run the seed servers' tests with
--runxfail and look for the evidence of each documented bug in the failure: the regression
check for the seed epoll's hang-up cleanup (KeyError) among them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "conformance" / "suite"

pytestmark = pytest.mark.timeout(60)

EVIDENCE = [
    # server, test, lines the failure must show
    ("seed_epoll", "test_small_message_comes_back_promptly", ["*expected 5 bytes within 1 s*"]),
    (
        "seed_epoll",
        "test_reset_of_idle_client_leaves_others_served",
        ["*CRASHED: the server died (exit status 1)*", "*ConnectionResetError*"],
    ),
    (
        "seed_epoll",
        "test_hangup_branch_does_not_crash",
        ["*CRASHED: the server died (exit status 1)*", "*KeyError*"],
    ),
    (
        "seed_epoll",
        "test_half_close_without_data_is_answered_with_eof",
        ["*CRASHED: the server died (exit status 1)*", "*Bad file descriptor*"],
    ),
    ("seed_select", "test_invalid_utf8_comes_back", ["*expected 15 bytes*connection: EOF*"]),
    (
        "seed_select",
        "test_large_payload_comes_back_complete",
        ["*echo differs: 16777216 of 16777216 bytes missing at the end*"],
    ),
    ("seed_select", "test_connect_burst_is_served_promptly", ["*clients not served within 5 s*"]),
    (
        "seed_select",
        "test_fd_exhaustion_leaves_the_server_serving",
        ["*CRASHED: the server died (exit status 1)*", "*Too many open files*"],
    ),
]


@pytest.mark.parametrize(
    ("server", "test", "lines"), EVIDENCE, ids=[f"{s}-{t}" for s, t, _ in EVIDENCE]
)
def test_seed_fails_for_its_documented_bug(
    pytester: pytest.Pytester, server: str, test: str, lines: list[str]
) -> None:
    result = pytester.runpytest_subprocess(
        str(SUITE),
        f"--rootdir={ROOT}",
        "-p",
        "no:xdist",
        "--runxfail",
        "-k",
        f"{test} and {server}",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(lines)
