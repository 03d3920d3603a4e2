"""Compiling agentvm_native.c into a shared library, once per machine.

The library is built with the ``ziglang`` runtime dependency (``python -m ziglang
cc``, for the host) and kept under ``$XDG_CACHE_HOME/agentvm/native`` (like the
module cache, ``~/.cache/agentvm``; ``$AGENTVM_NATIVE_DIR`` overrides it), named by
a hash of the source, the compiler version and the flags, so a changed source or
compiler never loads a stale build. ``agentvm-sidecar setup`` builds it with a
progress line; a sidecar that finds it missing builds it on first use, under a
file lock so concurrent sidecars compile it once. It appears by rename, so a file
that exists is whole. The directory is trusted as the module cache is (loading a
library from it runs its code).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from ..machine_cache import machine_cache_dir

__all__ = ["NATIVE_DIR_ENV", "SOURCE", "build_library", "library_path"]

NATIVE_DIR_ENV = "AGENTVM_NATIVE_DIR"
SOURCE = Path(__file__).with_name("agentvm_native.c")
CFLAGS = ["-shared", "-fPIC", "-O2", "-Wall", "-Werror", "-pthread"]
COMPILE_TIMEOUT_SECONDS = 300


def _cache_dir() -> Path:
    return machine_cache_dir("native", NATIVE_DIR_ENV)


def library_path() -> Path:
    """Where the library for this source, compiler and flags lives (built or not)."""
    key = hashlib.sha256()
    key.update(SOURCE.read_bytes())
    key.update(f"\0ziglang {version('ziglang')}\0{' '.join(CFLAGS)}".encode())
    return _cache_dir() / f"agentvm_native-{key.hexdigest()[:24]}.so"


def build_library() -> tuple[Path, bool]:
    """The library's path, compiling it first when missing; True if compiled now.

    Raises: RuntimeError with the compiler's output when compilation fails.
    """
    target = library_path()
    if target.exists():
        return target, False
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another sidecar may be compiling it
        if target.exists():
            return target, False
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        command = [sys.executable, "-m", "ziglang", "cc", *CFLAGS, str(SOURCE), "-o", str(tmp)]
        result = subprocess.run(
            command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=COMPILE_TIMEOUT_SECONDS
        )
        if result.returncode != 0:
            tmp.unlink(missing_ok=True)
            raise RuntimeError(f"compiling {SOURCE.name} failed:\n{result.stderr}")
        tmp.rename(target)
    return target, True
