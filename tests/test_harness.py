"""The harness itself: launching, readiness, crash evidence, teardown, ports, clients.

These run real processes and sockets on loopback, never mocks of them.
"""

from __future__ import annotations

import contextlib
import os
import re
import resource
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conformance.harness import fdlimit, procfs, server, sockdiag
from conformance.harness.client import (
    ClientError,
    Ending,
    abort_with_rst,
    connect,
    echo_round_trip,
    exchange,
    recv_exactly,
    recv_until_eof,
)
from conformance.harness.server import LaunchError, ServerCommand, ServerProcess
from conformance.harness.waiting import DeadlineExceeded, wait_until

ROOT = Path(__file__).resolve().parents[1]
BROKEN = ROOT / "tests" / "broken"
REFERENCE = ROOT / "implementations" / "selectors_echo.py"

pytestmark = pytest.mark.timeout(30)


def python_command(name: str, code: str) -> ServerCommand:
    """An external-style command (port picked by the harness) running inline Python."""
    return ServerCommand(name, (sys.executable, "-c", code, "{host}", "{port}"))


Start = Callable[..., ServerProcess]


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Start]:
    """Start servers for a test; all are stopped at teardown, whatever happened."""
    started: list[ServerProcess] = []

    def start_one(command: ServerCommand, port: int | None = None) -> ServerProcess:
        process = ServerProcess(command, tmp_path / f"{command.name}-{len(started)}.log")
        started.append(process)
        return process.start(port)

    yield start_one
    for process in started:
        process.stop()


def test_bundled_server_is_ready_on_port_zero(start: Start) -> None:
    s = start(ServerCommand.bundled(REFERENCE))
    assert s.port > 0 and s.pid == s.popen.pid  # type: ignore[union-attr]
    with connect(s.address) as client:
        client.sendall(b"x")
        assert recv_exactly(client, 1, 1.0) == b"x"


def test_external_template_gets_a_port_outside_the_ephemeral_range(start: Start) -> None:
    template = f"{sys.executable} {REFERENCE} --host {{host}} --port {{port}}"
    s = start(ServerCommand.from_template("ext", template))
    low, high = procfs.ephemeral_port_range()
    assert not low <= s.port <= high


def test_template_without_port_is_a_usage_error() -> None:
    with pytest.raises(LaunchError, match=r"no \{port\} placeholder"):
        ServerCommand.from_template("bad", "my-server --listen 8080")


def test_readiness_without_ready_line_is_read_from_proc(start: Start) -> None:
    silent = (
        "import socket, sys, time\n"
        "s = socket.socket(); s.bind((sys.argv[1], int(sys.argv[2]))); s.listen()\n"
        "time.sleep(60)\n"
    )
    s = start(python_command("silent", silent))
    assert sockdiag.accept_queue_length(s.address) == 0  # listening, and no probe made


def test_server_that_exits_early_gives_a_launch_error_with_its_log(start: Start) -> None:
    failing = "import sys; print('cannot start: no config'); sys.exit(3)"
    with pytest.raises(LaunchError) as caught:
        start(python_command("early-exit", failing))
    message = str(caught.value)
    assert "exited before listening (exit status 3)" in message
    assert "cannot start: no config" in message
    assert sys.executable in message


def test_server_that_never_listens_gives_a_launch_error_naming_the_command(
    start: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server, "READY_TIMEOUT", 0.5)
    with pytest.raises(LaunchError, match=r"never listened within 0\.5 s") as caught:
        start(ServerCommand.bundled(BROKEN / "never_listens.py"))
    assert "never_listens.py" in str(caught.value)


def test_port_in_use_is_reported_with_the_servers_words(start: Start) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        with pytest.raises(LaunchError, match="Address already in use"):
            start(ServerCommand.bundled(REFERENCE), port=port)


