"""GNU make and GNU patch from the build recipes, in a VM over a host_dir project.
Needs `make setup` (python -m agentvm_sidecar.software.recipes); a missing build
fails with that hint."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from agentvm import HostDirMount, VmConfig
from agentvm_sidecar.software.toolbox import SETUP_HINT, toolbox_commands
from tests.process.conftest import sh

MAKEFILE = """\
all: upper.txt count.txt

upper.txt: words.txt
\tcat words.txt | tr a-z A-Z | sort > upper.txt
\techo built upper

count.txt: upper.txt
\twc -l < upper.txt > count.txt
\techo built count
"""


@pytest.fixture(scope="module", autouse=True)
def recipes_built() -> None:
    names = {command.name for command in toolbox_commands()}
    if not names >= {"make", "patch"}:
        pytest.fail(f"make/patch are not built: {SETUP_HINT}", pytrace=False)


async def project_vm(client, root: Path) -> str:
    config = VmConfig(mounts=[HostDirMount(path="/workspace", host_path=str(root))])
    return (await client.vm.create(config)).vm_id


async def test_make_builds_two_targets_with_a_pipeline_then_has_nothing_to_do(client, tmp_path):
    (tmp_path / "Makefile").write_text(MAKEFILE)
    (tmp_path / "words.txt").write_text("pear\napple\n")
    vm = await project_vm(client, tmp_path)
    first = await sh(client, vm, "cd /workspace && make")
    assert first.exit_code == 0, first.stderr
    assert b"built upper" in first.stdout and b"built count" in first.stdout
    assert (tmp_path / "upper.txt").read_text() == "APPLE\nPEAR\n"
    assert (tmp_path / "count.txt").read_text().strip() == "2"
    stamps = [(tmp_path / name).stat().st_mtime_ns for name in ("upper.txt", "count.txt")]

    second = await sh(client, vm, "cd /workspace && make")
    assert second.exit_code == 0, second.stderr
    assert b"built" not in second.stdout
    assert [(tmp_path / name).stat().st_mtime_ns for name in ("upper.txt", "count.txt")] == stamps

    (tmp_path / "words.txt").write_text("pear\napple\nfig\n")
    third = await sh(client, vm, "cd /workspace && make count.txt")
    assert third.exit_code == 0, third.stderr
    assert (tmp_path / "count.txt").read_text().strip() == "3"


async def test_make_reports_a_failing_recipe_with_its_exit_status(client, tmp_path):
    (tmp_path / "Makefile").write_text("all:\n\tfalse\n")
    vm = await project_vm(client, tmp_path)
    res = await sh(client, vm, "cd /workspace && make")
    assert res.exit_code == 2


async def test_patch_applies_a_unified_diff_made_on_the_host(client, tmp_path):
    old, new = tmp_path / "old", tmp_path / "new"
    for root in (old, new):
        (root / "src").mkdir(parents=True)
    (old / "src" / "app.py").write_text("def main():\n    return 0\n")
    (new / "src" / "app.py").write_text("def main():\n    print('hi')\n    return 1\n")
    (old / "run.sh").write_text("#!/bin/sh\necho old\n")
    (new / "run.sh").write_text("#!/bin/sh\necho new\n")
    diff = subprocess.run(
        ["diff", "-ruN", "old", "new"], cwd=tmp_path, capture_output=True, check=False
    ).stdout
    assert diff
    project = tmp_path / "project"
    project.mkdir()
    (project / "src").mkdir()
    (project / "src" / "app.py").write_text((old / "src" / "app.py").read_text())
    (project / "run.sh").write_text((old / "run.sh").read_text())
    (project / "run.sh").chmod(0o755)
    (project / "fix.diff").write_bytes(diff)
    vm = await project_vm(client, project)
    res = await sh(client, vm, "cd /workspace && patch -p1 < fix.diff")
    assert res.exit_code == 0, res.stderr
    assert (project / "src" / "app.py").read_text() == (new / "src" / "app.py").read_text()
    assert (project / "run.sh").read_text() == (new / "run.sh").read_text()
    assert (project / "run.sh").stat().st_mode & 0o777 == 0o755  # the mode survives the rewrite
    rerun = await sh(client, vm, "cd /workspace && patch -p1 --dry-run --forward < fix.diff")
    assert rerun.exit_code == 1  # already applied: every hunk is refused
