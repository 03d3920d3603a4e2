"""git from its build recipe, in a VM over a host_dir project, checked against the
host's own git. Needs `make setup` (python -m agentvm_sidecar.software.recipes);
a missing build fails with that hint, and a host without git fails too (the host
git is the independent reader of what the VM's git wrote)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from agentvm import HostDirMount, VmConfig
from agentvm_sidecar.software.toolbox import SETUP_HINT, toolbox_commands
from tests.process.conftest import sh

GIT = "git -c user.name=Agent -c user.email=agent@example.com"


@pytest.fixture(scope="module", autouse=True)
def git_built() -> None:
    names = {command.name for command in toolbox_commands()}
    if not names >= {"git", "git-upload-pack"}:
        pytest.fail(f"git is not built: {SETUP_HINT}", pytrace=False)
    if shutil.which("git") is None:
        pytest.fail("the host has no git to read the VM's repository with", pytrace=False)


def host_git(root: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-c", f"safe.directory={root}", "-C", str(root), *args],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, (args, result.stderr)
    return result.stdout


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("def main():\n    return 0\n")
    (tmp_path / "README.md").write_text("# proj\n")
    return tmp_path


@pytest.fixture
async def vm(client, project: Path) -> str:
    config = VmConfig(mounts=[HostDirMount(path="/workspace", host_path=str(project))])
    return (await client.vm.create(config)).vm_id


async def run(client, vm: str, command: str) -> str:
    res = await sh(client, vm, f"cd /workspace && {command}")
    assert res.exit_code == 0, (command, res.stderr)
    return res.stdout.decode()


async def test_init_add_commit_log_and_diff_then_the_host_git_reads_the_repository(client, vm, project):
    out = await run(
        client, vm,
        f"git init -q && git add . && {GIT} commit -q -m 'first commit' && git log --oneline"
        " && echo '    print(1)' >> src/app.py && git diff",
    )
    log_line, diff = out.split("\n", 1)
    assert log_line.endswith(" first commit")
    assert "--- a/src/app.py\n+++ b/src/app.py\n" in diff
    assert "+    print(1)\n" in diff

    head = host_git(project, "rev-parse", "HEAD").strip()
    assert log_line.split()[0] == head[: len(log_line.split()[0])]
    assert host_git(project, "log", "--format=%s <%ae>") == "first commit <agent@example.com>\n"
    assert host_git(project, "ls-files") == "README.md\nsrc/app.py\n"
    host_git(project, "fsck", "--strict", "--no-dangling")
    assert host_git(project, "status", "--porcelain") == " M src/app.py\n"
    assert host_git(project, "diff") == diff


async def test_status_branch_checkout_and_apply_of_a_diff_made_by_the_host(client, vm, project, tmp_path_factory):
    await run(client, vm, f"git init -q -b main && git add . && {GIT} commit -q -m base")
    # the host edits a clone of the VM's repository and makes the diff there
    clone = tmp_path_factory.mktemp("host-clone") / "repo"
    subprocess.run(["git", "clone", "-q", str(project), str(clone)], check=True, timeout=60)
    (clone / "src" / "app.py").write_text("def main():\n    print('fixed')\n    return 0\n")
    (clone / "NEW.txt").write_text("added on the host\n")
    host_git(clone, "add", "-N", "NEW.txt")
    (project / "fix.diff").write_text(host_git(clone, "diff"))

    out = await run(
        client, vm,
        "mkdir -p .git/info && echo fix.diff > .git/info/exclude"
        " && git checkout -q -b feature && git apply --check fix.diff && git apply fix.diff"
        " && git status --short && git branch",
    )
    assert out == " M src/app.py\n?? NEW.txt\n* feature\n  main\n"
    await run(client, vm, f"git add -A && {GIT} commit -q -m fix && git checkout -q main")
    assert (project / "src" / "app.py").read_text() == "def main():\n    return 0\n"
    assert not (project / "NEW.txt").exists()
    assert host_git(project, "log", "--format=%s", "feature") == "fix\nbase\n"
    assert host_git(project, "show", "feature:NEW.txt") == "added on the host\n"

    again = await sh(client, vm, "cd /workspace && git checkout -q feature && git apply --check fix.diff")
    assert again.exit_code == 1  # already applied: git apply refuses every hunk


async def test_clone_fetch_and_push_through_upload_pack_and_receive_pack(client, vm, project):
    await run(client, vm, f"git init -q -b main && git add . && {GIT} commit -q -m one")
    # --no-local: the clone talks to git-upload-pack over pipes (spawned through
    # sh) and receives a side-band pack, instead of copying the object files
    out = await run(
        client, vm,
        "git clone -q --no-local /workspace /tmp/clone"
        f" && {GIT} commit -q --allow-empty -m two"
        " && cd /tmp/clone && git fetch -q && git log --format=%s origin/main && git pull -q --ff-only"
        " && git log --format=%s -1 && git fsck --no-dangling && git status --short --branch",
    )
    assert out == "two\none\ntwo\n## main...origin/main\n"

    # push: git-receive-pack in the VM writes a bare repository on the host
    await run(
        client, vm,
        "git init -q --bare shared.git && git remote add shared /workspace/shared.git"
        f" && {GIT} commit -q --allow-empty -m three && git push -q shared main main:topic",
    )
    shared = project / "shared.git"
    assert host_git(shared, "log", "--format=%s", "topic") == "three\ntwo\none\n"
    host_git(shared, "fsck", "--strict", "--no-dangling")


async def test_a_shell_alias_runs_a_pipeline_and_a_missing_program_fails_cleanly(client, vm):
    await run(client, vm, "git init -q")
    out = await run(client, vm, "git -c alias.shout='!echo hello | tr a-z A-Z' shout")
    assert out == "HELLO\n"
    res = await sh(client, vm, "cd /workspace && git no-such-command")
    assert res.exit_code == 1
    res = await sh(client, vm, "cd /workspace && git -c alias.gone='!no-such-program' gone")
    assert res.exit_code == 128  # as on Linux: the alias's program cannot be started