def test_bind_failure_on_a_picked_port_is_retried_elsewhere(
    start: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken, free = squatter.getsockname()[1], procfs.pick_free_port()
        picks = iter([taken, free])
        monkeypatch.setattr(procfs, "pick_free_port", lambda host="127.0.0.1": next(picks))
        template = f"{sys.executable} {REFERENCE} --host {{host}} --port {{port}}"
        s = start(ServerCommand.from_template("retry", template))
        assert s.port == free


def test_crash_report_says_crashed_with_status_and_log_tail(start: Start) -> None:
    s = start(ServerCommand.bundled(BROKEN / "dies_on_reset.py"))
    with connect(s.address) as victim:
        victim.sendall(b"x")
        recv_exactly(victim, 1, 1.0)
        abort_with_rst(victim)
    assert s.wait_exit(2.0)
    report = s.crash_report()
    assert report.startswith("CRASHED: the server died (exit status 1)")
    assert "ConnectionResetError" in report


def test_stop_kills_the_whole_group_even_children_ignoring_term(start: Start) -> None:
    stubborn = (
        "import os, signal, socket, sys, time\n"
        "if os.fork() == 0:\n"
        "    signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)\n"
        "s = socket.socket(); s.bind((sys.argv[1], int(sys.argv[2]))); s.listen()\n"
        "time.sleep(60)\n"
    )
    s = start(python_command("stubborn", stubborn))
    pgid = s.popen.pid  # type: ignore[union-attr]
    wait_until(lambda: len(procfs.group_pids(pgid)) == 2, 2.0, "the child to fork")
    s.stop()
    assert procfs.group_pids(pgid) == []


def test_flooding_server_is_cut_off_at_the_cap(start: Start) -> None:
    s = start(ServerCommand.bundled(BROKEN / "floods.py"))
    with connect(s.address) as client:
        seen = recv_until_eof(client, 2.0, limit=100_000)
    assert seen.ending is Ending.OVERFLOW and len(seen.received) <= 100_001


def test_silent_server_fails_a_transfer_fast_with_evidence(start: Start) -> None:
    s = start(ServerCommand.bundled(BROKEN / "never_reads.py"))
    with connect(s.address) as client:
        transcript = exchange(client, b"z" * (32 << 20), timeout=20.0, stall=0.5)
    assert transcript.ending is Ending.TIMEOUT
    assert "nothing moved for 0.5 s" in transcript.describe()
    with pytest.raises(ClientError, match="echo differs"):
        transcript.assert_echoed()


def test_recv_exactly_reports_what_came_instead(start: Start) -> None:
    s = start(ServerCommand.bundled(BROKEN / "closes_at_once.py"))
    with connect(s.address) as client, pytest.raises(ClientError, match=r"expected 4 bytes"):
        recv_exactly(client, 4, 1.0)


def test_wait_until_returns_the_value_or_says_what_it_saw() -> None:
    assert wait_until(lambda: 42, 0.1, "answer") == 42
    with pytest.raises(DeadlineExceeded, match=r"the impossible: not within 0.05 s; last seen: 7"):
        wait_until(lambda: 0, 0.05, "the impossible", describe=lambda: "7")


def test_picked_ports_are_free_and_outside_the_ephemeral_range() -> None:
    low, high = procfs.ephemeral_port_range()
    for _ in range(20):
        port = procfs.pick_free_port()
        assert not low <= port <= high
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", port))


def test_kernel_shows_our_own_listener_fds_and_accept_queue() -> None:
    before = procfs.open_fd_count(os.getpid())
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert (os.getpid(), port) in procfs.listeners(os.getpgid(0))
        assert procfs.open_fd_count(os.getpid()) == before + 1
        with socket.create_connection(("127.0.0.1", port)):
            assert sockdiag.accept_queue_length(("127.0.0.1", port)) == 1


def test_connection_sockets_are_counted_until_closed_whatever_their_state() -> None:
    """A socket whose connection is over (reset, or shut down both ways) is in state CLOSE and
    no longer listed in /proc/net/tcp, yet its fd is still open: it must still be counted.
    The listener, pipes, UNIX and UDP sockets are not connection sockets."""

    def held() -> set[int]:
        return set(procfs.tcp_connection_sockets([os.getpid()]))

    before = held()
    with contextlib.ExitStack() as stack:
        listener = stack.enter_context(socket.create_server(("127.0.0.1", 0)))
        stack.enter_context(socket.socket(socket.AF_UNIX))
        stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
        for end in os.pipe():
            stack.callback(os.close, end)
        assert held() == before
        reset, graceful = (stack.enter_context(connect(listener.getsockname())) for _ in "ab")
        served = [stack.enter_context(listener.accept()[0]) for _ in "ab"]
        assert len(held() - before) == 4
        abort_with_rst(reset)
        graceful.close()
        served[1].shutdown(socket.SHUT_RDWR)
        inodes = {os.fstat(sock.fileno()).st_ino for sock in served}
        wait_until(
            lambda: not inodes & {s.inode for s in procfs.tcp_sockets()},
            2.0,
            "both served sockets to leave /proc/net/tcp (state CLOSE)",
        )
        assert held() - before == inodes
    assert held() == before


def test_signal_to_a_stopped_group_still_ends_it(start: Start) -> None:
    s = start(ServerCommand.bundled(REFERENCE))
    s.signal_group(signal.SIGSTOP)
    s.stop()
    assert not s.alive


def test_paused_server_has_stopped_in_every_thread_when_the_block_starts(start: Start) -> None:
    s = start(ServerCommand.bundled(ROOT / "implementations" / "threads_echo.py"))
    with connect(s.address) as client:
        echo_round_trip(client, b"a thread of its own")
        with s.paused():
            threads = os.listdir(f"/proc/{s.pid}/task")
            assert len(threads) > 1 and procfs.stopped(s.pid), threads
        echo_round_trip(client, b"and it runs again")
    assert not procfs.stopped(s.pid)


def test_server_child_whose_kit_died_before_exec_exits() -> None:
    # As if the kit had died between fork() and prctl(): the child has another parent.
    code = (
        "from conformance.harness import server; server._prepare_child(kit_pid=-1, fd_limit=None)"
    )
    child = subprocess.run([sys.executable, "-c", code], cwd=ROOT, timeout=20, check=False)
    assert child.returncode == 1


def test_fd_limit_is_set_in_the_server_before_exec(tmp_path: Path) -> None:
    process = ServerProcess(ServerCommand.bundled(REFERENCE), tmp_path / "s.log", fd_limit=40)
    try:
        process.start()
        limits = Path(f"/proc/{process.pid}/limits").read_text()
    finally:
        process.stop()
    assert re.search(r"^Max open files\s+40\s+40\s", limits, re.MULTILINE), limits


def test_fd_limit_beyond_the_hard_limit_says_how_to_raise_it() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        pytest.skip("no hard limit on descriptors here")
    with pytest.raises(RuntimeError, match=rf"needs {hard + 1} file descriptors.*ulimit -Hn"):
        fdlimit.check(hard + 1, "the server")


def test_room_for_more_fds_raises_the_soft_limit_and_restores_it() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    low = len(os.listdir("/proc/self/fd")) + 50
    if hard != resource.RLIM_INFINITY and low + 100 > hard:
        pytest.skip(f"a hard limit of {hard} leaves no room to test with")
    resource.setrlimit(resource.RLIMIT_NOFILE, (low, hard))  # lowering is always allowed
    try:
        with fdlimit.room_for(100):
            assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] > low  # 50 free, 100 asked
        assert resource.getrlimit(resource.RLIMIT_NOFILE) == (low, hard)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.mark.parametrize(
    ("command", "shown"),
    [
        (
            ServerCommand.from_template("s", "srv --listen {host}:{port} -m 'a b'"),
            "srv --listen {host}:{port} -m 'a b'",
        ),
        (
            ServerCommand.from_template("s", "srv {host} {port}").on("::1"),
            "srv {host} {port} ({host} = ::1)",
        ),
        (ServerCommand.running_at("s", "[::1]:7000"), "running at [::1]:7000"),
        (ServerCommand.running_at("s", "127.0.0.1:7000"), "running at 127.0.0.1:7000"),
    ],
)
def test_report_shows_each_server_command_as_a_user_would_type_it(
    command: ServerCommand, shown: str
) -> None:
    assert command.shown() == shown
