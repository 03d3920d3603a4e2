# Where fetched guest software lives on the host.
#
# In a checkout (the project installed editable, `pip install -e .`, as `make
# setup` does) it is the ignored `<root>/.build/software`, next to the code that
# pins it; the checkout is recognised by its pyproject.toml naming this project.
# An installed wheel has no checkout around it, so it uses the per-user cache
# (`$XDG_CACHE_HOME/agentvm/software`, default `~/.cache/agentvm/software`);
# fill it with `agentvm-sidecar setup`. `$AGENTVM_SOFTWARE_DIR` overrides both.
# `setup_hint()` names the command that fills the directory in use, so an error
# tells a pip user and a developer in the checkout each what to run.

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..machine_cache import machine_cache_dir

__all__ = ["SOFTWARE_DIR_ENV", "dest_of", "repo_root", "setup_hint", "software_dir", "software_parser"]

SOFTWARE_DIR_ENV = "AGENTVM_SOFTWARE_DIR"
_PROJECT_MARKER = 'name = "agentvm"'


def repo_root() -> Path | None:
    """The root of the agentvm checkout this module was loaded from, if any."""
    root = Path(__file__).resolve().parents[3]
    try:
        return root if _PROJECT_MARKER in (root / "pyproject.toml").read_text(encoding="utf-8") else None
    except OSError:
        return None


def software_dir() -> Path:
    """The directory holding fetched `.tgz` and `.aospkg` files (see module header)."""
    override = os.environ.get(SOFTWARE_DIR_ENV)
    if override:
        return Path(override).expanduser()
    root = repo_root()
    if root is not None:
        return root / ".build" / "software"
    return machine_cache_dir("software", SOFTWARE_DIR_ENV)


def setup_hint() -> str:
    """The command that fills `software_dir()` here: `make setup` in a checkout using
    its own `.build/software`, else `agentvm-sidecar setup` (which honours
    `$AGENTVM_SOFTWARE_DIR`)."""
    if repo_root() is not None and not os.environ.get(SOFTWARE_DIR_ENV):
        return "run `make setup` in the agentvm checkout"
    return "run `agentvm-sidecar setup`"


def software_parser(description: str) -> argparse.ArgumentParser:
    """The argument parser of a setup step's CLI, with its ``--dest`` (see ``dest_of``)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--dest", type=Path, default=None, help="software directory (default: software_dir())")
    return parser


def dest_of(args: argparse.Namespace) -> Path:
    """The software directory a setup step's CLI was given, or `software_dir()`."""
    return args.dest if args.dest is not None else software_dir()
