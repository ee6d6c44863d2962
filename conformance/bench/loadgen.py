"""Driving the C load generator through one timed window, and what it measured.

Rule: the server's CPU time is read exactly around the timed window. The client sets up its
connections and warms up, says "ready" and waits; the CPU reading is taken, the client is let
go; it says "done" when the window is over and its last round trips are back, and waits again
while the second reading is taken. Connection set-up and teardown are never counted.
"""

from __future__ import annotations

import contextlib
import json
import select
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from conformance.bench.workloads import Workload
from conformance.harness import procfs
from conformance.harness.server import ServerProcess

SETUP_TIMEOUT = 60.0  # 10000 idle connections, each proven served, then the warm-up
DRAIN_TIMEOUT = 20.0  # past the window: the client gives up itself after 10 s without echo


class LoadError(Exception):
    """The client stopped with an error (a wrong byte, a closed connection, a stall)."""


@dataclass(frozen=True)
class Sample:
    """One timed window against one server."""

    round_trips: int
    bytes_verified: int  # echoed bytes received, every one compared with what was sent
    seconds: float
    server_cpu: float  # seconds of user + system CPU the server used in the window
    client_cpu: float  # and the load generator: near ``seconds``, the client was saturated
    p50_us: float | None  # latency of a round trip; None for a stream, which has none
    p99_us: float | None

    @property
    def round_trips_per_s(self) -> float:
        return self.round_trips / self.seconds

    @property
    def mib_per_s(self) -> float:
        return self.bytes_verified / self.seconds / 2**20

    @property
    def cpu_us_per_round_trip(self) -> float | None:
        return self.server_cpu / self.round_trips * 1e6 if self.round_trips else None

    @property
    def client_busy(self) -> float:
        """Share of its core the load generator used in the window."""
        return self.client_cpu / self.seconds

    @property
    def cpu_ms_per_gib(self) -> float:
        return self.server_cpu / self.bytes_verified * 2**30 * 1e3


def _read_line(pipe: IO[str], timeout: float, client: subprocess.Popen[str]) -> str:
    ready, _, _ = select.select([pipe], [], [], timeout)
    line = pipe.readline() if ready else ""
    if not line:
        client.kill()
        assert client.stderr is not None
        what = client.stderr.read().strip() or f"no answer within {timeout:g} s"
        raise LoadError(what.removeprefix("echo_client: "))
    return line.strip()


def _go(client: subprocess.Popen[str]) -> None:
    assert client.stdin is not None
    with contextlib.suppress(BrokenPipeError):  # it died: reading its answer says why
        client.stdin.write("\n")
        client.stdin.flush()


def measure(
    client_binary: Path, server: ServerProcess, workload: Workload, duration: float, warmup: float
) -> Sample:
    """One timed window of ``workload`` against a running server."""
    argv = [str(client_binary), "--host", server.host, "--port", str(server.port)]
    argv += [*workload.client_args, "--duration", str(duration), "--warmup", str(warmup)]
    with subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,  # one line at most, read at the end
        text=True,
    ) as client:
        assert client.stdout is not None
        try:
            _read_line(client.stdout, SETUP_TIMEOUT, client)
            before = procfs.cpu_seconds(server.pid)
            _go(client)
            _read_line(client.stdout, duration + DRAIN_TIMEOUT, client)
            server_cpu = procfs.cpu_seconds(server.pid) - before
            _go(client)
            figures = json.loads(_read_line(client.stdout, DRAIN_TIMEOUT, client))
        except FileNotFoundError:  # /proc/PID is gone
            raise LoadError("the server died during the run") from None
        finally:
            if client.poll() is None:  # on error; or done and about to exit: no matter
                client.kill()
    latency = figures["latency_us"]
    return Sample(
        round_trips=figures["round_trips"],
        bytes_verified=figures["bytes_verified"],
        seconds=figures["seconds"],
        server_cpu=server_cpu,
        client_cpu=figures["client_cpu"],
        p50_us=latency["p50"] if latency["samples"] else None,
        p99_us=latency["p99"] if latency["samples"] else None,
    )
