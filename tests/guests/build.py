"""Compile the C test guests to wasm32-wasi: `python tests/guests/build.py --out DIR`.

Every `tests/guests/*.c` becomes `DIR/<name>.wasm`, built with the zig C
compiler through agentvm_sidecar.software.zigcc (no system toolchain or wasi-sdk).
A guest is rebuilt only when its source (or the flags) is newer than the output.
Each guest is a single translation unit.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from agentvm_sidecar.software.zigcc import compile_if_stale

GUESTS_DIR = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="output directory for .wasm files")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    sources = sorted(GUESTS_DIR.glob("*.c"))
    built = [s.name for s in sources if compile_if_stale(s, args.out, also_depends_on=(Path(__file__),))]
    print(f"{len(sources)} guests in {args.out} ({len(built)} rebuilt)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
