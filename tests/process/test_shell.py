"""Real shell commands through the wire: the agentOS packages on our kernel."""

from __future__ import annotations

import pytest

from agentvm import HostDirMount, MemoryMount, RpcError, VmConfig
from tests.process.conftest import sh


async def test_echo_runs_in_sh(client, vm_id):
    res = await sh(client, vm_id, "echo hi")
    assert (res.exit_code, res.stdout, res.stderr) == (0, b"hi\n", b"")


async def test_pipeline_sorts_and_cuts(client, vm_id):
    res = await sh(client, vm_id, "seq 1 1000 | sort -rn | head -5")
    assert res.stdout == b"1000\n999\n998\n997\n996\n"
    assert res.exit_code == 0


async def test_ls_root_sorted_head(client, vm_id):
    res = await sh(client, vm_id, "ls / | sort | head -3")
    assert res.stdout.split() == sorted(res.stdout.split())
    assert b"bin" in res.stdout


async def test_exit_codes_and_false(client, vm_id):
    assert (await sh(client, vm_id, "exit 7")).exit_code == 7
    assert (await sh(client, vm_id, "false")).exit_code == 1
    assert (await sh(client, vm_id, "true && echo yes")).stdout == b"yes\n"


async def test_command_not_found_is_127(client, vm_id):
    res = await sh(client, vm_id, "no-such-command")
    assert res.exit_code == 127


async def test_redirects_and_append(client, vm_id):
    res = await sh(client, vm_id, "echo one > /tmp/f; echo two >> /tmp/f; cat /tmp/f; wc -l < /tmp/f")
    assert res.stdout == b"one\ntwo\n2\n"
    assert (await client.fs.read_file(vm_id, "/tmp/f")).data == b"one\ntwo\n"


async def test_cd_and_env_vars(client, vm_id):
    res = await sh(client, vm_id, 'cd /tmp && pwd && echo "$GREETING $HOME"', env={"GREETING": "hello"})
    assert res.stdout == b"/tmp\nhello /home/user\n"


async def test_command_substitution_and_stderr(client, vm_id):
    res = await sh(client, vm_id, 'x=$(echo inner); echo "got $x"; echo oops >&2')
    assert (res.stdout, res.stderr) == (b"got inner\n", b"oops\n")


async def test_stdin_is_fed_to_the_process(client, vm_id):
    res = await client.process.exec(vm_id, argv=["cat"], stdin=b"from stdin\n")
    assert res.stdout == b"from stdin\n"


async def test_sed_awk_grep_like_tools(client, vm_id):
    await client.fs.write_file(vm_id, "/tmp/data", b"alpha 1\nbeta 2\ngamma 3\n")
    res = await sh(client, vm_id, "sed 's/beta/BETA/' /tmp/data | awk '{ s += $2; print $1 } END { print s }'")
    assert res.stdout == b"alpha\nBETA\ngamma\n6\n"


async def test_find_and_tar_round_trip(client, vm_id):
    await client.fs.write_file(vm_id, "/work/a/b.txt", b"B", create_dirs=True)
    res = await sh(client, vm_id, "cd /work && find . -type f && tar cf /tmp/x.tar a && mkdir /tmp/out && cd /tmp/out && tar xf /tmp/x.tar && cat a/b.txt")
    assert res.stdout == b"./a/b.txt\nB"


async def test_cat_of_a_read_only_host_dir_and_a_memory_mount(client, tmp_path):
    (tmp_path / "host.txt").write_bytes(b"from the host\n")
    vm = (
        await client.vm.create(
            VmConfig(mounts=[HostDirMount(path="/mnt/ro", host_path=str(tmp_path), read_only=True), MemoryMount(path="/mnt/mem")])
        )
    ).vm_id
    await client.fs.write_file(vm, "/mnt/mem/mem.txt", b"from memory\n")
    res = await sh(client, vm, "cat /mnt/ro/host.txt /mnt/mem/mem.txt; ls /mnt/ro")
    assert res.stdout == b"from the host\nfrom memory\nhost.txt\n"


