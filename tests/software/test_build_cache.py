"""The machine's build cache for single-file builds (software/build_cache.py) and
the zig compiles that use it (software/zigcc.py)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from agentvm_sidecar.software import build_cache, zigcc
from agentvm_sidecar.software.build_cache import BUILD_CACHE_ENV

PROGRAM = b"int main(void) { return %d; }\n"


def out_dirs(tmp_path: Path) -> tuple[Path, Path]:
    """Two checkouts' output directories (compile_if_stale expects them to exist)."""
    dirs = (tmp_path / "first", tmp_path / "second")
    for d in dirs:
        d.mkdir()
    return dirs


@pytest.fixture(autouse=True)
def machine_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "machine-cache"
    monkeypatch.setenv(BUILD_CACHE_ENV, str(cache))
    return cache


def test_a_kept_file_is_restored_whole_and_newer_than_its_inputs(tmp_path: Path) -> None:
    built = tmp_path / "a.wasm"
    built.write_bytes(b"\0asm module")
    build_cache.keep_file(built, "thing-1.wasm")
    target = tmp_path / "elsewhere" / "a.wasm"
    before = time.time() - 1
    assert build_cache.restore_file("thing-1.wasm", target)
    assert target.read_bytes() == b"\0asm module"
    assert target.stat().st_mtime >= before and target.stat().st_mode & 0o777 == 0o644
    assert not build_cache.restore_file("thing-2.wasm", tmp_path / "other.wasm")
    assert not (tmp_path / "other.wasm").exists()


def _no_compiler(*args: object, **kwargs: object) -> subprocess.CompletedProcess[str]:
    raise AssertionError("the compiler ran")


def test_a_second_checkout_takes_the_machine_s_build_and_other_inputs_compile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = out_dirs(tmp_path)
    source = tmp_path / "prog.c"
    source.write_bytes(PROGRAM % 7)
    assert zigcc.compile_if_stale(source, first)  # compiles, and keeps it
    monkeypatch.setattr(zigcc.subprocess, "run", _no_compiler)
    assert zigcc.compile_if_stale(source, second)
    assert (second / "prog.wasm").read_bytes() == (first / "prog.wasm").read_bytes()
    assert not zigcc.compile_if_stale(source, second)  # and it counts as fresh
    with pytest.raises(AssertionError, match="the compiler ran"):  # other flags
        zigcc.compile_if_stale(source, tmp_path, extra_flags=("-DUNUSED=1",))
    source.write_bytes(PROGRAM % 8)
    with pytest.raises(AssertionError, match="the compiler ran"):  # another source
        zigcc.compile_if_stale(source, tmp_path)


def test_an_unwritable_machine_cache_is_only_not_used(tmp_path: Path, machine_cache: Path) -> None:
    machine_cache.write_text("not a directory")
    built = tmp_path / "a.wasm"
    built.write_bytes(b"\0asm module")
    build_cache.keep_file(built, "thing-1.wasm")
    assert not build_cache.restore_file("thing-1.wasm", tmp_path / "b.wasm")
