"""``agentvm-sidecar setup``: everything a VM's /bin needs, in one command, with progress.

The one step an installed sidecar needs after ``pip install`` (a checkout runs it as
part of ``make setup``): fetch the pinned guest packages (``fetch.py``, through
``npm pack``), compile agentvm's own commands (``commands/build.py``, with the
``ziglang`` package, a runtime dependency for exactly this), compile the sidecar's
own native hot path (``native/build.py``, also with zig), add the toolbox (pinned
python3, jq, yq, rg, fd and tree modules, ``fetch_modules.py``; sqlite3 built with zig,
``sqlite.py``; make, patch, curl and git built from Debian sources with agentvm-cc,
``recipes/``, in parallel), then compile every module of the /bin layer into the
on-disk module cache so the first ``sh`` of the first VM does not pay 1.5 s. Each
step reports on stderr when it starts and how long it took; stdout stays empty.
Idempotent: a second run checks and skips.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

from ..logs import configure_logging
from ..native.build import build_library
from .commands.build import build, sources
from .fetch import FetchError, fetch_all
from .fetch_modules import fetch_modules
from .paths import software_dir
from .recipes import RECIPES, RecipeError, build_recipes
from .sqlite import build_sqlite

__all__ = ["main", "run_setup"]


def _say(message: str) -> None:
    print(f"agentvm-sidecar setup: {message}", file=sys.stderr, flush=True)


def _step(title: str, fn: Callable[[], str]) -> None:
    _say(f"{title}...")
    started = time.monotonic()
    detail = fn()
    _say(f"{title}: {detail} ({time.monotonic() - started:.1f} s)")


def _build_native() -> str:
    path, built = build_library()
    return f"{'built' if built else 'up to date'}: {path}"


def run_setup(directory: Path, *, warm: bool = True, toolbox: bool = True) -> None:
    """Fetch, build, add the toolbox (unless ``toolbox`` is False) and warm (unless
    ``warm`` is False); raises FetchError on a fetch failure."""
    _step(f"fetching guest packages into {directory}", lambda: f"{len(fetch_all(directory))} fetched or extracted")
    out = directory / "commands"

    def build_commands() -> str:
        out.mkdir(parents=True, exist_ok=True)
        rebuilt = [s.stem for s in sources() if build(s, out)]
        return f"{len(sources())} in {out}, rebuilt {rebuilt or 'none'}"

    _step("building agentvm's own commands", build_commands)
    _step("compiling the sidecar's native hot path (zig cc)", _build_native)
    if toolbox:
        _step("fetching the toolbox modules (python3, jq, yq, rg, fd, tree)",
              lambda: f"{len(fetch_modules(directory))} downloaded now, the rest already there")
        _step("building sqlite3 (zig cc)", lambda: "built now" if build_sqlite(directory) else "up to date")
        names = ", ".join(r.name for r in RECIPES)
        _step(f"building {names} from Debian sources (agentvm-cc)",
              lambda: f"built now: {', '.join(build_recipes(directory)) or 'none (all up to date)'}")
    if warm:
        # Imported here: loading wasmtime is not needed to fetch or build.
        from .warm import warm_module_cache

        _step("compiling guest modules into the module cache", warm_module_cache)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="agentvm-sidecar setup",
        description="Fetch the guest packages, build agentvm's commands and warm the module cache.",
    )
    parser.add_argument("--no-warm", action="store_true", help="skip compiling modules now (the first VMs will)")
    parser.add_argument("--no-toolbox", action="store_true", help="only the agentOS packages and agentvm's grep")
    args = parser.parse_args(argv)
    configure_logging()
    directory = software_dir()
    try:
        run_setup(directory, warm=not args.no_warm, toolbox=not args.no_toolbox)
    except (FetchError, RecipeError) as exc:
        _say(f"failed: {exc}")
        return 1
    _say("done")
    return 0
