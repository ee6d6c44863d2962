"""Running a server under test: launch, readiness, liveness, crash evidence, teardown.

Rules this module keeps:
- A server runs in its own process group, with stdout and stderr going to a log file (never an
  unread pipe: a chatty server would block on a full pipe and look hung).
- Readiness is a ``LISTENING <host> <port>`` line in that log or a LISTEN socket owned by the
  server's process group in /proc/net/tcp; never a probe connection.
- Every server this module started is stopped (TERM, then KILL) when its owner is done, when
  the test session ends, and, through PR_SET_PDEATHSIG, even when the kit itself is killed.
- Every process a server starts carries a LINEAGE_VARIABLE unique to that start in its
  environment, so teardown also ends descendants that left the group (a daemon: fork, the
  parent exits, the child calls setsid()). One that does so before listening is a launch
  error that says it daemonized; a cgroup would be stricter, but is not available everywhere.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import re
import shlex
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from conformance.harness import addresses, crashlog, fdlimit, procfs
from conformance.harness.waiting import DeadlineExceeded, wait_until
from conformance.native.build import BuildUnavailable, c_program

READY_TIMEOUT = 5.0
STOP_TIMEOUT = 2.0
START_ATTEMPTS = 3  # on ports the harness picked: a bind failure is retried elsewhere
LOG_TAIL_LINES = 20
LOG_LINE_WIDTH = 200  # a server that logs what it receives writes lines of any length
READY_LINE = re.compile(rb"^LISTENING (\S+) (\d+)\s*$", re.MULTILINE)
BIND_FAILURE = re.compile(rb"address already in use|EADDRINUSE", re.IGNORECASE)
SHELL_WORD = re.compile(r"[\w@%+=:,./{}\[\]-]+")  # needs no quoting to be shown as one word
PR_SET_PDEATHSIG = 1
EXIT_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGKILL)
LINEAGE_VARIABLE = "ECHO_KIT_SERVER"  # its value names one start of one server
LOG_SCAN_BYTES = 4 << 20  # how much of a log's end is searched for the crash

_running: set[ServerProcess] = set()


class LaunchError(Exception):
    """The server command did not come up: the message says what happened and what to do."""


@dataclass(frozen=True)
class ServerCommand:
    """How to start one server: an argv template with ``{host}`` and ``{port}`` placeholders,
    and the address ``{host}`` becomes (IPv4 or IPv6 loopback, as the run asks).

    ``announces`` servers print the ready line, so they may be given port 0; others get a free
    port picked by the harness. A ``source`` server is a C program shipped as source: its argv
    starts with that file, which is compiled (once, cached) when the server is first launched.
    """

    name: str
    argv: tuple[str, ...]
    announces: bool = False
    address: tuple[str, int] | None = None  # a server already running there (--server-addr)
    host: str = addresses.IPV4_LOOPBACK
    source: Path | None = None  # a C source, compiled on first launch

    @classmethod
    def from_template(cls, name: str, template: str) -> ServerCommand:
        argv = tuple(shlex.split(template))
        if not any("{port}" in arg for arg in argv):
            raise LaunchError(
                f"--server-cmd {template!r} has no {{port}} placeholder: write the command as "
                "a template, e.g. 'my-server --listen {host}:{port}'"
            )
        return cls(name=name, argv=argv)

    @classmethod
    def bundled(cls, path: Path) -> ServerCommand:
        """A server file of the kit's: a Python script, or a C source (``*.c``)."""
        options = ("--host", "{host}", "--port", "{port}")
        if path.suffix == ".c":
            return cls(name=path.stem, argv=(str(path), *options), announces=True, source=path)
        return cls(name=path.stem, argv=(sys.executable, str(path), *options), announces=True)

    @classmethod
    def running_at(cls, name: str, address: str) -> ServerCommand:
        """A server someone else started and keeps running, known only by HOST:PORT (an IPv6
        address in brackets: [::1]:7000)."""
        try:
            host, port = addresses.parse_host_port(address)
        except ValueError as exc:
            raise LaunchError(f"--server-addr {exc}") from None
        return cls(name=name, argv=(), address=(host, port), host=host)

    def on(self, host: str) -> ServerCommand:
        """The same command, given ``host`` for ``{host}``."""
        return replace(self, host=host)

    def render(self, host: str, port: int) -> list[str]:
        """The argv to run; a C source is compiled first (BuildUnavailable if it cannot be)."""
        argv = self.argv if self.source is None else (str(c_program(self.source)), *self.argv[1:])
        return [arg.replace("{host}", host).replace("{port}", str(port)) for arg in argv]

    def shown(self) -> str:
        """How this server is started, for the report: its command template, or its address."""
        if self.address is not None:
            return f"running at {addresses.display(*self.address)}"
        # Quoted only where a shell needs it: {host} and {port} stay readable.
        command = " ".join(a if SHELL_WORD.fullmatch(a) else shlex.quote(a) for a in self.argv)
        return (
            command
            if self.host == addresses.IPV4_LOOPBACK
            else f"{command} ({{host}} = {self.host})"
        )


