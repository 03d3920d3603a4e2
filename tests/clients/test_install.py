"""Installing agentvm the way each ecosystem expects, outside the checkout.

Builds the wheel and the npm tarball, installs them into a fresh venv and a fresh npm
project in a temporary directory, and runs the README's "Use it from your project"
blocks there as written (the only edits: `/path/to/agentvm` becomes the wheel or a
fresh copy of the TypeScript client, and the software directory is a temporary one).
Slow (pip resolves the dependencies, npm installs the build tools, `agentvm-sidecar
setup` fetches the guest packages and compiles grep), but it runs in `make test`: it
is the only test that sees what a user outside this repository sees.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys

import pytest

from tests.clients.test_readme import PROJECT_OUTPUT, README, readme_blocks

REPO = README.parent
SECTION = "Use it from your project"
PLACEHOLDER = "/path/to/agentvm"
# A liveness bound, not a timing: the block's `agentvm-sidecar setup` runs in a
# temporary software directory, so it fetches every package, and takes make, patch,
# curl and git from the machine's build cache (software/build_cache.py) when the
# checkout's setup filled it, else builds them from source: over 900 s on the
# shared 2-core machine.
COLD_SETUP_TIMEOUT_SECONDS = 2400

pytestmark = pytest.mark.slow


def _env(tmp_path: pathlib.Path, venv: pathlib.Path) -> dict[str, str]:
    """A user's shell: the fresh venv first on PATH, nothing of the checkout."""
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH", "AGENTVM_SIDECAR"}}
    path = [p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(str(REPO))]
    env["PATH"] = os.pathsep.join([str(venv / "bin"), *path])
    env["VIRTUAL_ENV"] = str(venv)
    env["AGENTVM_SOFTWARE_DIR"] = str(tmp_path / "software")
    return env


def _sh(script: str, cwd: pathlib.Path, env: dict[str, str], timeout: float = 900) -> str:
    run = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=timeout, stdin=subprocess.DEVNULL,
    )
    assert run.returncode == 0, f"{script}\n--- stdout\n{run.stdout}\n--- stderr\n{run.stderr[-4000:]}"
    return run.stdout


def _typescript_checkout(tmp_path: pathlib.Path) -> pathlib.Path:
    """A fresh clone's view of what the npm block needs: the client and the schema."""
    root = tmp_path / "agentvm"
    ignore = shutil.ignore_patterns("node_modules", "dist", "generated", "*.tgz")
    shutil.copytree(REPO / "clients" / "typescript", root / "clients" / "typescript", ignore=ignore)
    shutil.copytree(REPO / "schemas", root / "schemas")
    return root


def test_the_wheel_and_the_npm_tarball_work_outside_the_checkout(tmp_path):
    [pip_block, npm_block] = readme_blocks(SECTION, "sh")
    [python_block] = readme_blocks(SECTION, "python")

    # Python: the wheel, as the README says to build it, into a fresh venv.
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(wheels), str(REPO)],
        check=True, capture_output=True, timeout=600,
    )
    [wheel] = wheels.glob("agentvm-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    env = _env(tmp_path, venv)
    user = tmp_path / "project"
    user.mkdir()
    _sh(pip_block.replace(PLACEHOLDER, str(wheel)), user, env, timeout=COLD_SETUP_TIMEOUT_SECONDS)
    where = _sh("python -c 'import agentvm, agentvm_sidecar; print(agentvm.__file__, agentvm_sidecar.__file__)'", user, env)
    assert str(REPO) not in where and str(venv) in where
    (user / "example.py").write_text(python_block)
    assert _sh("python example.py", user, env, timeout=300) == PROJECT_OUTPUT

    # Node: pack the client from a fresh copy, install the tarball in a fresh project.
    checkout = _typescript_checkout(tmp_path)
    (user / "package.json").write_text('{"name": "my-project", "private": true, "type": "module"}\n')
    installed = npm_block.replace(PLACEHOLDER, str(checkout))
    _sh(installed, user, env)
    # The example comes from the packed README, so the package's own docs are tested too.
    [quickstart] = readme_blocks("Quickstart", "js", user / "node_modules" / "agentvm" / "README.md")
    (user / "example.mjs").write_text(quickstart)
    exports = "\n".join(line for line in installed.splitlines() if line.startswith("export "))
    assert _sh(f"{exports}\nnode example.mjs", user, env, timeout=300) == PROJECT_OUTPUT
