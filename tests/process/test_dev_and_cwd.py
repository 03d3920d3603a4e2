"""/dev/std*, /dev/fd/N, process substitution and the cwd a child starts in."""

from __future__ import annotations

from tests.process.conftest import sh


async def test_redirect_to_dev_stderr_and_dev_stdout(client, vm_id):
    res = await sh(client, vm_id, "echo err > /dev/stderr; echo out > /dev/stdout")
    assert (res.exit_code, res.stdout, res.stderr) == (0, b"out\n", b"err\n")


async def test_commands_read_dev_stdin_and_dev_fd_0(client, vm_id):
    # (uutils `cat FILE` refuses any non-regular file on WASI, a guest limitation;
    # `cat < /dev/stdin` goes through the shell's open instead.)
    res = await sh(client, vm_id, "head -n 1 /dev/stdin", stdin=b"piped\nmore\n")
    assert (res.exit_code, res.stdout) == (0, b"piped\n")
    res = await sh(client, vm_id, "cat < /dev/stdin", stdin=b"piped\nmore\n")
    assert (res.exit_code, res.stdout) == (0, b"piped\nmore\n")
    res = await sh(client, vm_id, "echo via-fd | sed s/via/by/ /dev/fd/0")
    assert (res.exit_code, res.stdout) == (0, b"by-fd\n")


async def test_process_substitution_feeds_an_external_command(client, vm_id):
    res = await sh(client, vm_id, "diff <(printf 'a\\nb\\n') <(printf 'a\\nc\\n')")
    assert res.exit_code == 1, res.stderr
    assert b"< b" in res.stdout and b"> c" in res.stdout


async def test_dev_fd_of_a_closed_fd_is_ebadf_and_dev_lists_the_aliases(client, vm_id):
    # wc: an agentOS-libc program, whose fds 3 and up are its own (a plain WASI
    # program, as our cat, holds its preopen directories at the lowest free fds)
    res = await sh(client, vm_id, "wc -c /dev/fd/9")
    assert res.exit_code == 1
    assert b"Bad file descriptor" in res.stderr
    res = await sh(client, vm_id, "ls /dev")
    assert res.stdout.split() == [b"fd", b"null", b"random", b"stderr", b"stdin", b"stdout", b"urandom", b"zero"]
    assert (await sh(client, vm_id, "readlink /dev/stdin")).stdout == b"fd/0\n"


async def test_writing_to_dev_stdin_opened_for_write_is_refused(client, vm_id):
    # fd 0 is the read end of a pipe: opening it for writing is EACCES
    res = await sh(client, vm_id, "echo x > /dev/stdin", stdin=b"")
    assert res.exit_code != 0
    assert b"Permission denied" in res.stderr


async def test_find_execdir_runs_in_the_matching_directory(client, vm_id):
    await client.fs.write_file(vm_id, "/tmp/d2/sub/f", b"", create_dirs=True)
    res = await sh(client, vm_id, "cd /tmp/d2 && find . -name f -execdir pwd \\;")
    assert (res.exit_code, res.stdout) == (0, b"/tmp/d2/sub\n")


async def test_a_child_sees_its_spawn_cwd_in_pwd(client, vm_id):
    res = await sh(client, vm_id, "cd /tmp && sh -c 'echo $PWD; pwd'", env={"PWD": "/somewhere/else"})
    assert res.stdout == b"/tmp\n/tmp\n"


async def test_removing_the_cwd_by_its_absolute_path(client, vm_id):
    res = await sh(client, vm_id, "mkdir /tmp/m3 && cd /tmp/m3 && rmdir /tmp/m3 && echo gone")
    assert (res.exit_code, res.stdout) == (0, b"gone\n"), res.stderr
    res = await sh(client, vm_id, "mkdir -p /tmp/m2/x && cd /tmp/m2 && rm -r /tmp/m2 && echo gone")
    assert (res.exit_code, res.stdout) == (0, b"gone\n"), res.stderr
    assert not (await client.fs.exists(vm_id, "/tmp/m2")).exists