@dataclass(eq=False)
class ServerProcess:
    """One running instance of a ServerCommand."""

    command: ServerCommand
    log_path: Path
    env: Mapping[str, str] = field(default_factory=dict)
    popen: subprocess.Popen[bytes] | None = None
    requested_port: int = 0
    port: int = 0
    pid: int = 0  # the process holding the listening socket: what /proc checks measure
    signalled: bool = False  # asked to exit: its death is no crash
    # The server's RLIMIT_NOFILE (soft and hard), set in the child before exec, which works
    # for a server in any language (conformance/harness/fdlimit.py). None: it inherits the kit's.
    fd_limit: int | None = None
    lineage: str = ""  # LINEAGE_VARIABLE's value in this start's environment

    @classmethod
    def attach(cls, command: ServerCommand, log_path: Path) -> ServerProcess:
        """The server of a --server-addr command: not ours to start, stop, signal or measure."""
        assert command.address is not None
        port = command.address[1]
        if port not in {s.port for s in procfs.tcp_sockets() if s.state == procfs.TCP_LISTEN}:
            raise LaunchError(
                f"nothing listens on {addresses.display(*command.address)} (--server-addr): "
                "start the server first"
            )
        return cls(command, log_path, port=port)

    @property
    def attached(self) -> bool:
        return self.command.address is not None

    def require_process(self, why: str) -> None:
        """Skip the test as N/A if the kit does not know the server's process."""
        if self.attached:
            pytest.skip(f"N/A with --server-addr: {why} needs the server's process")

    @property
    def host(self) -> str:
        return self.command.host

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    def start(self, port: int | None = None) -> ServerProcess:
        """Start and wait until ready: on ``port`` if given, else on 0 if the server announces
        its port, else on a free port the harness picks.

        A bind failure on a port we picked is retried on another one: nothing reserves a port
        between our check and the server's bind.
        """
        picks_port = port is None and not self.command.announces

        def attempt() -> ServerProcess:
            return self._start_once(procfs.pick_free_port(self.host) if picks_port else port or 0)

        for _ in range(START_ATTEMPTS - 1):
            try:
                return attempt()
            except LaunchError:
                if not (picks_port and self._bind_failed()):
                    raise
        return attempt()

    def _start_once(self, port: int) -> ServerProcess:
        try:
            argv = self.command.render(self.host, port)
        except BuildUnavailable as exc:
            pytest.skip(f"N/A: the server cannot be built here: {exc}")
        if self.fd_limit is not None:
            fdlimit.check(self.fd_limit, "the server")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.lineage = f"{os.getpid()}-{uuid.uuid4().hex}"
        with open(self.log_path, "wb") as log:
            try:
                self.popen = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    env={**os.environ, **self.env, LINEAGE_VARIABLE: self.lineage},
                    preexec_fn=functools.partial(_prepare_child, os.getpid(), self.fd_limit),
                )
            except OSError as exc:
                raise LaunchError(f"cannot run {shlex.join(argv)}: {exc}") from exc
        _running.add(self)
        self.requested_port, self.pid = port, self.popen.pid
        try:
            wait_until(self._ready, READY_TIMEOUT, "server to listen")
        except DeadlineExceeded:
            self.stop()
            raise LaunchError(
                f"server never listened within {READY_TIMEOUT:g} s: {shlex.join(argv)}\n"
                "It must print 'LISTENING <host> <port>' or listen on the {port} it was given.\n"
                + self.log_tail()
            ) from None
        except LaunchError:
            self.stop()
            raise
        return self

    def _ready(self) -> bool:
        assert self.popen is not None
        if self.popen.poll() is not None:
            daemon = self.daemonized()
            if daemon:
                raise LaunchError(
                    f"{daemon}: {shlex.join(self.command.render(self.host, self.requested_port))}"
                    f"\n{self.log_tail()}"
                )
            raise LaunchError(
                f"server exited before listening ({self.exit_description()}): "
                f"{shlex.join(self.command.render(self.host, self.requested_port))}\n"
                + self.log_tail()
            )
        wanted = self.requested_port or None
        announced = READY_LINE.search(self.log_path.read_bytes())
        if announced:
            said = int(announced.group(2))
            if wanted is not None and said != wanted:
                raise LaunchError(
                    f"server announced port {said} but was told to listen on {wanted}\n"
                    + self.log_tail()
                )
            wanted = said
        for pid, port in procfs.listeners(self.popen.pid):
            if wanted is None or port == wanted:
                self.pid, self.port = pid, port
                return True
        return False

    def _bind_failed(self) -> bool:
        return bool(BIND_FAILURE.search(self.log_path.read_bytes()))

    @property
    def alive(self) -> bool:
        """Whether the process runs; an attached server is taken to (its clients will tell)."""
        return self.attached or (self.popen is not None and self.popen.poll() is None)

    def exit_description(self) -> str:
        assert self.popen is not None
        code = self.popen.poll()
        if code is None:
            return "still running"
        if code < 0:
            return f"killed by signal {signal.Signals(-code).name}"
        return f"exit status {code}"

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        try:
            text = self.log_path.read_bytes().decode("utf-8", "backslashreplace")
        except FileNotFoundError:
            return "(no server log)"
        tail = [_clip(line) for line in text.splitlines()[-lines:]]
        return f"last {len(tail)} lines of {self.log_path}:\n" + "\n".join(f"  | {t}" for t in tail)

    def crash_report(self) -> str:
        daemon = self.daemonized()
        if daemon:
            return f"CRASHED: {daemon}.\n{self.log_tail()}"
        return f"CRASHED: the server died ({self.exit_description()}).\n{self.log_tail()}"

    def daemonized(self) -> str:
        """What happened if the server's process exited 0 leaving descendants running, or ''.

        A crash is not this: a process that died of an error is CRASH even if a child of it
        lingers for a moment."""
        if self.popen is None or self.popen.poll() != 0:
            return ""
        left = self.descendants()
        if not left:
            return ""
        detached = [p for p in left if procfs.session_of(p) != self.popen.pid]
        return (
            "the server detached from its process group (daemonized); run it in the "
            "foreground (often a -f, --foreground or --no-daemon option): its process exited "
            f"(exit status 0) and left {len(left)} running, {len(detached)} in a session of "
            f"their own (pids {left}, stopped at teardown)"
        )

    def crash_evidence(self) -> str:
        """The last traceback, panic or fatal error in the log (crashlog.py), or ''."""
        try:
            with open(self.log_path, "rb") as log:
                log.seek(max(0, log.seek(0, os.SEEK_END) - LOG_SCAN_BYTES))
                text = log.read().decode("utf-8", "backslashreplace")
        except FileNotFoundError:
            return ""
        block = crashlog.last_crash_block(text)
        if block is None:
            return ""
        shown = "\n".join(f"  | {_clip(line)}" for line in block.splitlines())
        return f"last crash found in {self.log_path}:\n{shown}"

    def descendants(self) -> list[int]:
        """Live processes this start of the server launched, wherever they moved."""
        if not self.lineage:
            return []
        return procfs.pids_with_environ(f"{LINEAGE_VARIABLE}={self.lineage}")

    def signal(self, signum: int) -> None:
        """Signal the server's main process, as a service manager or Ctrl-C would."""
        self.require_process("signalling the server")
        assert self.popen is not None
        self.signalled |= signum in EXIT_SIGNALS
        if self.alive:
            self.popen.send_signal(signum)

    def signal_group(self, signum: int) -> None:
        assert self.popen is not None
        self.signalled |= signum in EXIT_SIGNALS
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signum)

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Stop the server's group for the block: what clients do meanwhile reaches it at once.

        The kernel keeps completing handshakes and queueing bytes and resets while the server
        is stopped, so on resume it finds them all together, whatever its own timing.
        """
        self.require_process("pausing the server")
        assert self.popen is not None
        pgid = self.popen.pid
        self.signal_group(signal.SIGSTOP)
        try:
            wait_until(
                lambda: all(procfs.stopped(pid) for pid in procfs.group_pids(pgid)),
                STOP_TIMEOUT,
                "server's process group to stop on SIGSTOP",
                interval=0.001,
            )
            yield
        finally:
            self.signal_group(signal.SIGCONT)

    def wait_exit(self, timeout: float) -> bool:
        if self.popen is None:  # attached: not ours to wait for
            return False
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        return True

    def stop(self) -> None:
        """TERM the whole group, KILL it if it is not gone in STOP_TIMEOUT, reap the leader."""
        if self.popen is None:
            return
        self.signal_group(signal.SIGCONT)  # a group stopped by a test cannot act on TERM
        self.signal_group(signal.SIGTERM)
        if not self.wait_exit(STOP_TIMEOUT):
            self.signal_group(signal.SIGKILL)
            self.popen.wait()
        # Children that outlived the leader (forking servers) go too, and are waited for:
        # a killed process lingers in /proc for a moment before it is reaped.
        pgid = self.popen.pid
        if procfs.group_pids(pgid):
            self.signal_group(signal.SIGKILL)
            with contextlib.suppress(DeadlineExceeded):
                wait_until(lambda: not procfs.group_pids(pgid), STOP_TIMEOUT, "group to die")
        self._kill_descendants()
        _running.discard(self)

    def _kill_descendants(self) -> None:
        """KILL what left the group (a daemon), again while it forks, until none is left."""

        def none_left() -> bool:
            left = self.descendants()
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            return not left

        with contextlib.suppress(DeadlineExceeded):
            wait_until(none_left, STOP_TIMEOUT, "the server's descendants to die")

    def restart_if_dead(self) -> None:
        """Start a new instance if an earlier test killed this one, on a fresh log file."""
        if self.alive:
            return
        self.stop()
        self.log_path = _next_log_path(self.log_path)
        self.signalled = False
        self.start()


def _clip(line: str, width: int = LOG_LINE_WIDTH) -> str:
    return line if len(line) <= width else f"{line[:width]}... ({len(line) - width} more)"


def _next_log_path(path: Path) -> Path:
    """server.log, then server.1.log, server.2.log, ... (never server.1.1.log)."""
    base = path.name.split(".")[0]
    n = 1
    while (candidate := path.with_name(f"{base}.{n}.log")).exists():
        n += 1
    return candidate


def _prepare_child(kit_pid: int, fd_limit: int | None) -> None:
    """In the child before exec: die with the kit, take Ctrl-C as a terminal would, and get
    the descriptor limit asked for.

    PR_SET_PDEATHSIG sends SIGKILL if the kit dies without tearing down. SIGINT is reset to
    its default because a kit run as a background job inherits it ignored, and a Python
    server then installs no KeyboardInterrupt handler at all (START-5 would blame it).
    """
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != kit_pid:  # the kit died between fork and prctl: no signal will come
        os._exit(1)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    if fd_limit is not None:
        fdlimit.set_in_child(fd_limit)


def stop_all() -> None:
    """Stop every server still running (session end, Ctrl-C)."""
    for server in list(_running):
        server.stop()
