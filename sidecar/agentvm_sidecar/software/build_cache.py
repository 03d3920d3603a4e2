"""Built recipe modules shared by every checkout on this machine.

A recipe's build directory is named by a key hashing all of its inputs
(recipes/recipe.py), so what one checkout built (or an earlier clone, or an
installed sidecar's setup) is valid for any other: setup copies it from here
instead of spending minutes on the build, and copies every new build here.
`$AGENTVM_BUILD_CACHE` overrides the place (default
`$XDG_CACHE_HOME/agentvm/builds`); deleting it only costs build time. Entries
appear by rename, so one that exists is whole.

Single-file builds (the C guests zig compiles, sqlite3) are kept the same way under
`files/`, named by a key of their inputs (``restore_file``/``keep_file``): a fresh
checkout would otherwise recompile them, and zig rebuilds its wasi-libc for every
new virtualenv path, about 30 s each for the commands, the test guests and sqlite3.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from ..machine_cache import machine_cache_dir

__all__ = ["BUILD_CACHE_ENV", "build_cache_dir", "keep", "keep_file", "restore", "restore_file"]

BUILD_CACHE_ENV = "AGENTVM_BUILD_CACHE"


def build_cache_dir() -> Path:
    """Where builds are shared (see the module header)."""
    return machine_cache_dir("builds", BUILD_CACHE_ENV)


def _copy_into_place(source: Path, target: Path) -> bool:
    """Copy the directory ``source`` to ``target`` through a staged sibling and a
    rename; False when ``target`` appeared meanwhile or the copy failed."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-"))
    try:
        shutil.copytree(source, staged, dirs_exist_ok=True)
        staged.rename(target)
        return True
    except OSError:
        return False
    finally:
        shutil.rmtree(staged, ignore_errors=True)


def restore(target: Path) -> bool:
    """Copy the machine's build named like ``target`` into ``target``; True if there was one."""
    cached = build_cache_dir() / target.name
    return cached.is_dir() and _copy_into_place(cached, target)


def keep(target: Path) -> None:
    """Share the finished build ``target`` (best effort: a full disk only costs time)."""
    cached = build_cache_dir() / target.name
    if not cached.exists():
        _copy_into_place(target, cached)


def _copy_file_into_place(source: Path, target: Path) -> bool:
    """Copy the file ``source`` to ``target`` (mode 0644, mtime now) through a staged
    sibling and a rename; False when the copy failed."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, staged = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}-")
    except OSError:
        return False
    os.close(fd)
    try:
        shutil.copyfile(source, staged)
        os.chmod(staged, 0o644)
        os.replace(staged, target)
        return True
    except OSError:
        return False
    finally:
        Path(staged).unlink(missing_ok=True)


def restore_file(name: str, target: Path) -> bool:
    """Copy the machine's single-file build ``name`` to ``target``; True if there was one."""
    cached = build_cache_dir() / "files" / name
    return cached.is_file() and _copy_file_into_place(cached, target)


def keep_file(source: Path, name: str) -> None:
    """Share the finished single-file build ``source`` as ``name`` (best effort)."""
    cached = build_cache_dir() / "files" / name
    if not cached.exists():
        _copy_file_into_place(source, cached)
