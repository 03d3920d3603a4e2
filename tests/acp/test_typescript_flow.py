"""The TypeScript client's whole-flow session test (clients/typescript/test/
session.test.ts: create, streamed prompt, permission answered by its callback, a
file on a host_dir mount, a terminal command, cancel, close), run with node against
a sidecar that logs its ACP traffic, and every ACP message of it validated against
the vendored schema, as the ``acp_client`` fixture does for the Python client."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .acp_schema import check_sidecar_log

TS_DIR = Path(__file__).resolve().parents[2] / "clients" / "typescript"
SESSION_TEST = TS_DIR / "dist" / "test" / "session.test.js"
NODE_BOUND = 600  # a liveness bound for the whole node run (it compiles nothing)


def test_the_typescript_session_flow_sends_and_receives_only_schema_valid_acp_messages(tmp_path):
    node = shutil.which("node")
    if node is None or not SESSION_TEST.is_file():
        pytest.skip("needs node and the built TypeScript client (make setup)")
    log = tmp_path / "sidecar.log"
    wrapper = tmp_path / "sidecar.sh"
    sidecar = shlex.join([sys.executable, "-m", "agentvm_sidecar", "--stdio", "--log-level", "debug"])
    wrapper.write_text(f"#!/bin/sh\nexec {sidecar} 2>>{shlex.quote(str(log))}\n")
    wrapper.chmod(0o755)
    env = {**os.environ, "AGENTVM_SIDECAR": str(wrapper)}
    run = subprocess.run(
        [node, "--test", "--test-reporter=spec", f"--test-timeout={NODE_BOUND * 1000}", str(SESSION_TEST)],
        cwd=TS_DIR, env=env, capture_output=True, text=True, timeout=NODE_BOUND, check=False,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    checked = check_sidecar_log(log)
    flow = ["initialize", "session/new", "session/prompt", "session/update", "session/request_permission",
            "fs/write_text_file", "fs/read_text_file", "terminal/create", "terminal/output", "session/cancel",
            "session/close"]
    assert [method for method in flow if not checked.get(method)] == []
