"""The interop matrix: real echo servers, each with its command template and how to install it.

Rules this module keeps:
- A server is its upstream form: an example's logic is never changed (the files in
  ``servers/`` say at the top what was added: host and port handling only), a program runs
  with its own defaults, so that a verdict is about the server people copy, not about a fix.
- A server that cannot run here (not installed, no compiler, no user namespaces) is still
  listed, with the reason and what to install: a matrix never silently lacks a column.
- Commands are absolute: the matrix runs from any directory.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from conformance.bench import targets
from conformance.native.build import BuildUnavailable, go_program

ROOT = Path(__file__).resolve().parents[1]
SERVERS = Path(__file__).resolve().parent / "servers"


class Unavailable(Exception):
    """The server cannot run on this machine: the message says why."""


@dataclass(frozen=True)
class InteropServer:
    name: str
    what: str  # the upstream it is, for the report
    install: str  # where it comes from: a Debian package, PyPI, or the kit itself
    command: Callable[[], str]  # its template ({host} and {port}); raises Unavailable


def _on_path(program: str) -> str:
    found = shutil.which(program)
    if found is None:
        raise Unavailable(f"{program} is not on PATH")
    return found


def _python_with(module: str, script: str) -> str:
    if importlib.util.find_spec(module) is None:
        raise Unavailable(f"the Python module {module} is not installed")
    return f"{sys.executable} {SERVERS / script} {{host}} {{port}}"


def _python_docs(script: str) -> Callable[[], str]:
    return lambda: f"{sys.executable} {SERVERS / script} {{host}} {{port}}"


def _built(build: Callable[[], Path]) -> Callable[[], str]:
    def template() -> str:
        try:
            binary = build()
        except BuildUnavailable as exc:
            raise Unavailable(str(exc)) from None
        return f"{binary} --host {{host}} --port {{port}}"

    return template


def _node() -> str:
    return (
        f"{_on_path('node')} {ROOT / 'examples' / 'node-echo.js'} --host {{host}} --port {{port}}"
    )


def _socat() -> str:
    # -t 10: a child may take 10 s (not 0.5) to flush what it owes after the client's FIN;
    # backlog=1024: socat's own default of 5 drops most of a burst (README, tests/test_cli.py).
    socat = _on_path("socat")
    return f"{socat} -t 10 TCP-LISTEN:{{port}},bind={{host}},reuseaddr,fork,backlog=1024 EXEC:cat"


def _tcpserver() -> str:
    # -R -H -l0: no ident query to the client and no DNS lookups before each program starts.
    # With its defaults every connection waits on a PTR query to the site's resolver: one lost
    # datagram stalls that client 3 s, so the verdicts would measure the resolver (INTEROP.md).
    return f"{_on_path('tcpserver')} -RHl0 {{host}} {{port}} cat"


def _ncat() -> str:
    return f"{_on_path('ncat')} -l -k --exec /bin/cat {{host}} {{port}}"


def _inetd() -> str:
    _on_path("inetd")
    _on_path("unshare")
    # The launcher needs a private mount namespace owned by a private user namespace.
    probe = subprocess.run(
        ["unshare", "--mount", "--map-root-user", "true"], capture_output=True, text=True
    )
    if probe.returncode != 0:
        raise Unavailable(f"no private mount namespace here: {probe.stderr.strip()}")
    return f"sh {SERVERS / 'inetd-echo.sh'} {{host}} {{port}}"


MATRIX: tuple[InteropServer, ...] = (
    InteropServer(
        "go",
        "Go's net.Listener documentation example (examples/go-echo: io.Copy per goroutine)",
        "Debian golang-go (built offline at first use)",
        _built(lambda: go_program(ROOT / "examples" / "go-echo")),
    ),
    InteropServer(
        "twisted",
        "Twisted's canonical echo example (docs/core/examples/echoserv.py, Echo(Protocol))",
        "PyPI twisted",
        lambda: _python_with("twisted", "twisted_echoserv.py"),
    ),
    InteropServer(
        "asyncio_streams",
        "the Python docs' TCP echo server using streams (asyncio-stream.rst)",
        "Python standard library",
        _python_docs("asyncio_streams_echo.py"),
    ),
    InteropServer(
        "asyncio_protocol",
        "the Python docs' TCP echo server on asyncio.Protocol (asyncio-protocol.rst)",
        "Python standard library",
        _python_docs("asyncio_protocol_echo.py"),
    ),
    InteropServer(
        "node",
        "Node.js net: examples/node-echo.js (pipe() with allowHalfOpen)",
        "Debian nodejs",
        _node,
    ),
    InteropServer(
        "socat",
        "socat TCP-LISTEN,fork EXEC:cat",
        "Debian socat",
        _socat,
    ),
    InteropServer(
        "tcpserver",
        "ucspi-tcp: tcpserver HOST PORT cat",
        "Debian ucspi-tcp",
        _tcpserver,
    ),
    InteropServer(
        "ncat",
        "Nmap's ncat -l -k --exec /bin/cat",
        "Debian ncat",
        _ncat,
    ),
    InteropServer(
        "inetd",
        "openbsd-inetd's internal echo service, in the foreground (-d)",
        "Debian openbsd-inetd",
        _inetd,
    ),
    InteropServer(
        "c_epoll",
        "the benchmark's C baseline (conformance/bench/c/epoll_echo_server.c)",
        "gcc (built from source at first use)",
        _built(lambda: targets.c_built("epoll_echo_server")),
    ),
)


@dataclass(frozen=True)
class Resolved:
    server: InteropServer
    template: str = ""
    not_run: str = ""  # why it cannot run here, with what to install


def resolve(server: InteropServer) -> Resolved:
    try:
        return Resolved(server, template=server.command())
    except Unavailable as exc:
        return Resolved(server, not_run=f"{exc} (install: {server.install})")


def pick(names: str) -> list[InteropServer]:
    """The servers named in a comma-separated list; all of them if it is empty."""
    wanted = {n for n in names.split(",") if n}
    known = {s.name for s in MATRIX}
    if wanted - known:
        unknown = ", ".join(sorted(wanted - known))
        raise SystemExit(f"--only: no server named {unknown} (known: {', '.join(sorted(known))})")
    return [s for s in MATRIX if not wanted or s.name in wanted]
