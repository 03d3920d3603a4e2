"""git from its build recipe, in a VM over a host_dir project, checked against the
host's own git. Needs `make setup` (python -m agentvm_sidecar.software.recipes);
a missing build fails with that hint, and a host without git fails too (the host
git is the independent reader of what the VM's git wrote)."""

from __future__ import annotations

import shutil
import socketserver
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from agentvm import HostDirMount
from agentvm_protocol import NetworkPolicy, NetworkRule, VmConfig
from agentvm_sidecar.software.toolbox import SETUP_HINT, toolbox_commands
from tests.net.host_server import serving
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


@contextmanager
def host_git_daemon(base: Path) -> Iterator[int]:
    """The host's `git daemon --inetd` for each connection to 127.0.0.1 (a free
    port, yielded), serving the repositories under ``base``."""

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            fd = self.request.fileno()
            subprocess.run(
                ["git", "daemon", "--inetd", "--export-all", f"--base-path={base}", str(base)],
                stdin=fd, stdout=fd, stderr=subprocess.DEVNULL, timeout=60, check=False,
            )

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    with serving(server) as port:
        yield port


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
    init = await sh(client, vm, "cd /workspace && git init -q")
    assert (init.exit_code, init.stderr) == (0, b"")  # no templates to miss: nothing to warn about
    out = await run(
        client, vm,
        f"git add . && {GIT} commit -q -m 'first commit' && git log --oneline"
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


async def test_clone_and_fetch_over_git_protocol_from_a_host_daemon_only_through_an_allowed_rule(client, tmp_path):
    work, served = tmp_path / "work", tmp_path / "served"
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True, timeout=60)
    (work / "hello.txt").write_text("hello\n")
    host_git(work, "add", ".")
    host_git(work, "-c", "user.name=Host", "-c", "user.email=host@example.com", "commit", "-q", "-m", "from the host")
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(served / "repo.git")], check=True, timeout=60)

    def policy(pattern: str) -> VmConfig:
        rule = NetworkRule(mode="allow", operations=["*"], patterns=[pattern])
        return VmConfig(network=NetworkPolicy(rules=[rule], dns_overrides={"git.test": "127.0.0.1"}))

    with host_git_daemon(served) as port:
        url = f"git://git.test:{port}/repo.git"
        allowed = (await client.vm.create(policy("git.test"))).vm_id
        res = await sh(client, allowed, f"git clone -q {url} /tmp/clone && git -C /tmp/clone log --format=%s")
        assert (res.exit_code, res.stdout) == (0, b"from the host\n"), res.stderr

        (work / "hello.txt").write_text("hello again\n")
        host_git(work, "-c", "user.name=Host", "-c", "user.email=host@example.com", "commit", "-q", "-am", "second")
        host_git(work, "push", "-q", str(served / "repo.git"), "main")
        res = await sh(client, allowed, "cd /tmp/clone && git pull -q --ff-only && cat hello.txt")
        assert (res.exit_code, res.stdout) == (0, b"hello again\n"), res.stderr

        denied = (await client.vm.create(policy("other.test"))).vm_id
        res = await sh(client, denied, f"git clone -q {url} /tmp/clone")
        assert res.exit_code == 128  # git's fatal(): the name is not the VM's to resolve
        assert (await sh(client, denied, "test -e /tmp/clone")).exit_code == 1
