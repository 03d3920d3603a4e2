"""Compile agentvm's own guest commands: `python -m agentvm_sidecar.software.commands.build`.

Every `*.c` next to this file, and every directory with a `main.c`, becomes
`<out>/<name>.wasm` (default out:
`<software_dir()>/commands`, i.e. `.build/software/commands`), built with the zig C
compiler (software/zigcc.py), as tests/guests/build.py does for the test guests.
A command is rebuilt only when its source (or the compiler flags) is newer than
the output, so the build is idempotent. Binaries are build products and are never committed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..paths import software_dir
from ..zigcc import compile_if_stale

__all__ = ["REPLACES", "build", "built_commands", "command_names", "commands_dir", "main", "source_label", "sources"]

SOURCES_DIR = Path(__file__).resolve().parent

# Flags a command needs beyond zigcc.CFLAGS. grep searches its input buffer 16
# bytes at a time with wasm SIMD, which wasmtime (our engine keeps its default)
# runs with the host's vector instructions.
# sh keeps a 256 KiB stack instead of zig's 16 MiB default: its linear memory
# starts at 5 pages instead of 257, which a short `sh -c` pays for at every start
# (instantiation took 150 us with 16 MiB, 48-70 us with 256 KiB).
EXTRA_FLAGS: dict[str, tuple[str, ...]] = {"grep": ("-msimd128",), "sh": ("-Wl,-z,stack-size=262144",)}

# Commands that start others (posix_spawn, exec, pipes, signal masks): built and
# linked with agentvm-cc's compatibility library (software/cc).
COMPAT = frozenset({"sh"})

# Commands built here that take the place of a package's command of the same name
# (the others only fill names no package has), and why.
REPLACES = {
    "sh": "brush's start in wasm is most of a short `sh -c`: ours runs the common command lines and execs brush for the rest",
    "cat": "uutils cat on WASI refuses to read devices, fifos and pipes by name (cat /dev/null, cat <(cmd))",
}


def commands_dir() -> Path:
    """Where the built commands live by default: `<software_dir()>/commands`."""
    return software_dir() / "commands"


def sources() -> list[Path]:
    """The source of every command, sorted by name: a C file, or a directory of
    them with a main.c (sh/)."""
    return sorted([*SOURCES_DIR.glob("*.c"), *(d.parent for d in SOURCES_DIR.glob("*/main.c"))])


def source_label(name: str) -> str:
    """Where command ``name``'s source lives, for listings: `software/commands/grep.c`
    or, for a directory, `software/commands/sh/`."""
    return f"software/commands/{name}/" if (SOURCES_DIR / name).is_dir() else f"software/commands/{name}.c"


def command_names() -> list[str]:
    """The commands built from here (`grep`...)."""
    return [source.stem for source in sources()]


def build(source: Path, out_dir: Path) -> bool:
    """Compile one command if stale; returns True if it was (re)built."""
    return compile_if_stale(
        source, out_dir, also_depends_on=(Path(__file__),), extra_flags=EXTRA_FLAGS.get(source.stem, ()),
        compat=source.stem in COMPAT,
    )


def built_commands(directory: Path | None = None) -> dict[str, Path]:
    """The built command modules by name (`grep` -> `<dir>/grep.wasm`).

    Only commands with a source here count, so stray files in `directory` are
    ignored; a command not (yet) built is simply absent.
    """
    directory = commands_dir() if directory is None else directory
    found: dict[str, Path] = {}
    for source in sources():
        module = directory / f"{source.stem}.wasm"
        if module.is_file():
            found[source.stem] = module
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=None, help="output directory (default: <software dir>/commands)"
    )
    args = parser.parse_args(argv)
    out: Path = args.out if args.out is not None else commands_dir()
    out.mkdir(parents=True, exist_ok=True)
    all_sources = sources()
    rebuilt = [s.name for s in all_sources if build(s, out)]
    print(f"{len(all_sources)} commands in {out} ({len(rebuilt)} rebuilt)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
