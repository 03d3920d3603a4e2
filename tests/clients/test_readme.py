"""The README's Python quickstart runs as written and prints what it promises."""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"


def quickstart_block(language: str) -> str:
    section = README.read_text().split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(rf"```{language}\n(.*?)```", section, re.S)
    assert len(blocks) == 1, f"expected one {language} block in the README quickstart"
    return blocks[0]


def test_the_python_quickstart_runs_as_written(tmp_path):
    script = tmp_path / "quickstart.py"
    script.write_text(quickstart_block("python"))
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert run.returncode == 0, run.stderr
    assert run.stdout == "hi from the VM\nHI FROM THE VM\n"
