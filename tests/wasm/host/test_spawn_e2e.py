"""proc_spawn_v3 / proc_waitpid_v2 / proc_kill end to end: real agentOS modules
(brush ``sh``, coreutils) run by the real runtime and WASI, spawned by a fake
parent process whose host calls the test makes."""

from __future__ import annotations

import time

import pytest

from agentvm_sidecar.kernel.descriptions import FileDescription
from agentvm_sidecar.kernel.errors import KernelError
from agentvm_sidecar.kernel.fstypes import OpenFlags
from agentvm_sidecar.kernel.process import ExitStatus
from agentvm_sidecar.software.layer import shared_bin_layer
from agentvm_sidecar.wasm.host.encoding import FileAction, encode_file_action

from .conftest import E, Guest

TIMEOUT = 60.0


class Parent:
    """A fake parent: fd 0 = /dev/null, fds 1 and 2 = pipes the test drains."""

    def __init__(self, kernel, cwd: str = "/tmp") -> None:
        self.g = Guest(kernel, cwd=cwd, env={"PATH": "/bin", "PWD": cwd})
        fds = self.g.proc.fds
        fds.install(FileDescription(kernel.vfs.open("/dev/null", OpenFlags.READ)))
        self.out_r, out_w = kernel.make_pipe()
        self.err_r, err_w = kernel.make_pipe()
        assert fds.install(out_w) == 1 and fds.install(err_w) == 2
        self.out_r.retain()
        self.err_r.retain()
        self.out_r.nonblocking = self.err_r.nonblocking = True

    def spawn(self, exec_path: str, argv: list[str], *, env: dict[str, str] | None = None,
              actions: list[FileAction] = (), cwd: str = "") -> tuple[int, int]:
        g = self.g
        e, el = g.put(exec_path)
        a, al = g.put(b"".join(x.encode() + b"\0" for x in argv))
        env = {"PATH": "/bin", "HOME": "/home/user"} if env is None else env
        v, vl = g.put(b"".join(f"{k}={x}".encode() + b"\0" for k, x in env.items()))
        f, fl = g.put(b"".join(encode_file_action(act) for act in actions))
        c, cl = g.put(cwd)
        (ret,) = g.out()
        err = g.p("proc_spawn_v3", e, el, a, al, v, vl, f, fl, c, cl, 0, 0, 0, 0, 0, 0, ret)
        return err, g.u32(ret) if err == 0 else 0

    def wait(self, pid: int, *, blocking: bool = False) -> ExitStatus:
        """Reap ``pid`` (WNOHANG polling with a deadline, or one blocking wait)."""
        g = self.g
        outs = g.out(4)
        deadline = time.monotonic() + TIMEOUT
        while True:
            err = g.p("proc_waitpid_v2", pid, 0 if blocking else 1, *outs)
            assert err == 0, f"waitpid errno {err}"
            if g.u32(outs[2]) == pid:
                return ExitStatus(g.u32(outs[0]), g.u32(outs[1]))
            assert [g.u32(o) for o in outs] == [0, 0, 0, 0]
            if time.monotonic() > deadline:
                g.kernel.processes.kill(0, pid, 9)
                pytest.fail(f"pid {pid} did not exit within {TIMEOUT}s; stderr={self.drain(self.err_r)!r}")
            time.sleep(0.005)

    @staticmethod
    def drain(desc) -> bytes:
        chunks = []
        while True:
            try:
                chunk = desc.read(65536)
            except KernelError as exc:
                assert exc.errno == "EAGAIN"
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)

    def run(self, exec_path: str, argv: list[str], **kw) -> tuple[ExitStatus, bytes, bytes]:
        err, pid = self.spawn(exec_path, argv, **kw)
        assert err == 0, f"spawn errno {err}"
        status = self.wait(pid)
        return status, self.drain(self.out_r), self.drain(self.err_r)


@pytest.fixture
def parent(kernel) -> Parent:
    layer = shared_bin_layer()
    kernel.mount_layer("/bin", layer.fs, layer.modules)
    return Parent(kernel)


def test_bare_name_path_search_and_empty_args(parent: Parent) -> None:
    status, out, err = parent.run("echo", ["echo", "a", "", "b"])
    assert (status, out, err) == (ExitStatus(0), b"a  b\n", b"")


def test_shell_pipeline_substitution_and_exit_code(parent: Parent) -> None:
    script = "echo hi; x=$(echo sub); echo \"[$x]\"; printf 'b\\na\\n' | sort; echo abc | cat | wc -c; exit 3"
    status, out, err = parent.run("/bin/sh", ["sh", "-c", script])
    assert out == b"hi\n[sub]\na\nb\n4\n", err
    assert status == ExitStatus(3)


def test_spawn_cwd_and_open_actions(parent: Parent, kernel) -> None:
    kernel.vfs.mkdir("/tmp/work", 0o777)
    kernel.vfs.write_file("/tmp/work/in", b"payload\n", mode=0o644)
    parent.g.proc.umask = 0o027
    status, _out, err = parent.run("cat", ["cat"], cwd="work", actions=[
        FileAction(3, 0, 0, 0, 0, "in"),  # OPEN stdin O_RDONLY, relative to the child cwd
        FileAction(3, 1, 0, 0o1 | 0o100 | 0o1000, 0o666, "out"),  # O_WRONLY|O_CREAT|O_TRUNC
    ])
    assert status == ExitStatus(0), err
    assert kernel.vfs.read_file("/tmp/work/out") == b"payload\n"
    assert kernel.vfs.stat("/tmp/work/out").perm == 0o640


def test_cloexec_ends_do_not_leak_into_children(parent: Parent) -> None:
    g = parent.g
    r_slot, w_slot = g.out(2)
    assert g.p("fd_pipe", r_slot, w_slot) == 0
    r, w = g.u32(r_slot), g.u32(w_slot)
    assert g.p("fd_setfd", r, 1) == 0 and g.p("fd_setfd", w, 1) == 0
    g.proc.fds.get(w).write(b"through the pipe\n")
    err, pid = parent.spawn("cat", ["cat"], actions=[FileAction(2, 0, r)])
    assert err == 0
    g.proc.fds.close(w)  # the parent's copy was the last write end: cat sees EOF
    g.proc.fds.close(r)
    assert parent.wait(pid, blocking=True) == ExitStatus(0)
    assert parent.drain(parent.out_r) == b"through the pipe\n"


def test_kill_child_reports_signal(parent: Parent) -> None:
    err, pid = parent.spawn("sleep", ["sleep", "30"])
    assert err == 0
    time.sleep(0.2)
    t0 = time.monotonic()
    assert parent.g.p("proc_kill", pid, 9) == 0
    assert parent.wait(pid, blocking=True) == ExitStatus(0, 9)
    assert time.monotonic() - t0 < 5
    assert parent.g.p("proc_waitpid_v2", pid, 0, *parent.g.out(4)) == E["ECHILD"]


def test_missing_program_and_script(parent: Parent, kernel) -> None:
    assert parent.spawn("no-such-cmd", ["no-such-cmd"])[0] == E["ENOENT"]
    kernel.vfs.write_file("/tmp/script", b"#!/bin/sh\necho \"script $1\"\n", mode=0o755)
    status, out, err = parent.run("./script", ["./script", "arg"])
    assert (status, out) == (ExitStatus(0), b"script arg\n"), err


def test_sh_exec_replaces_the_image(parent: Parent) -> None:
    status, out, err = parent.run("sh", ["sh", "-c", "echo before; exec echo replaced; echo never"])
    assert (status, out) == (ExitStatus(0), b"before\nreplaced\n"), err