async def test_shell_writes_to_a_read_only_mount_fail_with_erofs(client, tmp_path):
    (tmp_path / "keep.txt").write_bytes(b"keep")
    vm = (await client.vm.create(VmConfig(mounts=[HostDirMount(path="/ro", host_path=str(tmp_path), read_only=True)]))).vm_id
    res = await sh(client, vm, "echo x > /ro/new.txt")
    assert res.exit_code != 0
    assert b"Read-only file system" in res.stderr or b"read-only" in res.stderr.lower()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


async def test_shell_and_wire_share_one_view_of_a_host_mount(client, tmp_path):
    vm = (await client.vm.create(VmConfig(mounts=[HostDirMount(path="/mnt/session", host_path=str(tmp_path))]))).vm_id
    await client.fs.write_file(vm, "/mnt/session/hello.txt", b"hello world")
    assert (await sh(client, vm, "cat /mnt/session/hello.txt")).stdout == b"hello world"
    await sh(client, vm, "echo from shell > /mnt/session/shell.txt")
    assert (tmp_path / "shell.txt").read_bytes() == b"from shell\n"
    assert (await client.fs.read_file(vm, "/mnt/session/shell.txt")).data == b"from shell\n"
    assert (await sh(client, vm, "ls /mnt/session")).stdout == b"hello.txt\nshell.txt\n"


async def test_argv_form_searches_path(client, vm_id):
    res = await client.process.exec(vm_id, argv=["echo", "a", "", "b"])
    assert res.stdout == b"a  b\n"


async def test_missing_program_in_argv_form_is_not_found(client, vm_id):
    with pytest.raises(RpcError) as err:
        await client.process.exec(vm_id, argv=["/bin/nope"])
    assert (err.value.kind, err.value.errno) == ("not_found", "ENOENT")


async def test_guest_can_edit_and_delete_what_the_client_wrote(client, vm_id):
    await client.fs.write_file(vm_id, "/work/src/a.txt", b"alpha\n", create_dirs=True)
    await client.fs.mkdir(vm_id, "/work/empty")
    st = (await client.fs.stat(vm_id, "/work/src/a.txt")).stat
    assert (st.uid, st.gid) == (1000, 1000)
    assert (await client.fs.stat(vm_id, "/work/src")).stat.uid == 1000
    res = await sh(client, vm_id, "cd /work && echo beta >> src/a.txt && sed -i s/alpha/ALPHA/ src/a.txt"
                   " && cat src/a.txt && rmdir empty && rm -r src && echo removed")
    assert (res.exit_code, res.stdout) == (0, b"ALPHA\nbeta\nremoved\n"), res.stderr


async def test_scripts_with_env_shebang_and_without_shebang_run(client, vm_id):
    await client.fs.write_file(vm_id, "/tmp/e.sh", b"#!/usr/bin/env bash\necho via env $1\n", mode=0o755)
    await client.fs.write_file(vm_id, "/tmp/plain.sh", b"echo plain $1\n", mode=0o755)
    res = await sh(client, vm_id, "/tmp/e.sh one && /tmp/plain.sh two && cd /tmp && ./plain.sh three")
    assert (res.exit_code, res.stdout) == (0, b"via env one\nplain two\nplain three\n"), res.stderr


async def test_a_binary_file_that_is_not_wasm_is_not_executable(client, vm_id):
    await client.fs.write_file(vm_id, "/tmp/blob", b"\x7fELF\x00\x01\x02", mode=0o755)
    res = await sh(client, vm_id, "/tmp/blob")
    assert res.exit_code == 126


async def test_etc_names_the_host_the_commands_report(client, vm_id):
    res = await sh(client, vm_id, "hostname; cat /etc/hostname; grep -c \"$(hostname)\" /etc/hosts; . /etc/os-release; echo $ID")
    assert res.stdout == b"agentos\nagentos\n2\nagentvm\n", res.stderr


async def test_exact_env_runs_with_only_the_given_environment(client, vm_id):
    res = await client.process.exec(vm_id, argv=["/bin/env"], env={"ONLY": "this"}, exact_env=True)
    assert res.stdout.decode().splitlines() == ["ONLY=this", "PWD=/home/user"]
    merged = await client.process.exec(vm_id, argv=["/bin/env"], env={"ONLY": "this"})
    assert b"PATH=/usr/local/bin:/usr/bin:/bin\n" in merged.stdout
