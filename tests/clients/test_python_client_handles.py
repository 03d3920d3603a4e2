"""VM and process handles, and the str/bytes rule, through the Python client."""

from __future__ import annotations

import pytest
import trio

from agentvm import AsyncClient, Client, SidecarError
from tests.conftest import SIDECAR


async def test_str_is_sent_as_utf8_and_other_types_fail_before_sending(client, vm_id):
    # "hello+world=" is valid base64: taken as base64 it used to become 8 bytes of garbage
    await client.fs.write_file(vm_id, "/tmp/s.txt", "hello+world=")
    assert (await client.fs.read_file(vm_id, "/tmp/s.txt")).data == b"hello+world="
    assert (await client.process.exec(vm_id, "cat", stdin="TODO é")).stdout == "TODO é".encode()
    with pytest.raises(TypeError):
        await client.fs.write_file(vm_id, "/tmp/n.txt", 5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        await client.process.exec(vm_id, "cat", stdin=["x"])  # type: ignore[arg-type]
    assert not (await client.fs.exists(vm_id, "/tmp/n.txt")).exists  # nothing was sent


async def test_vm_handle_writes_reads_execs_and_disposes(client):
    async with await client.create_vm() as vm:
        await vm.fs.write("/home/user/deep/dir/a.txt", "héllo")  # parents are made
        assert await vm.fs.read("/home/user/deep/dir/a.txt") == "héllo".encode()
        assert [e.name for e in await vm.fs.list("/home/user/deep/dir")] == ["a.txt"]
        result = await vm.exec("cat deep/dir/a.txt | wc -c", cwd="/home/user")
        assert result.stdout.strip() == b"6"
        vm_id = vm.vm_id
    assert vm_id not in [v.vm_id for v in (await client.vm.list()).vms]


async def test_spawned_output_is_never_missed_before_spawn_answers(client):
    # A process that writes at once often has its first output event sent before the
    # spawn answer; a listener filtering by the returned pid used to drop it.
    async with await client.create_vm() as vm:
        processes = [await vm.spawn(f"echo first-{i}; echo second-{i}") for i in range(12)]
        for i, proc in enumerate(processes):
            chunks = [e.data async for e in proc if e.stream == "stdout"]
            assert b"".join(chunks) == f"first-{i}\nsecond-{i}\n".encode()
            assert proc.exit is not None and proc.exit.exit_code == 0


async def test_spawn_callbacks_receive_every_stream_in_order(client):
    async with await client.create_vm() as vm:
        out: list[bytes] = []
        err: list[bytes] = []

        async def on_stderr(data: bytes) -> None:
            err.append(data)

        proc = await vm.spawn("echo one; echo two >&2; echo three", on_stdout=out.append, on_stderr=on_stderr)
        status = await proc.wait()
        assert status.exit_code == 0
        assert b"".join(out) == b"one\nthree\n" and b"".join(err) == b"two\n"
        with pytest.raises(RuntimeError):
            aiter(proc)  # the callbacks own the output


async def test_process_handle_stdin_kill_and_wait(client):
    async with await client.create_vm() as vm:
        cat = await vm.spawn("cat")
        await cat.write_stdin("through stdin")
        await cat.close_stdin()
        assert b"".join([e.data async for e in cat]) == b"through stdin"
        sleeper = await vm.spawn(argv=["sleep", "100"])
        await sleeper.kill("SIGKILL")
        status = await sleeper.wait()
        assert status.signal == "SIGKILL" and status.exit_code == 137


async def test_a_callback_error_is_raised_by_wait_and_the_client_keeps_working(client):
    async with await client.create_vm() as vm:
        def broken(data: bytes) -> None:
            raise ValueError("callback bug")

        proc = await vm.spawn("echo x", on_stdout=broken)
        with pytest.raises(ValueError):
            await proc.wait()
        assert (await vm.exec("echo still fine")).exit_code == 0


async def test_exec_keeps_the_first_max_output_bytes_and_says_truncated(client):
    async with await client.create_vm() as vm:
        result = await vm.exec("head -c 200000 /dev/zero; echo tail >&2", max_output_bytes=1000)
        assert result.truncated and len(result.stdout) == 1000 and result.stderr == b"tail\n"
        assert result.exit_code == 0  # drained, not killed
        assert not (await vm.exec("echo small")).truncated


async def test_guests_get_no_color_and_a_dumb_terminal_unless_the_caller_says_otherwise(client):
    async with await client.create_vm() as vm:
        assert (await vm.exec('echo "$NO_COLOR $TERM"')).stdout == b"1 dumb\n"
        assert (await vm.exec('echo "$NO_COLOR $TERM"', env={"TERM": "xterm"})).stdout == b"1 xterm\n"


def test_the_sync_handles_mirror_the_async_ones():
    with Client.connect(SIDECAR) as client, client.create_vm() as vm:
        vm.fs.write("/tmp/a.txt", "sync")
        assert vm.fs.read("/tmp/a.txt") == b"sync"
        seen: list[bytes] = []
        proc = vm.spawn("echo early", on_stdout=seen.append)
        assert proc.wait().exit_code == 0 and b"".join(seen) == b"early\n"
        cat = vm.spawn("cat")
        cat.write_stdin(b"it")
        cat.close_stdin()
        assert b"".join(e.data for e in cat) == b"it"


async def test_a_process_handle_fails_clearly_when_the_sidecar_goes_away():
    async with AsyncClient.connect(SIDECAR) as client:
        vm = await client.create_vm()
        proc = await vm.spawn("sleep 100")
        client._conn._process.kill()
        with trio.fail_after(20), pytest.raises(SidecarError):
            await proc.wait()


async def test_upload_and_download_stream_files_larger_than_a_frame(tmp_path):
    # The sidecar refuses frames over 300 kB; a 1 MB file crosses in 64 KiB chunks.
    data = bytes(range(256)) * 4096
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    (tmp_path / "empty").write_bytes(b"")
    async with AsyncClient.connect([*SIDECAR, "--max-frame-bytes", "300000"]) as client, await client.create_vm() as vm:
        assert await vm.fs.upload(source, "/home/user/in/big.bin", chunk_bytes=65536) == len(data)
        assert (await client.fs.stat(vm.vm_id, "/home/user/in/big.bin")).stat.size == len(data)
        assert (await vm.exec("md5sum < in/big.bin", cwd="/home/user")).exit_code == 0
        back = tmp_path / "back.bin"
        assert await vm.fs.download("/home/user/in/big.bin", back, chunk_bytes=65536) == len(data)
        assert back.read_bytes() == data
        assert await vm.fs.upload(tmp_path / "empty", "/home/user/empty") == 0
        assert await vm.fs.download("/home/user/empty", tmp_path / "empty.back") == 0
        assert (tmp_path / "empty.back").read_bytes() == b""
