"""Compile one C file to a wasm32-wasi module with zig's C compiler.

The `ziglang` PyPI package carries the whole toolchain (`python -m ziglang cc`,
wasi-libc included), so neither a system toolchain nor wasi-sdk is needed. Both
agentvm's own guest commands (software/commands/build.py) and the C test guests
(tests/guests/build.py) are built with this one function and these flags.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import subprocess
import sys
from pathlib import Path

from . import build_cache
from .cc.compat import compat_archive, compat_key
from .cc.driver import cc_argv

__all__ = ["CFLAGS", "COMPILE_TIMEOUT_SECONDS", "compile_if_stale"]

# -s strips debug info: 1 MB -> 22 KB for a hello world, and faster to compile.
CFLAGS = ["-target", "wasm32-wasi", "-O2", "-s", "-Wall"]
COMPILE_TIMEOUT_SECONDS = 300


def compile_if_stale(
    source: Path, out_dir: Path, *, also_depends_on: tuple[Path, ...] = (), extra_flags: tuple[str, ...] = (),
    compat: bool = False,
) -> bool:
    """Compile ``source`` to ``out_dir/<stem>.wasm`` unless that is newer than
    ``source``, this file (which holds the flags) and ``also_depends_on`` (which
    must include the file that holds ``extra_flags``, flags after CFLAGS).
    ``source`` is one C file, or a directory whose ``*.c`` make one program (with
    its ``*.h``, which count as inputs too).

    ``compat``: compile and link as agentvm-cc does (software/cc: posix_spawn, exec,
    pipes and signal masks over the host ABI), for a command that runs others.

    Returns True if it was (re)built; raises SystemExit with the compiler's
    output if compilation fails. The output appears atomically (tmp + rename),
    so an interrupted build never leaves a truncated module behind.
    """
    target = out_dir / f"{source.stem}.wasm"
    archive = compat_archive() if compat else None
    files = _source_files(source)
    inputs = (*files, Path(__file__), *also_depends_on, *((archive,) if archive else ()))
    newest_input = max(path.stat().st_mtime for path in inputs)
    if target.exists() and target.stat().st_mtime >= newest_input:
        return False
    flags = [*CFLAGS, *extra_flags]
    # the compat library's key stands for its sources, headers and zig's version
    key_inputs = [*flags, f"compat library {compat_key()}"] if compat else flags
    cached_name = f"zigcc-{source.stem}-{_build_key(files, key_inputs)}.wasm"
    if build_cache.restore_file(cached_name, target):  # this machine built these inputs already
        return True
    tmp = target.with_name(f".{target.name}.tmp")
    compiled = [str(path) for path in files if path.suffix == ".c"]
    if archive is not None:
        command = cc_argv([*flags, *compiled, "-o", str(tmp)], archive)
    else:
        command = [sys.executable, "-m", "ziglang", "cc", *flags, *compiled, "-o", str(tmp)]
    result = subprocess.run(
        command,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=COMPILE_TIMEOUT_SECONDS,
        check=False,
    )
    if result.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise SystemExit(f"compiling {source.name} failed:\n{result.stderr}")
    if result.stderr:
        print(f"{source.name}: {result.stderr}", file=sys.stderr, end="")
    tmp.replace(target)
    build_cache.keep_file(target, cached_name)
    return True


def _source_files(source: Path) -> list[Path]:
    """The files ``source`` stands for: itself, or a directory's C sources and headers."""
    if source.is_dir():
        return sorted([*source.glob("*.c"), *source.glob("*.h")])
    return [source]


def _build_key(files: list[Path], flags: list[str]) -> str:
    """What the output depends on: the compiler's version, the flags and the sources
    (a one-file program includes no local headers; a directory's are among its files)."""
    digest = hashlib.sha256("\0".join((importlib.metadata.version("ziglang"), *flags)).encode())
    for path in files:
        if len(files) > 1:
            digest.update(b"\0" + path.name.encode())
        digest.update(b"\0" + path.read_bytes())
    return digest.hexdigest()[:24]
