"""agentvm-cc's command line: a cc command line in, zig's out.

Every invocation gets the wasm32-wasi target, our include directory (first, so
our wrapper headers wrap wasi-libc's), the emulation defines and
``__agentvm_compat__`` (the compat library's key, which C code can test). An invocation
that links (none of -c, -S, -E, -M, -MM, -fsyntax-only, and not a version or
search-path query) also gets the whole compat archive before the caller's own
inputs, and wasi-libc's emulation libraries after them. Whole, and first: zig
hands wasm-ld its libc.a ahead of everything, and wasm-ld takes a lazily
defined symbol from the first archive that has it, so libc's getpid (a
constant) would win over ours; objects loaded outright are defined before any
reference, so libc's member is never fetched. It also brings in the cwd
constructor (compat/src/cwd.c), which nothing references. What wasi-libc's own
startup already links (stat, chmod) cannot be replaced that way: our headers
redirect those calls by asm label (compat/include/sys/stat.h). (The same rule bites
programs that carry their own copy of a libc function, like make's fnmatch:
their object must come before the objects calling it.) The zig binary is exec'd directly (what `python -m ziglang`
does), so agentvm-cc costs one Python start on top of zig: configure scripts run
it hundreds of times.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from .compat import COMPAT_INCLUDE, COMPILE_DEFINES, CompatBuildError, compat_archive, compat_key

__all__ = ["LINK_LIBRARIES", "ar_main", "cc_argv", "links", "main", "ranlib_main", "zig_executable"]

TARGET = ("-target", "wasm32-wasi")
LINK_LIBRARIES = ("-lwasi-emulated-signal", "-lwasi-emulated-process-clocks", "-lwasi-emulated-mman")
_NO_LINK = {"-c", "-S", "-E", "-M", "-MM", "-fsyntax-only"}
_QUERIES = ("--version", "-v", "-V", "-qversion", "-dumpmachine", "-dumpversion", "-print-")


def zig_executable() -> Path:
    """The zig binary of the `ziglang` package (a runtime dependency)."""
    import ziglang

    return Path(ziglang.__file__).resolve().parent / "zig"


def links(args: list[str]) -> bool:
    """Whether a cc command line links a program (see module header)."""
    return bool(args) and not any(arg in _NO_LINK or arg.startswith(_QUERIES) for arg in args)


def cc_argv(args: list[str], archive: Path | None) -> list[str]:
    """The zig command for ``args``; ``archive`` is required when ``links(args)``."""
    # The key as a define: zig's compile cache keys on the flags and the headers a
    # file included last time, so a header newly added to compat/include (which
    # would shadow wasi-libc's) is noticed only through a changed flag.
    command = [
        str(zig_executable()), "cc", *TARGET, "-I", str(COMPAT_INCLUDE), *COMPILE_DEFINES,
        f"-D__agentvm_compat__=0x{compat_key()}",
    ]
    if not links(args):
        return [*command, *args]
    if archive is None:
        raise ValueError("linking needs the compat archive")
    return [*command, "-Wl,--whole-archive", str(archive), "-Wl,--no-whole-archive", *args, *LINK_LIBRARIES]


def main(argv: list[str] | None = None) -> int:
    """agentvm-cc: exec zig with ``argv`` (default: sys.argv[1:]) rewritten."""
    args = sys.argv[1:] if argv is None else argv
    try:
        archive = compat_archive() if links(args) else None
    except CompatBuildError as exc:
        print(f"agentvm-cc: building the compatibility library failed: {exc}", file=sys.stderr)
        return 1
    command = cc_argv(args, archive)
    os.execv(command[0], command)
    return 127  # not reached


def _zig_tool(tool: str) -> int:
    command = [str(zig_executable()), tool, *sys.argv[1:]]
    os.execv(command[0], command)
    return 127  # not reached


def ar_main() -> int:
    """agentvm-ar: zig's ar (llvm-ar), which writes wasm archive indexes."""
    return _zig_tool("ar")


def ranlib_main() -> int:
    """agentvm-ranlib: zig's ranlib."""
    return _zig_tool("ranlib")
