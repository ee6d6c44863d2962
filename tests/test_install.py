"""The kit as a backend's own repository gets it: `pip install` into a fresh virtualenv.

Nothing of this checkout is on the path there: the suite, the plugin (by its pytest11 entry
point) and the spec come from the installed package alone.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from conformance import __version__, spec

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "implementations" / "selectors_echo.py"
COPIED = ["conformance", "spec", "pyproject.toml", "README.md"]

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """bin/ of a fresh virtualenv with the project pip-installed from a copy of its sources."""
    base = tmp_path_factory.mktemp("install")
    source = base / "source"
    for name in COPIED:  # a copy, so that the build leaves nothing in this checkout
        path = ROOT / name
        if path.is_dir():
            ignore = shutil.ignore_patterns("__pycache__")
            shutil.copytree(path, source / name, symlinks=True, ignore=ignore)
        else:
            shutil.copy(path, source / name)
    venv.create(base / "venv", with_pip=True)
    bin_dir = base / "venv" / "bin"
    subprocess.run(
        [bin_dir / "pip", "install", "-q", str(source)],
        check=True,
        capture_output=True,
        timeout=240,
    )
    return bin_dir


def test_installed_package_ships_the_spec_and_reports_versions(installed: Path) -> None:
    result = subprocess.run(
        [installed / "echo-conformance", "--version"], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == (
        f"echo-conformance {__version__}, echo-server spec {spec.load().version}"
    )


def test_pytest_entry_point_runs_the_suite_against_an_external_command(
    installed: Path, tmp_path: Path
) -> None:
    server = f"{sys.executable} {REFERENCE} --host {{host}} --port {{port}}"
    result = subprocess.run(
        [
            installed / "pytest",
            "--pyargs",
            "conformance.suite",
            "-p",
            "no:cacheprovider",
            f"--server-cmd={server}",
            "--name=external",
            "--clause=ECHO-1,CLOSE-2,FAULT-6",  # FAULT: the interposer built from the package
        ],
        cwd=tmp_path,  # no conftest, no pytest.ini: only the installed plugin
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "site-packages/conformance/echo-server.md" in result.stdout
    assert re.search(r"ECHO-1 +MUST +pass", result.stdout)
    assert re.search(r"CLOSE-2 +MUST +pass", result.stdout)
    assert re.search(r"FAULT-6 +MUST +pass", result.stdout)
