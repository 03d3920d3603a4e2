"""`make run`'s examples/quickstart.py runs to the end and its preview URL answered."""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys

QUICKSTART = pathlib.Path(__file__).resolve().parents[2] / "examples" / "quickstart.py"


def test_the_quickstart_serves_a_web_page_from_the_vm_through_a_preview_url():
    out = subprocess.run(
        [sys.executable, str(QUICKSTART)], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300, check=True
    ).stdout
    assert "net.fetch GET / -> 200 b'hello from guest\\n'" in out
    assert "(GET -> 200 b'hello from guest\\n')" in out
    assert re.search(r"^  http://127\.0\.0\.1:\d+/[\w-]+\.[\w-]+/$", out, re.M)
