"""The suite over IPv6: ``--server-host ::1`` and ``--server-addr [::1]:PORT``.

A few clauses that exercise every family-dependent part of the harness (a free port picked on
::1, /proc/net/tcp6 for readiness and TIME_WAIT, sock_diag requests for AF_INET6, a paused
server) against reference servers, an IPv4-only seed that must come out N/A, and how
addresses are read and refused. The whole suite over ::1 runs in tox's conformance env.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from conformance.cli import CONFORMANT, RUN_FAILED
from conformance.harness import addresses, procfs, sockdiag
from conformance.harness.addresses import IPV6_LOOPBACK
from tests.test_cli import ROOT, report, run_cli, server_started_by_hand, template

NO_IPV6 = addresses.cannot_bind(IPV6_LOOPBACK)
needs_ipv6 = pytest.mark.skipif(NO_IPV6 is not None, reason=NO_IPV6 or "")
# Each reaches a family-dependent part of the harness: a port picked on ::1 (START-2), TIME_WAIT
# found in /proc/net/tcp6 (START-6), the accept queue of an IPv6 listener over sock_diag while
# the server is paused (ACCEPT-3), one IPv6 connection's queues over sock_diag (CLOSE-3).
CLAUSES = "START-2,START-6,ACCEPT-3,ECHO-1,CLOSE-3"

pytestmark = pytest.mark.timeout(180)


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("127.0.0.1:7000", ("127.0.0.1", 7000)),
        ("[::1]:7000", ("::1", 7000)),
        ("[0:0::1]:65535", ("::1", 65535)),
    ],
)
def test_host_and_port_are_read_in_either_family(text: str, parsed: tuple[str, int]) -> None:
    assert addresses.parse_host_port(text) == parsed
    assert addresses.display(*parsed) == text.replace("0:0::1", "::1")


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("::1:7000", "write an IPv6 address in brackets, e.g. [::1]:7000"),
        ("[::1]7000", "needs ':PORT' after ']'"),
        ("[::1", "needs ':PORT' after ']'"),
        ("[127.0.0.1]:7000", "brackets are for IPv6 addresses only"),
        ("127.0.0.1", "expected HOST:PORT"),
        ("127.0.0.1:0", "expected HOST:PORT"),
        ("127.0.0.1:70000", "expected HOST:PORT"),
        (":7000", "expected HOST:PORT"),
        ("localhost:7000", "'localhost' is not an IP address"),
    ],
)
def test_malformed_address_is_refused_saying_how_to_write_it(text: str, says: str) -> None:
    with pytest.raises(ValueError) as refused:
        addresses.parse_host_port(text)
    assert says in str(refused.value)


def test_an_address_of_no_interface_cannot_be_bound() -> None:
    assert "2001:db8::1" in (addresses.cannot_bind("2001:db8::1") or "")  # RFC 3849: documentation
    assert addresses.cannot_bind("127.0.0.1") is None


@needs_ipv6
def test_sock_diag_finds_ipv6_listener_and_connection() -> None:
    with socket.create_server((IPV6_LOOPBACK, 0), family=socket.AF_INET6) as listener:
        address = listener.getsockname()[:2]
        assert sockdiag.accept_queue_length(address) == 0
        with socket.create_connection(address) as client:
            listening = procfs.listening_inodes().values()  # read from /proc/net/tcp6
            assert address[1] in listening
            assert sockdiag.accept_queue_length(address) == 1
            found = sockdiag.tcp_connection(client.getsockname()[:2], address)
            assert found is not None and found.state == 1  # TCP_ESTABLISHED


@needs_ipv6
def test_reference_servers_pass_over_ipv6_and_an_ipv4_only_seed_is_na(tmp_path: Path) -> None:
    servers = {
        "selectors_echo": ROOT / "implementations" / "selectors_echo.py",
        "asyncio_echo": ROOT / "implementations" / "asyncio_echo.py",
        "seed_select": ROOT / "implementations" / "seed" / "seed_select.py",
    }
    args = [f"--server-host={IPV6_LOOPBACK}", "--clause", CLAUSES]
    for name, path in servers.items():
        args += ["--server-cmd", template(path), "--name", name]
    status, output = run_cli(tmp_path, *args)
    assert status == CONFORMANT, output
    verdicts = report(tmp_path)["verdicts"]
    clauses = CLAUSES.split(",")
    for name in ("selectors_echo", "asyncio_echo"):
        assert verdicts[name] == dict.fromkeys(clauses, "PASS"), output
    assert verdicts["seed_select"] == dict.fromkeys(clauses, "N/A")
    reasons = {r["reason"] for r in report(tmp_path)["results"] if r["server"] == "seed_select"}
    assert reasons == {
        "Skipped: N/A over IPv6: the server cannot listen on ::1, it is IPv4-only "
        "(socket.gaierror: [Errno -9] Address family for hostname not supported)"
    }


@needs_ipv6
def test_running_server_on_ipv6_by_address_in_brackets(tmp_path: Path) -> None:
    with server_started_by_hand(IPV6_LOOPBACK) as port:
        args = ("--server-addr", f"[::1]:{port}", "--clause", "ECHO-1,CLOSE-1,RES-1", "-n", "0")
        status, output = run_cli(tmp_path, *args)
    assert status == CONFORMANT, output
    verdicts = report(tmp_path)["verdicts"]["server1"]
    assert verdicts == {"ECHO-1": "PASS", "CLOSE-1": "PASS", "RES-1": "N/A"}


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--server-addr", "::1:7000"), "write an IPv6 address in brackets, e.g. [::1]:7000"),
        (("--server-host", "localhost"), "--server-host: 'localhost' is not an IP address"),
        (("--server-host", "2001:db8::1"), "this machine has no address 2001:db8::1"),
    ],
)
def test_bad_address_option_exits_2_saying_why(
    tmp_path: Path, args: tuple[str, str], says: str
) -> None:
    status, output = run_cli(tmp_path, *args, "--clause", "ECHO-1", "-n", "0")
    assert status == RUN_FAILED
    assert says in output


# A machine whose kernel has IPv6 disabled, as far as the plugin can tell.
WITHOUT_IPV6 = """
from conformance.harness import addresses
addresses.cannot_bind = lambda host: f"this machine has no address {host} to listen on (test)"
"""


def test_machine_without_ipv6_loopback_makes_the_ipv6_run_na(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(without_ipv6=WITHOUT_IPV6)
    suite = ROOT / "conformance" / "suite"
    result = pytester.runpytest_subprocess(
        str(suite), f"--rootdir={ROOT}", "-p", "no:xdist", "-p", "without_ipv6", "-rs",
        "--server-host=::1", "--clause=ECHO-1,START-1", "-k", "selectors_echo",
    )  # fmt: skip
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*N/A: this machine has no address ::1 to listen on (test)*"])
    result.assert_outcomes(skipped=2)
