"""Building the programs shipped as source, once per source version, into the user's cache:
C files with the machine's gcc (the fault interposer, the benchmark's load generator and C
baseline, the broken C servers of the self-tests), Go packages with `go build` (the example in
examples/go-echo).

Rules:
- A binary is named after the hash of everything that decides it (its sources, the flags, for
  Go the toolchain's version), so an edited source is rebuilt and a stale binary never runs.
- It is written under a temporary name and renamed, so a build that is interrupted or runs
  twice at once never leaves a half-written file in place.
- A build writes nothing outside the cache and never uses the network: Go is told that the
  module proxy is off, to use the installed toolchain only, and to keep its own caches in
  ours (so it works as root in CI, in a clean checkout, with $HOME unset, and on sources that
  are read-only).
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
# -buildvcs=false: stamping git details fails in a checkout owned by another user (root in CI).
GO_FLAGS = ("-trimpath", "-buildvcs=false")


class BuildUnavailable(Exception):
    """The program cannot be built here: the message says why and what to install."""


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "echo-conformance"


def c_program(source: Path, library: bool = False) -> Path:
    """The binary of the C file ``source`` (with ``library``, a shared library), compiled with
    gcc (or cc) if not already cached. The headers beside it are part of its hash."""
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        raise BuildUnavailable(f"no C compiler (gcc or cc) on PATH to build {source.name}")
    flags = (*CFLAGS, *LIBRARY_FLAGS) if library else CFLAGS
    headers = sorted(source.parent.glob("*.h"))
    digest = _digest(" ".join(flags).encode(), *(p.read_bytes() for p in (source, *headers)))
    name = f"{source.stem}-{digest}" + (".so" if library else "")
    libs = LIBRARY_LIBS if library else ()
    return _cached(name, [gcc, *flags, "-o", "{out}", str(source), *libs])


def go_program(package: Path) -> Path:
    """The binary of the Go main package in the directory ``package`` (a module of its own,
    with no dependencies), built with `go build` if not already cached."""
    go = shutil.which("go")
    if go is None:
        raise BuildUnavailable(f"no Go toolchain on PATH to build {package} (Debian: golang-go)")
    env = _go_environment()
    version = subprocess.run([go, "version"], env=env, capture_output=True, check=False).stdout
    sources = sorted(p for p in package.iterdir() if p.suffix in (".go", ".mod", ".sum"))
    digest = _digest(version, " ".join(GO_FLAGS).encode(), *(p.read_bytes() for p in sources))
    argv = [go, "build", *GO_FLAGS, "-o", "{out}", "."]
    return _cached(f"{package.name}-{digest}", argv, cwd=package, env=env)


def _go_environment() -> dict[str, str]:
    caches = cache_dir() / "go"
    return {
        **os.environ,
        "GOCACHE": str(caches / "build"),
        "GOPATH": str(caches / "path"),  # holds the module cache, which stays empty here
        "GOFLAGS": "",  # the user's defaults (say -mod=vendor) are not this build's
        "GOPROXY": "off",  # offline: a missing module fails at once instead of downloading
        "GOTOOLCHAIN": "local",  # never fetch another toolchain for go.mod's `go` line
        "GO111MODULE": "on",
        "CGO_ENABLED": "0",  # pure Go: no C compiler needed
    }


def _digest(*parts: bytes) -> str:
    hashed = hashlib.sha256()
    for part in parts:
        hashed.update(hashlib.sha256(part).digest())
    return hashed.hexdigest()[:12]


def _cached(
    name: str, argv: list[str], cwd: Path | None = None, env: dict[str, str] | None = None
) -> Path:
    """The binary ``name`` from the cache, built first by ``argv`` (whose "{out}" is the
    output path) if it is not there."""
    binary = cache_dir() / "bin" / name
    if binary.exists():
        return binary
    binary.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(dir=binary.parent, prefix=f".{name}-")
    os.close(fd)
    argv = [partial if arg == "{out}" else arg for arg in argv]
    built = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if built.returncode != 0:
        os.unlink(partial)
        raise BuildUnavailable(f"{' '.join(argv)} could not build {name}:\n{built.stderr}")
    os.replace(partial, binary)
    return binary
