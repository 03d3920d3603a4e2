"""Build agentvm's compatibility library (compat/src/*.c) into a static archive.

The archive is built once per machine and input: its name carries a key hashing
every file under compat/, the flags below and zig's version, so an edit to a
source or a new zig rebuilds it and nothing else does. Builds can race (a
`make -j` of a configure project runs many agentvm-cc at once, and setup builds
recipes in parallel): an flock serializes them, and the archive appears by
atomic rename, so a reader never sees half of one.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import subprocess
import tempfile
from pathlib import Path

from ..paths import software_dir

__all__ = [
    "COMPAT_DIR",
    "COMPAT_FLAGS",
    "COMPAT_INCLUDE",
    "COMPILE_DEFINES",
    "CompatBuildError",
    "compat_archive",
    "compat_key",
    "zig_version",
]

COMPAT_DIR = Path(__file__).resolve().parent / "compat"
COMPAT_INCLUDE = COMPAT_DIR / "include"
COMPAT_SOURCES = COMPAT_DIR / "src"

# wasi-libc hides signal(), process clocks and mmap behind these (each with its
# emulation library, linked by the driver); getpid is ours (host_process), the
# define only makes wasi-libc declare it without a deprecation warning.
COMPILE_DEFINES = (
    "-D_WASI_EMULATED_SIGNAL", "-D_WASI_EMULATED_GETPID",
    "-D_WASI_EMULATED_PROCESS_CLOCKS", "-D_WASI_EMULATED_MMAN",
)
COMPAT_FLAGS = ("-target", "wasm32-wasi", "-O2", "-Wall", "-Werror", "-I", str(COMPAT_INCLUDE), *COMPILE_DEFINES)
BUILD_TIMEOUT_SECONDS = 600


class CompatBuildError(RuntimeError):
    """The compatibility library did not compile (the compiler's output is the message)."""


def zig_version() -> str:
    """The installed ziglang package's version ("unknown" without one)."""
    try:
        return importlib.metadata.version("ziglang")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def compat_key() -> str:
    """16 hex digits hashing compat/ (names and bytes), the flags and zig's version."""
    digest = hashlib.sha256()
    for path in sorted(p for p in COMPAT_DIR.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(COMPAT_DIR)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    # the include path by its place in the package, so every checkout shares a key
    flags = ["compat/include" if flag == str(COMPAT_INCLUDE) else flag for flag in COMPAT_FLAGS]
    for part in (*flags, zig_version()):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()[:16]


def compat_archive(software: Path | None = None) -> Path:
    """The archive for today's inputs, built now if missing. Raises: CompatBuildError."""
    from .driver import zig_executable  # driver imports this module

    directory = (software_dir() if software is None else software) / "cc"
    key = compat_key()
    target = directory / f"libagentvm-compat-{key}.a"
    if target.is_file():
        return target
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / ".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.is_file():  # another build finished while we waited
            return target
        zig = str(zig_executable())
        with tempfile.TemporaryDirectory(dir=directory, prefix=".compat-build-") as tmp:
            work = Path(tmp)
            objects = []
            for source in sorted(COMPAT_SOURCES.glob("*.c")):
                obj = work / f"{source.stem}.o"
                # the key as a define defeats zig's cache for new headers (see driver.py)
                _run([zig, "cc", *COMPAT_FLAGS, f"-D__agentvm_compat__=0x{key}", "-c", str(source), "-o", str(obj)])
                objects.append(str(obj))
            staged = work / "libagentvm-compat.a"
            _run([zig, "ar", "rcs", str(staged), *objects])
            staged.replace(target)
    return target


def _run(command: list[str]) -> None:
    result = subprocess.run(
        command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=BUILD_TIMEOUT_SECONDS, check=False
    )
    if result.returncode != 0:
        raise CompatBuildError(f"{' '.join(command)} failed:\n{result.stderr}")
