"""What the kernel says about a server, read from /proc without touching its sockets.

Rule: nothing here opens a connection. A probe connect is itself a client that closes, and that
alone can crash a buggy server before the test starts; LISTEN state is read from /proc/net/tcp.
"""

from __future__ import annotations

import os
import random
import socket
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

from conformance.harness.addresses import IPV4_LOOPBACK, family

TCP_LISTEN = "0A"
TCP_TIME_WAIT = "06"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class TcpSocket(NamedTuple):
    port: int  # local port
    state: str  # hex code: 0A is LISTEN
    rx_queue: int  # for a listening socket: connections awaiting accept()
    inode: int


def tcp_sockets() -> list[TcpSocket]:
    """Every TCP socket in this network namespace, IPv4 and IPv6."""
    rows = []
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(name).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()
            port = int(fields[1].rsplit(":", 1)[1], 16)
            rx_queue = int(fields[4].split(":")[1], 16)
            rows.append(TcpSocket(port, fields[3], rx_queue, int(fields[9])))
    return rows


def listening_inodes() -> dict[int, int]:
    """Socket inode -> port for every TCP socket in LISTEN state."""
    return {s.inode: s.port for s in tcp_sockets() if s.state == TCP_LISTEN}


def held_sockets(pid: int) -> dict[int, str]:
    """Socket inode -> one /proc/PID/fd/N path of it, for every socket process ``pid`` holds
    open (empty once it is gone)."""
    held: dict[int, str] = {}
    try:
        entries = os.listdir(f"/proc/{pid}/fd")
    except (FileNotFoundError, PermissionError, ProcessLookupError):
        return held
    for entry in entries:
        path = f"/proc/{pid}/fd/{entry}"
        try:
            target = os.readlink(path)
        except OSError:
            continue
        if target.startswith("socket:["):
            held.setdefault(int(target[8:-1]), path)
    return held


def tcp_connection_sockets(pids: Iterable[int]) -> dict[int, str]:
    """Socket inode -> an fd path, for every TCP socket processes ``pids`` hold open that is not
    listening: the connections they accepted (or made), whatever their state, each once.

    The protocol comes from the socket itself (the xattr system.sockprotoname reads "TCP" or
    "TCPv6"), not from /proc/net/tcp: a socket whose connection is over (reset, or both FINs
    exchanged) is in state CLOSE and the kernel lists it there no more, though its fd is still
    open; that is exactly the socket a server leaks when it forgets to close().
    """
    listening = set(listening_inodes())
    found: dict[int, str] = {}
    for pid in pids:
        for inode, path in held_sockets(pid).items():
            if inode in listening or inode in found:
                continue
            try:
                protocol = os.getxattr(path, "system.sockprotoname")
            except OSError:  # closed meanwhile
                continue
            if protocol.rstrip(b"\0") in (b"TCP", b"TCPv6"):
                found[inode] = path
    return found


def read_each_process(name: str) -> Iterator[tuple[int, bytes]]:
    """(pid, content of /proc/PID/<name>) for every process that is still there to read."""
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                yield int(entry), Path(f"/proc/{entry}/{name}").read_bytes()
            except OSError:
                continue


def stat_fields(stat: bytes) -> list[bytes]:
    """The fields of a /proc stat file after the command name: state first (field 3 of
    stat(5)). The name may hold spaces and parentheses, so they start after the last ')'."""
    return stat.rsplit(b")", 1)[1].split()


def group_pids(pgid: int) -> list[int]:
    """Live processes of process group ``pgid``, leader first."""
    pids = []
    for pid, stat in read_each_process("stat"):
        fields = stat_fields(stat)
        if int(fields[2]) == pgid and fields[0] != b"Z":
            pids.append(pid)
    return sorted(pids, key=lambda pid: pid != pgid)


def pids_with_environ(entry: str) -> list[int]:
    """Live processes whose environment holds ``entry`` ("NAME=value"): a process and every
    descendant that kept the environment it was given, whatever session or group it moved to."""
    needle = entry.encode() + b"\0"
    return sorted(
        pid
        for pid, environ in read_each_process("environ")
        if environ.startswith(needle) or b"\0" + needle in environ
    )


def session_of(pid: int) -> int:
    """The session id of ``pid`` (0 once it is gone)."""
    try:
        return int(stat_fields(Path(f"/proc/{pid}/stat").read_bytes())[3])
    except OSError:
        return 0


def listeners(pgid: int) -> list[tuple[int, int]]:
    """(pid, port) of every listening socket held by a process of group ``pgid``."""
    listening = listening_inodes()
    return [
        (pid, listening[inode])
        for pid in group_pids(pgid)
        for inode in sorted(held_sockets(pid))
        if inode in listening
    ]


def stopped(pid: int) -> bool:
    """Whether every thread of ``pid`` has stopped for a signal (True once it is gone).

    kill() only queues SIGSTOP: each thread stops when it next runs. Until all have, the
    process may still be returning from epoll_wait() with events it collected before the stop.
    """
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return True
    for tid in threads:
        try:
            stat = Path(f"/proc/{pid}/task/{tid}/stat").read_bytes()
        except OSError:
            continue
        if stat_fields(stat)[0] not in (b"T", b"t", b"Z", b"X"):
            return False
    return True


def open_fd_count(pid: int) -> int:
    """Descriptors of every kind process ``pid`` holds open (FileNotFoundError once it is gone)."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def resident_bytes(pid: int) -> int:
    """Memory of process ``pid`` held in RAM now (VmRSS); 0 for a zombie (it has none)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024  # the kernel reports kB
    return 0  # a zombie's status has no Vm* lines


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used, all threads included."""
    fields = stat_fields(Path(f"/proc/{pid}/stat").read_bytes())
    # utime and stime are fields 14 and 15 of stat(5), 11 and 12 after the command name.
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def ephemeral_port_range() -> tuple[int, int]:
    low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
    return int(low), int(high)


def pick_free_port(host: str = IPV4_LOOPBACK) -> int:
    """A port that is free now and outside the kernel's ephemeral range.

    Ports inside that range are handed to clients' connect() and may be taken between our check
    and the server's bind (measured: 8 failed binds in ~20 starts under load). The caller still
    retries on a bind failure, since nothing reserves the port.
    """
    low, high = ephemeral_port_range()
    candidates = [p for p in range(10000, 32768) if not low <= p <= high]
    taken = {s.port for s in tcp_sockets()}
    for port in random.sample(candidates, 64):
        if port in taken:
            continue
        with socket.socket(family(host), socket.SOCK_STREAM) as probe:
            try:
                probe.bind((host, port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port found outside the ephemeral range {low}-{high}")
