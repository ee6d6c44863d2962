"""The suite's Hypothesis profiles, chosen by $HYPOTHESIS_PROFILE (ci unless set).

Rule: nothing here changes Hypothesis's global default. The plugin is loaded into every pytest
run of an environment the kit is installed in (its pytest11 entry point), and another
project's property tests must keep their own settings; the suite's tests ask for
``suite_settings()`` explicitly instead.

- ci: the same examples every run, and no shrinking: against a server that never answers each
  shrink step costs a receive deadline, and the unshrunk chunking is evidence enough (the
  MODEL-1 state machine shrinks all the same, within a time budget: see
  conformance/exploration/model.py).
- dev: random examples, more of them, with shrinking.
- thorough: long hunts for the state machine, with ECHO_KIT_MODEL_SECONDS (tox -e thorough).
"""

from __future__ import annotations

import os

from hypothesis import Phase, settings

settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=20,
    stateful_step_count=25,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.register_profile("thorough", max_examples=50, stateful_step_count=100, deadline=None)


def suite_settings() -> settings:
    """The profile $HYPOTHESIS_PROFILE names (ci by default)."""
    return settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
