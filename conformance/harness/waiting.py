"""Waiting on a condition with a deadline: the kit's only way to synchronise.

Rule: nothing in the kit sleeps to let something happen. It polls a predicate until it holds or
the deadline passes, and a missed deadline says what was awaited and what was last seen.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

POLL_INTERVAL = 0.01
# Every deadline the kit waits on is multiplied by this (--timeout-multiplier): a slow or loaded
# machine gets more time, while what a test demands stays the same.
TIME_SCALE = 1.0


def scaled(seconds: float) -> float:
    return seconds * TIME_SCALE


class DeadlineExceeded(AssertionError):
    """A condition did not hold in time; the message names it and the last value seen."""


def wait_until(
    predicate: Callable[[], T],
    timeout: float,
    what: str,
    describe: Callable[[], str] | None = None,
    interval: float = POLL_INTERVAL,
) -> T:
    """Return the first truthy value of ``predicate()`` within ``timeout`` seconds.

    ``describe`` is called once on failure to add the state observed (a count, a log tail).
    """
    timeout = scaled(timeout)
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            seen = f"; last seen: {describe()}" if describe else ""
            raise DeadlineExceeded(f"{what}: not within {timeout:g} s{seen}")
        time.sleep(interval)
