"""Compile big guest commands into the disk module cache ahead of time:
`python -m agentvm_sidecar.software.precompile [COMMAND ...]` (default: codex-exec).

The Codex CLI's 30 MB module takes over a minute to compile; compiled once here
(at `make setup`), every sidecar on the machine loads it from the disk cache
(wasm/module_cache.py) in a fraction of a second, so no session waits for it. A
module already in the cache is not compiled again. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import sys
import time

from ..wasm.module_cache import shared_module_cache
from .library import shared_library

__all__ = ["DEFAULT_COMMANDS", "main", "precompile"]

DEFAULT_COMMANDS = ("codex-exec",)


def precompile(names: list[str]) -> None:
    """Compile (or find in the disk cache) each named command of the /bin library.

    Raises: SystemExit naming a command the library does not have.
    """
    commands = shared_library().commands()
    cache = shared_module_cache()
    for name in names:
        entry = commands.get(name)
        if entry is None:
            raise SystemExit(f"no command {name!r} in the guest software library")
        cached = cache.path_for(entry.sha256).exists()
        print(f"{name}: {'in the disk cache' if cached else f'compiling {len(entry.module) >> 20} MB (takes a minute or more)'}",
              file=sys.stderr, flush=True)
        started = time.monotonic()
        cache.get(entry.module, entry.sha256)
        if not cached:
            print(f"{name}: compiled in {time.monotonic() - started:.0f} s -> {cache.path_for(entry.sha256)}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("commands", nargs="*", default=list(DEFAULT_COMMANDS))
    precompile(parser.parse_args(argv).commands)
    return 0


if __name__ == "__main__":
    sys.exit(main())
