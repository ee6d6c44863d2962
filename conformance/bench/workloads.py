"""What the load generator is asked to do: the workloads, as data.

A workload is closed-loop round trips of ``size`` bytes on ``connections`` connections (each
sends its message and waits for all of it before the next), or a bulk stream on one
connection; ``idle`` more connections are opened first and left idle for the run. Their names
are the keys of every report.
"""

from __future__ import annotations

from dataclasses import dataclass

KIB = 1024
MIB = 1024 * KIB


@dataclass(frozen=True)
class Workload:
    name: str
    connections: int = 10
    size: int = KIB
    idle: int = 0
    bulk: bool = False

    @property
    def client_args(self) -> list[str]:
        args = ["--connections", str(self.connections), "--size", str(self.size)]
        return [*args, "--idle", str(self.idle), *(["--bulk"] if self.bulk else [])]

    @property
    def fds_needed(self) -> int:
        """Descriptors the server and the client each need, with room for their own files."""
        return self.connections + self.idle + 64


def idle_sweep(counts: tuple[int, ...], active: int = 10) -> list[Workload]:
    """1 KiB round trips on ``active`` connections beside each number of idle ones."""
    return [Workload(f"idle_{n}", connections=active, idle=n) for n in counts]


IDLE_COUNTS = (0, 1000, 5000, 10000)
FULL = [
    Workload("rt_1k_c10"),
    Workload("rt_1k_c100", connections=100),
    Workload("rt_16k_c10", size=16 * KIB),
    Workload("rt_100k_c10", size=100 * KIB),
    Workload("rt_1m_c4", connections=4, size=MIB),
    Workload("bulk", connections=1, bulk=True),
    *idle_sweep(IDLE_COUNTS),
]
QUICK = [
    Workload("rt_1k_c10"),
    Workload("rt_1m_c4", connections=4, size=MIB),
    Workload("bulk", connections=1, bulk=True),
    *idle_sweep((0, 200)),
]
