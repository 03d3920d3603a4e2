"""C guests built with agentvm-cc (tests/cc/guests/*.c), cached in .build/cc-guests
under a name that hashes the source and the compat library's key, so an edit to
either rebuilds and nothing else does."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from agentvm_sidecar.software.cc import compat_key

GUEST_SOURCES = Path(__file__).resolve().parent / "guests"
OUT = Path(__file__).resolve().parents[2] / ".build" / "cc-guests"


def build_cc_guest(name: str) -> bytes:
    source = GUEST_SOURCES / f"{name}.c"
    key = hashlib.sha256(source.read_bytes() + compat_key().encode()).hexdigest()[:16]
    target = OUT / f"{name}-{key}.wasm"
    if not target.is_file():
        OUT.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        result = subprocess.run(
            [sys.executable, "-m", "agentvm_sidecar.software.cc", "-O2", "-s", "-Wall", "-Werror",
             str(source), "-o", str(tmp)],
            capture_output=True, text=True, timeout=600, check=False,
        )
        if result.returncode != 0:
            pytest.fail(f"agentvm-cc {source.name} failed:\n{result.stderr}", pytrace=False)
        tmp.replace(target)
    return target.read_bytes()


@pytest.fixture(scope="session")
def procs_guest() -> bytes:
    return build_cc_guest("procs")


@pytest.fixture(scope="session")
def net_tool_guest() -> bytes:
    return build_cc_guest("net_tool")
