"""MODEL: random sequences of client actions on many connections, checked against the model.

The state machine is conformance/exploration/model.py; its examples share this module's server,
which it starts afresh after a failing example. A failure's message gives the command that
replays the shrunk steps against any running server.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.exploration import model
from conformance.harness.server import ServerProcess


@pytest.mark.clause("MODEL-1")
@pytest.mark.timeout(model.time_limit())
def test_random_client_actions_keep_to_the_echo_model(
    server: ServerProcess, tmp_path: Path
) -> None:
    """MODEL-1: a failure means an interleaving of clients that the fixed clauses miss breaks
    the echo (stale or crossed buffers, a stalled read, added or lost bytes, a leak)."""
    run = model.explore(server, tmp_path)
    print(f"MODEL-1 against {server.command.name}: {run.summary()}")
