"""The README's code blocks run as written and print what they promise.

Here, in the checkout, with this venv's sidecar; tests/clients/test_install.py runs the
"Use it from your project" blocks again outside the checkout, against the built wheel
and npm tarball.
"""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"
PROJECT_OUTPUT = "HI FROM THE VM\nline 1\nline 2\nline 3\nexit 0\n"


def readme_blocks(section: str, language: str, readme: pathlib.Path = README) -> list[str]:
    """The ``language`` code blocks of the README section titled ``section``."""
    text = readme.read_text(encoding="utf-8").split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{language}\n(.*?)```", text, re.S)


def quickstart_block(language: str) -> str:
    blocks = readme_blocks("Quickstart", language)
    assert len(blocks) == 1, f"expected one {language} block in the README quickstart"
    return blocks[0]


def test_the_python_quickstart_runs_as_written(tmp_path):
    script = tmp_path / "quickstart.py"
    script.write_text(quickstart_block("python"))
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert run.returncode == 0, run.stderr
    assert run.stdout == "hi from the VM\nHI FROM THE VM\n"


def test_the_python_block_for_your_project_runs_as_written(tmp_path):
    [block] = readme_blocks("Use it from your project", "python")
    script = tmp_path / "example.py"
    script.write_text(block)
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert run.returncode == 0, run.stderr
    assert run.stdout == PROJECT_OUTPUT
