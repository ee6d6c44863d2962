"""Building the C programs and libraries shipped as source, once per source version, into a
cache directory: the interposer, the benchmark's client and baseline server, and the C broken
servers of the self-tests.

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

CFLAGS = ("-O2", "-Wall", "-Wextra")
LIBRARY_FLAGS = ("-shared", "-fPIC")  # a library to load with LD_PRELOAD
LIBRARY_LIBS = ("-ldl",)


class BuildUnavailable(Exception):
    """The program cannot be built here: the message says why and what to install."""


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "echo-conformance" / "native"


def built(source: Path, library: bool = False) -> Path:
    """The program (or, with ``library``, the shared library) built from one C source file,
    compiled with the machine's gcc if not already cached."""
    flags = (*CFLAGS, *LIBRARY_FLAGS) if library else CFLAGS
    libs = LIBRARY_LIBS if library else ()
    name = source.stem
    hashed = hashlib.sha256(" ".join(flags).encode())
    for part in (source, *sorted(source.parent.glob("*.h"))):
        hashed.update(part.read_bytes())
    digest = hashed.hexdigest()[:12]
    binary = cache_dir() / (f"{name}-{digest}.so" if library else f"{name}-{digest}")
    if binary.exists():
        return binary
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        raise BuildUnavailable(f"no C compiler (gcc or cc) on PATH to build {source.name}")
    binary.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(dir=binary.parent, prefix=f".{name}-")
    os.close(fd)
    compiled = subprocess.run(
        [gcc, *flags, "-o", partial, str(source), *libs],
        capture_output=True,
        text=True,
        check=False,
    )
    if compiled.returncode != 0:
        os.unlink(partial)
        raise BuildUnavailable(f"{gcc} could not build {source}:\n{compiled.stderr}")
    os.replace(partial, binary)
    return binary
