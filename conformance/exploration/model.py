"""Spec MODEL-1 as a Hypothesis state machine: random client actions, checked as they happen.

Rules this module keeps:
- A rule only draws the parameters of one client action (a ``replay.Step``) and hands it to
  a ``replay.Session``, which performs it and checks the echo model; so the steps recorded
  are exactly what a replay script needs, and the script runs the same code.
- Every example starts with the server at its baseline: after a failing example the server
  is started afresh (a crash, a leak or a stale buffer would otherwise fail the next example
  too, and shrinking would keep steps that do not matter).
- A run has a time budget (RUN_SECONDS, or the hunt's duration) and so has shrinking
  (SHRINK_SECONDS from the first failure). After either, every step but those of
  Hypothesis's final replay is dry: the rules draw the same choices (rejecting the example
  instead would make Hypothesis see its data generation change), but only the client's
  bookkeeping is done, no I/O, and the example passes at once. So a server that fails
  slowly (by deadlines) costs seconds of shrinking, not minutes.
- A failure raises a ClientError whose message gives the failure, the number of steps and
  the command that replays them; a failure that does not repeat on replay is still one.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import astuple, dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.control import current_build_context
from hypothesis.errors import Flaky
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from conformance import spec
from conformance.exploration import replay
from conformance.exploration.profiles import suite_settings
from conformance.exploration.replay import Connection, Session, Step
from conformance.harness import addresses, client, procfs, waiting
from conformance.harness.checks import assert_alive, connection_sockets, wait_connections_back_to
from conformance.harness.client import ClientError
from conformance.harness.server import ServerProcess

MAX_CONNECTIONS = 16
MAX_PAYLOAD = 256 << 10  # bytes in one send step, over all its writes
MAX_WRITES = 8
SHRINK_SECONDS = 5.0
# A server that is slow but keeps to the model (say, connects that wait for a SYN retransmit)
# must not hold the suite up: after this long, the rest of the run is dry (see above).
RUN_SECONDS = 30.0
HUNT_SECONDS = "ECHO_KIT_MODEL_SECONDS"  # set: explore for that long (rounds of examples)
TIME_LIMIT = 120.0  # one run of the profile's examples, against a server that fails slowly
# An example is short (the profile's stateful_step_count steps, which also bounds how long
# shrinking takes), so the machine runs this many times the profile's max_examples.
EXAMPLE_FACTOR = 4

PICK = st.integers(0, MAX_CONNECTIONS - 1)  # which open connection, modulo how many are open
SMALL_WRITES = st.lists(
    st.one_of(st.integers(1, 16), st.integers(1, 2048)), min_size=1, max_size=MAX_WRITES
)
LARGE_WRITES = st.lists(st.integers(1, MAX_PAYLOAD), min_size=1, max_size=MAX_WRITES)


def _capped(sizes: list[int]) -> tuple[int, ...]:
    """The writes, the last one cut so that the step sends at most MAX_PAYLOAD bytes."""
    kept, total = [], 0
    for size in sizes:
        size = min(size, MAX_PAYLOAD - total)
        if size <= 0:
            break
        kept.append(size)
        total += size
    return tuple(kept)


@dataclass
class Exploration:
    """What the examples of one run share: the server, its baseline (TCP connection sockets),
    the last failure."""

    server: ServerProcess
    baseline: int = -1
    tainted: bool = False  # the last example failed: start the server afresh
    examples: int = 0
    steps: int = 0
    failure: tuple[list[Step], str] | None = None
    shrink_until: float | None = None
    started: float = field(default_factory=time.monotonic)
    stop_at: float = float("inf")

    def summary(self) -> str:
        took = time.monotonic() - self.started
        cut = " (then the time budget ran out)" if time.monotonic() > self.stop_at else ""
        return f"{self.examples} examples, {self.steps} steps in {took:.1f} s{cut}"

    def dry_run(self) -> bool:
        """Whether steps now only go through the motions: the run's time or the shrink budget
        is spent (never in Hypothesis's final replay of a failure)."""
        now = time.monotonic()
        spent = now > self.stop_at or (self.shrink_until is not None and now > self.shrink_until)
        return spent and not current_build_context().is_final

    def begin_example(self) -> ServerProcess:
        self.examples += 1
        if self.tainted or not self.server.alive:
            self.server.stop()
            self.server.restart_if_dead()
            self.baseline, self.tainted = -1, False
        if self.baseline < 0:
            self.baseline = len(connection_sockets(self.server))
        return self.server

    def record_failure(self, steps: list[Step], exc: BaseException) -> None:
        self.tainted = True
        self.failure = (list(steps), f"{type(exc).__name__}: {exc}")
        if self.shrink_until is None:
            self.shrink_until = time.monotonic() + SHRINK_SECONDS


class EchoModel(RuleBasedStateMachine):
    """Client actions on up to MAX_CONNECTIONS connections to one server."""

    def __init__(self, exploration: Exploration) -> None:
        super().__init__()
        self.exploration = exploration
        self.dry = exploration.dry_run()
        self.server = exploration.server if self.dry else exploration.begin_example()
        self.session = Session(self.server.address, self.server.paused)

    @contextlib.contextmanager
    def recorded(self) -> Iterator[None]:
        """Note a failure, with the steps that led to it, for the replay script."""
        try:
            yield
        except Exception as exc:
            self.session.failed = True
            self.exploration.record_failure(self.session.steps, exc)
            raise

    def do(self, step: Step) -> None:
        self.dry = self.dry or self.exploration.dry_run()
        if self.dry:
            self.session.track(step)
            return
        self.exploration.steps += 1
        with self.recorded():
            self.session.perform(step)

    def pick(self, index: int, writers_only: bool = False) -> int:
        """The number of an open connection (one that has not half-closed, for a write)."""
        choices = self.writers() if writers_only else self.session.open
        return choices[index % len(choices)].number

    def writers(self) -> list[Connection]:
        return [c for c in self.session.open if not c.fin_wanted]

    def has_open(self) -> bool:
        return bool(self.session.open)

    def has_writers(self) -> bool:
        return bool(self.writers())

    @precondition(lambda self: len(self.session.open) < MAX_CONNECTIONS)
    @rule()
    def connect(self) -> None:
        self.do(Step("connect"))

    # Two rules for one action: small writes (segment patterns) and bulk (backpressure), each
    # switched on and off by Hypothesis on its own.
    @precondition(has_writers)
    @rule(index=PICK, sizes=SMALL_WRITES)
    def send_small_writes(self, index: int, sizes: list[int]) -> None:
        self.do(Step("send", self.pick(index, writers_only=True), tuple(sizes)))

    @precondition(has_writers)
    @rule(index=PICK, sizes=LARGE_WRITES.map(_capped))
    def send_bulk(self, index: int, sizes: tuple[int, ...]) -> None:
        self.do(Step("send", self.pick(index, writers_only=True), sizes))

    @precondition(has_open)
    @rule(index=PICK, most=st.integers(1, client.RECV_CHUNK))
    def read_some(self, index: int, most: int) -> None:
        self.do(Step("read_some", self.pick(index), (most,)))

    @precondition(has_open)
    @rule(index=PICK)
    def read_all_owed(self, index: int) -> None:
        self.do(Step("read_all", self.pick(index)))

    @precondition(has_writers)
    @rule(index=PICK)
    def half_close(self, index: int) -> None:
        self.do(Step("half_close", self.pick(index, writers_only=True)))

    @precondition(has_open)
    @rule(index=PICK)
    def close_after_draining(self, index: int) -> None:
        self.do(Step("close", self.pick(index)))

    @precondition(has_open)
    @rule(index=PICK)
    def reset(self, index: int) -> None:
        self.do(Step("reset", self.pick(index)))

    @precondition(has_open)  # else it would be drawn as often as connect
    @rule(size=st.integers(0, replay.RESET_MAX))
    def reset_before_accept(self, size: int) -> None:
        self.do(Step("reset_before_accept", sizes=(size,)))

    @precondition(has_open)
    @rule(index=PICK)
    def stop_reading(self, index: int) -> None:
        self.do(Step("stop_reading", self.pick(index)))

    @invariant()
    def server_is_alive(self) -> None:
        if not self.dry:
            with self.recorded():
                assert_alive(self.server)

    def teardown(self) -> None:
        try:
            if not self.session.failed and not self.dry:
                self.do(Step("finish"))
                with self.recorded():
                    wait_connections_back_to(self.server, self.exploration.baseline)
        finally:
            self.session.close_all()


def model_settings() -> settings:
    """The suite's profile, with EXAMPLE_FACTOR times its examples, and shrinking (within
    SHRINK_SECONDS)."""
    profile = suite_settings()
    phases = set(profile.phases) - {Phase.explain}  # explain re-runs examples: slow here
    return settings(
        profile,
        max_examples=profile.max_examples * EXAMPLE_FACTOR,
        phases=[p for p in Phase if p in phases or p is Phase.shrink],
        report_multiple_bugs=False,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def hunt_seconds() -> float:
    """How long to hunt, from $ECHO_KIT_MODEL_SECONDS (0: one run of the profile)."""
    value = os.environ.get(HUNT_SECONDS, "").strip() or "0"
    try:
        return max(0.0, float(value))
    except ValueError:
        raise ValueError(f"{HUNT_SECONDS}={value!r}: give a number of seconds, e.g. 600") from None


def time_limit() -> float:
    """The pytest-timeout for the model test: a hunt gets its duration and a round more."""
    hunt = hunt_seconds()
    return hunt + 5 * TIME_LIMIT if hunt else TIME_LIMIT


def explore(server: ServerProcess, replay_dir: Path) -> Exploration:
    """Run the state machine against ``server``: once, or in rounds for HUNT_SECONDS."""
    hunt = hunt_seconds()
    exploration = Exploration(server)
    exploration.stop_at = exploration.started + (hunt or waiting.scaled(RUN_SECONDS))
    try:
        while True:
            machine = functools.partial(EchoModel, exploration)
            # Typed differently across Hypothesis releases: untyped, then typed for a class.
            run_state_machine_as_test(machine, settings=model_settings())  # type: ignore[arg-type, no-untyped-call, unused-ignore]
            if time.monotonic() - exploration.started >= hunt:
                return exploration
    except (AssertionError, Flaky) as exc:
        if exploration.failure is None:
            raise
        steps, message = exploration.failure
        path = replay_dir / f"replay_{server.command.name}.py"
        path.write_text(replay_script(steps, message, server, path.name))
        path.chmod(0o755)
        flaky = (
            "\nHypothesis's replay of these steps did not fail the same way (the failure depends "
            "on timing), but they did fail once: the replay script may need a few runs."
            if isinstance(exc, Flaky)
            else ""
        )
        raise ClientError(
            f"{message}\nafter {len(steps)} steps (the run: {exploration.summary()}).{flaky}\n"
            f"Replay: {sys.executable} {path} --host {server.host} --port PORT [--pid PID]"
        ) from exc


EMBEDDED = (waiting, addresses, procfs, client, replay)  # stdlib-only modules, in import order


def replay_script(steps: list[Step], failure: str, server: ServerProcess, name: str) -> str:
    """A standalone Python script (stdlib only) that performs ``steps`` against a server."""
    listed = "".join(f"    {astuple(step)!r},\n" for step in steps)
    sources = "".join(
        f"_install({m.__name__!r}, {Path(m.__file__ or '').read_text()!r})\n" for m in EMBEDDED
    )
    quoted = "\n".join(f"#   {line}" for line in failure.splitlines())
    return f'''#!/usr/bin/env python3
"""Replay of a failing MODEL-1 example (echo-server spec {spec.load().version}), found
against {server.command.name}.

    python3 {name} --host {server.host} --port PORT [--pid PID]

Exit status 0: every step kept to the echo model; 1: a step failed, and what was seen is
printed. With --pid the server is stopped during resets before accept(), as in the suite, and
its TCP connection sockets must be back at their count at the start. Only the standard library
is needed: the kit's modules that perform the steps are embedded below.
"""

# The failure seen in the conformance run:
{quoted}

import sys
import types

STEPS = [  # (action, connection number, sizes)
{listed}]


def _install(name: str, source: str) -> None:
    module = types.ModuleType(name)
    sys.modules[name] = module
    exec(compile(source, f"<embedded {{name}}>", "exec"), module.__dict__)


for _package in ("conformance", "conformance.harness", "conformance.exploration"):
    sys.modules[_package] = types.ModuleType(_package)
{sources}
if __name__ == "__main__":
    sys.exit(sys.modules["conformance.exploration.replay"].main(STEPS))
'''
