"""Compile the C test guests to wasm32-wasi: `python tests/guests/build.py --out DIR`.

Every `tests/guests/*.c` becomes `DIR/<name>.wasm`, built with the zig C
compiler from the `ziglang` PyPI package (`python -m ziglang cc`), so no system
toolchain or wasi-sdk is needed. A guest is rebuilt only when its source (or this
script, which holds the flags) is newer than the output. Each guest is a single
translation unit; compiler flags shared by all guests live in CFLAGS.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

GUESTS_DIR = Path(__file__).resolve().parent
# -s strips debug info: 1 MB -> 22 KB for hello.c, and faster to compile in tests.
CFLAGS = ["-target", "wasm32-wasi", "-O2", "-s", "-Wall"]
COMPILE_TIMEOUT_SECONDS = 300


def build(source: Path, out_dir: Path) -> bool:
    """Compile one guest if stale; returns True if it was (re)built."""
    target = out_dir / f"{source.stem}.wasm"
    newest_input = max(source.stat().st_mtime, Path(__file__).stat().st_mtime)
    if target.exists() and target.stat().st_mtime >= newest_input:
        return False
    tmp = target.with_name(f".{target.name}.tmp")
    command = [sys.executable, "-m", "ziglang", "cc", *CFLAGS, str(source), "-o", str(tmp)]
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
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="output directory for .wasm files")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    sources = sorted(GUESTS_DIR.glob("*.c"))
    built = [s.name for s in sources if build(s, args.out)]
    print(f"{len(sources)} guests in {args.out} ({len(built)} rebuilt)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
