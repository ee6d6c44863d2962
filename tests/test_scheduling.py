"""Work units under -n and --dist loadgroup: a module's tests against one server on one worker,
and the heavy tests together (conformance/scheduling.py)."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pytest

from conformance.scheduling import HEAVY, work_unit

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "conformance" / "suite"

pytestmark = pytest.mark.timeout(180)

LIGHT = "conformance/suite/test_accept.py::test_sequential_connections_are_all_served[epoll_echo]"
HEAVY_TEST = "conformance/suite/test_scale.py::test_thousands_of_concurrent_connections_all_echo"


def test_a_suite_test_belongs_to_its_module_and_server() -> None:
    assert work_unit(LIGHT) == "test_accept.py[epoll_echo]"
    assert work_unit(LIGHT + "@old") == "test_accept.py[epoll_echo]"  # pytest before 9.2


def test_heavy_tests_are_one_unit_unless_spread() -> None:
    assert work_unit(f"{HEAVY_TEST}[epoll_echo]") == work_unit(f"{HEAVY_TEST}[poll_echo]") == HEAVY
    spread = work_unit(f"{HEAVY_TEST}[poll_echo]", spread_heavy=True)
    assert spread == "test_scale.py[poll_echo]"


def test_other_tests_keep_xdist_rule() -> None:
    assert work_unit("tests/test_cli.py::test_help") is None
    assert work_unit("conformance/suite/test_accept.py::no_such_test[epoll_echo]") is None


def test_each_unit_runs_on_one_worker(pytester: pytest.Pytester) -> None:
    """Two workers, two servers: every module's tests against one server, and every heavy
    test, report the same worker (xdist's own loadgroup spreads them all under pytest 9.2)."""
    result = pytester.runpytest_subprocess(
        str(SUITE),
        f"--rootdir={ROOT}",
        *("-n", "2", "--dist", "loadgroup", "-v"),
        *("--clause", "ACCEPT,CLOSE,MUX-2", "-k", "select_echo or threads_echo"),
    )
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()[-2000:]
    workers: dict[str, set[str]] = defaultdict(set)
    for worker, nodeid in re.findall(r"\[(gw\d)\] \[[ \d]+%\] PASSED (\S+)", result.stdout.str()):
        unit = work_unit(nodeid)
        assert unit is not None, nodeid
        workers[unit].add(worker)
    assert len(workers) == 5, workers  # ACCEPT and CLOSE for each server, and the heavy MUX-2
    assert all(len(ran_on) == 1 for ran_on in workers.values()), workers
