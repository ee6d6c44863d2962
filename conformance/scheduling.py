"""Work units for pytest-xdist's ``--dist loadgroup`` when it runs the suite.

A suite test's unit is its module and its server (``test_echo.py[epoll_echo]``): a module's
tests against one server run in order on one worker, which starts that server once and meets
it in the same state in every run. The heavy tests (``@pytest.mark.xdist_group("heavy")``: CPU
sampling, memory, thousands of connections) are one unit together, so that they never starve
each other, unless ``--spread-heavy`` puts them with their module and server too.

Why not pytest-xdist's own loadgroup: each worker appends ``@group`` to the node ids it
reports, and pytest 9.2's structured node ids silently drop that suffix
(pytest-dev/pytest-xdist#1386): every test then becomes a unit of its own, heavy ones included.
So the controller finds a suite test's marks itself, in the suite's module. Node ids of other
tests (a project that installs this plugin) keep pytest-xdist's rule.
"""

from __future__ import annotations

import importlib
from pathlib import PurePosixPath

import pytest
from xdist.remote import Producer
from xdist.scheduler import LoadGroupScheduling

SUITE_PACKAGE = "conformance.suite"
HEAVY = "heavy"


def work_unit(nodeid: str, *, spread_heavy: bool = False) -> str | None:
    """The unit of a suite test's node id (``module.py::test_name[server]``), or None if the
    node id is not one of the suite's."""
    if nodeid.rfind("@") > nodeid.rfind("]"):  # pytest before 9.2: the worker's suffix
        nodeid = nodeid.rpartition("@")[0]
    path, _, tail = nodeid.partition("::")
    name, _, params = tail.partition("[")
    module, server = PurePosixPath(path), params.removesuffix("]")
    if module.parent.name != "suite" or not module.name.startswith("test_") or not server:
        return None
    try:
        function = getattr(importlib.import_module(f"{SUITE_PACKAGE}.{module.stem}"), name)
    except (ImportError, AttributeError):
        return None
    groups = {m.args[0] for m in getattr(function, "pytestmark", []) if m.name == "xdist_group"}
    if HEAVY in groups and not spread_heavy:
        return HEAVY
    return f"{module.name}[{server}]"


class SuiteScheduling(LoadGroupScheduling):  # type: ignore[misc]  # xdist is untyped
    """LoadGroupScheduling whose units for the suite's tests are given by :func:`work_unit`."""

    def __init__(self, config: pytest.Config, log: Producer | None = None) -> None:
        super().__init__(config, log)
        self.spread_heavy = bool(config.getoption("--spread-heavy"))

    def _split_scope(self, nodeid: str) -> str:
        unit = work_unit(nodeid, spread_heavy=self.spread_heavy)
        return super()._split_scope(nodeid) if unit is None else unit
