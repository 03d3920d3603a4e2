"""Write schemas/ from the protocol Structs: ``python -m agentvm_protocol.schema_gen DIR``."""

from __future__ import annotations

import sys
from pathlib import Path

from ._schema import SCHEMA_FILENAME, render_schema


def main(argv: list[str]) -> int:
    out_dir = Path(argv[1] if len(argv) > 1 else "schemas")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / SCHEMA_FILENAME).write_text(render_schema(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
