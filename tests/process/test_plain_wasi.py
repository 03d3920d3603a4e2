"""Plain WASI programs (standard wasi-libc: our plain_cat guest) behave like processes:
inherited fds do not hide their preopens, and relative paths start at the cwd.

The Rust std programs of the /bin layer (rg, fd, tree) get the same checks in
tests/software/test_toolbox.py.
"""

from __future__ import annotations

from .conftest import install_guest, sh


async def _project(client, vm_id: str) -> None:
    await client.fs.write_file(vm_id, "/work/proj/notes.txt", b"notes\n", create_dirs=True)
    await client.fs.write_file(vm_id, "/work/proj/src/a.txt", b"a\n", create_dirs=True)
    await client.fs.write_file(vm_id, "/tmp/vm.txt", b"vm tmp\n")


async def test_relative_paths_start_at_the_cwd(client, vm_id):
    await _project(client, vm_id)
    cat = await install_guest(client, vm_id, "plain_cat")
    res = await sh(client, vm_id, f"cd /work/proj && {cat} notes.txt ./src/a.txt src/../notes.txt")
    assert (res.exit_code, res.stdout) == (0, b"notes\na\nnotes\n"), res.stderr
    res = await client.process.exec(vm_id, argv=[cat, "src/a.txt", "/tmp/vm.txt"], cwd="/work/proj")
    assert (res.exit_code, res.stdout) == (0, b"a\nvm tmp\n"), res.stderr


async def test_a_cwd_entry_shadows_the_top_level_directory_of_that_name(client, vm_id):
    await _project(client, vm_id)
    await client.fs.write_file(vm_id, "/work/proj/tmp/mine.txt", b"project tmp\n", create_dirs=True)
    cat = await install_guest(client, vm_id, "plain_cat")
    res = await client.process.exec(vm_id, argv=[cat, "tmp/mine.txt", "/etc/hostname"], cwd="/work/proj")
    assert (res.exit_code, res.stdout) == (0, b"project tmp\nagentos\n"), res.stderr


async def test_inherited_fds_do_not_hide_the_preopens(client, vm_id):
    await _project(client, vm_id)
    cat = await install_guest(client, vm_id, "plain_cat")
    for redirect in ("< /tmp/vm.txt", "3< /tmp/vm.txt", "3< /tmp/vm.txt 4< /tmp/vm.txt 6< /tmp/vm.txt"):
        res = await sh(client, vm_id, f"cd /work/proj && {cat} notes.txt /tmp/vm.txt {redirect}")
        assert (res.exit_code, res.stdout) == (0, b"notes\nvm tmp\n"), (redirect, res.stderr)
    res = await sh(client, vm_id, f"{cat} fd:3 /work/proj/notes.txt 3< /tmp/vm.txt")
    assert (res.exit_code, res.stdout) == (0, b"vm tmp\nnotes\n"), res.stderr


async def test_a_script_passes_its_fds_and_cwd_to_a_plain_program(client, vm_id):
    await _project(client, vm_id)
    cat = await install_guest(client, vm_id, "plain_cat")
    script = f"#!/bin/sh\nexec 3< /tmp/vm.txt\n{cat} src/a.txt fd:3 < notes.txt\n".encode()
    await client.fs.write_file(vm_id, "/work/proj/run.sh", script, mode=0o755)
    res = await sh(client, vm_id, "cd /work/proj && ./run.sh")
    assert (res.exit_code, res.stdout) == (0, b"a\nvm tmp\n"), res.stderr


async def test_a_missing_relative_path_is_enoent_at_the_cwd(client, vm_id):
    await _project(client, vm_id)
    cat = await install_guest(client, vm_id, "plain_cat")
    res = await client.process.exec(vm_id, argv=[cat, "nothing.txt"], cwd="/work/proj")
    assert res.exit_code == 1 and b"No such file" in res.stderr


async def test_the_default_path_finds_tools_installed_in_usr_local_bin(client, vm_id):
    await client.fs.write_file(vm_id, "/usr/local/bin/hi", b"#!/bin/sh\necho hi from local\n", mode=0o755)
    res = await sh(client, vm_id, "hi")
    assert (res.exit_code, res.stdout) == (0, b"hi from local\n"), res.stderr
