"""Building the C programs shipped as source, once per source version, into a cache directory:
the benchmark's client and baseline server here, and any other C source the kit runs (the C
broken servers of the self-tests).

Rule: a binary is named after the hash of its source and of the headers beside it (``*.h``,
which it may include), so an edited source is rebuilt and a stale binary is never run; it is
written under a temporary name and renamed, so a build that is interrupted or runs twice at
once never leaves a half-written file in place.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

SOURCES = Path(__file__).resolve().parent / "c"
CFLAGS = ("-O2", "-Wall", "-Wextra")


class BuildUnavailable(Exception):
    """The program cannot be built here: the message says why and what to install."""


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "echo-conformance" / "bench"


def built(name: str) -> Path:
    """The binary of the benchmark's ``c/<name>.c``."""
    return compiled(SOURCES / f"{name}.c")


def compiled(source: Path) -> Path:
    """The binary of ``source``, compiled with the machine's gcc if not already cached."""
    name = source.stem
    digest = hashlib.sha256(" ".join(CFLAGS).encode())
    for part in (source, *sorted(source.parent.glob("*.h"))):
        digest.update(part.read_bytes())
    binary = cache_dir() / f"{name}-{digest.hexdigest()[:12]}"
    if binary.exists():
        return binary
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        raise BuildUnavailable(f"no C compiler (gcc or cc) on PATH to build {source.name}")
    binary.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(dir=binary.parent, prefix=f".{name}-")
    os.close(fd)
    compiled = subprocess.run(
        [gcc, *CFLAGS, "-o", partial, str(source)], capture_output=True, text=True, check=False
    )
    if compiled.returncode != 0:
        os.unlink(partial)
        raise BuildUnavailable(f"{gcc} could not build {source}:\n{compiled.stderr}")
    os.replace(partial, binary)
    return binary
