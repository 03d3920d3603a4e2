"""host_process against a real kernel: pids, umask, pipes, dups, signal masks, kill,
waitpid, sleep, spawn file actions and the synchronous spawn/exec errors."""

from __future__ import annotations

import struct
import threading
import time

import pytest
import wasmtime

from agentvm_sidecar.kernel.errors import KernelError
from agentvm_sidecar.kernel.fstypes import FileKind
from agentvm_sidecar.kernel.kernel import Kernel
from agentvm_sidecar.kernel.limits import Limits
from agentvm_sidecar.kernel.process import ExitStatus
from agentvm_sidecar.wasm.host.encoding import FileAction, encode_file_action
from agentvm_sidecar.wasm.host.process import (
    BUSY_POLL_CPU,
    NOHANG_GRACE,
    NOHANG_GRACE_MAX,
    apply_file_actions,
)

from .conftest import BAD_PTR, E, Guest

NOP_WASM = wasmtime.wat2wasm('(module (memory (export "memory") 1) (func (export "_start")))')


def pipe(g: Guest) -> tuple[int, int]:
    r, w = g.out(2)
    assert g.p("fd_pipe", r, w) == 0
    return g.u32(r), g.u32(w)


# -- ids, umask ---------------------------------------------------------------------------
def test_getpid(guest: Guest) -> None:
    (ret,) = guest.out()
    assert guest.p("proc_getpid", ret) == 0
    assert guest.u32(ret) == guest.proc.pid
    assert guest.p("proc_getpid", BAD_PTR) == E["EFAULT"]


def test_getppid_names_the_parent(kernel, guest: Guest) -> None:
    child = Guest(kernel, ppid=guest.proc.pid)
    (ret,) = child.out()
    assert child.p("proc_getppid", ret) == 0
    assert child.u32(ret) == guest.proc.pid
    assert child.p("proc_getppid", BAD_PTR) == E["EFAULT"]


def test_umask_writes_old_and_sets(guest: Guest) -> None:
    (ret,) = guest.out()
    assert guest.p("umask", 0o77, 1, ret) == 0
    assert guest.u32(ret) == 0o022
    assert guest.proc.umask == 0o077
    assert guest.p("umask", 0o7777, 0, ret) == 0  # query: set == 0 changes nothing
    assert guest.u32(ret) == 0o077 and guest.proc.umask == 0o077
    assert guest.p("umask", 0o7777, 1, ret) == 0
    assert guest.proc.umask == 0o777
    assert guest.p("umask", 0, 1, BAD_PTR) == E["EFAULT"]
    assert guest.proc.umask == 0o777  # a bad pointer changes nothing


# -- descriptors ---------------------------------------------------------------------------
def test_pipe_lowest_fds_not_cloexec_and_shared(guest: Guest) -> None:
    fds = guest.proc.fds
    r, w = pipe(guest)
    assert (r, w) == (0, 1)
    assert not fds.entry(r).cloexec and not fds.entry(w).cloexec
    assert fds.get(r).kind is FileKind.FIFO
    fds.get(w).write(b"hi")
    assert fds.get(r).read(10) == b"hi"
    fds.close(0)
    assert pipe(guest) == (0, 2)


def test_pipe_bad_pointer_creates_nothing(guest: Guest, kernel) -> None:
    (ok,) = guest.out()
    assert guest.p("fd_pipe", ok, BAD_PTR) == E["EFAULT"]
    assert len(guest.proc.fds) == 0 and kernel.usage().pipes == 0


def test_dup_dup2_setfd(guest: Guest) -> None:
    fds = guest.proc.fds
    r, w = pipe(guest)
    (ret,) = guest.out()
    assert guest.p("fd_setfd", w, 1) == 0 and fds.entry(w).cloexec
    assert guest.p("fd_dup", w, ret) == 0
    new = guest.u32(ret)
    assert new == 2 and fds.get(new) is fds.get(w) and not fds.entry(new).cloexec
    assert guest.p("fd_setfd", new, 0xFE) == 0 and not fds.entry(new).cloexec  # only bit 0 counts
    assert guest.p("fd_dup2", r, 7) == 0 and fds.get(7) is fds.get(r)
    assert guest.p("fd_dup2", w, 7) == 0 and fds.get(7) is fds.get(w)  # closes the old 7 first
    assert guest.p("fd_dup2", 7, 7) == 0
    assert guest.p("fd_dup2", 9, 9) == E["EBADF"]
    assert guest.p("fd_dup2", 9, 3) == E["EBADF"]
    assert guest.p("fd_dup2", r, -1) == E["EBADF"]
    assert guest.p("fd_dup", 42, ret) == E["EBADF"]
    assert guest.p("fd_dup", 0x40000003, ret) == E["EBADF"]  # preopens are not guest fds
    assert guest.p("fd_setfd", 42, 1) == E["EBADF"]


# -- signal mask ------------------------------------------------------------------------
def test_signal_mask_operations(guest: Guest) -> None:
    lo, hi = guest.out(2)
    term, usr1 = 1 << 14, 1 << 9
    assert guest.p("proc_signal_mask_v2", 3, 0xFFFF, 0, lo, hi) == 0  # query ignores set
    assert (guest.u32(lo), guest.u32(hi)) == (0, 0) and guest.proc.sigmask == 0
    assert guest.p("proc_signal_mask_v2", 0, term | usr1 | (1 << 8) | (1 << 18), 1, lo, hi) == 0
    assert guest.proc.sigmask == term | usr1 | (1 << 32)  # SIGKILL/SIGSTOP dropped
    assert guest.p("proc_signal_mask_v2", 1, usr1, 0, lo, hi) == 0
    assert (guest.u32(lo), guest.u32(hi)) == (term | usr1, 1)  # the OLD mask
    assert guest.proc.sigmask == term | (1 << 32)
    assert guest.p("proc_signal_mask_v2", 2, usr1, 0, lo, hi) == 0
    assert guest.proc.sigmask == usr1
    assert guest.p("proc_signal_mask_v2", 4, 0, 0, lo, hi) == E["EINVAL"]
    assert guest.p("proc_signal_mask_v2", 0, term, 0, lo, BAD_PTR) == E["EFAULT"]
    assert guest.proc.sigmask == usr1


def test_unblocking_a_pending_signal_terminates(guest: Guest, kernel) -> None:
    lo, hi = guest.out(2)
    assert guest.p("proc_signal_mask_v2", 0, 1 << 14, 0, lo, hi) == 0
    assert guest.p("proc_kill", guest.proc.pid, 15) == 0  # blocked: stays pending, returns
    status = guest.call_exit("host_process", "proc_signal_mask_v2", 1, 1 << 14, 0, lo, hi)
    assert status == ExitStatus(0, 15)


# -- kill ----------------------------------------------------------------------------------
def test_kill_other_and_errors(guest: Guest, kernel) -> None:
    other = Guest(kernel)
    assert guest.p("proc_kill", other.proc.pid, 0) == 0
    assert other.proc.pending_kill == 0
    assert guest.p("proc_kill", other.proc.pid, 17) == 0  # SIGCHLD: ignored by default
    assert other.proc.pending_kill == 0
    assert guest.p("proc_kill", other.proc.pid, 15) == 0
    assert other.proc.pending_kill == 15
    assert guest.p("proc_kill", 999, 9) == E["ESRCH"]
    assert guest.p("proc_kill", other.proc.pid, 32) == E["EINVAL"]
    assert guest.p("proc_kill", other.proc.pid, -1) == E["EINVAL"]
    assert guest.p("proc_kill", -4242, 9) == E["ESRCH"]  # signed pid: group 4242


def test_kill_of_an_unwaited_zombie_succeeds_and_of_a_reaped_one_is_esrch(guest: Guest, kernel) -> None:
    child = Guest(kernel, ppid=guest.proc.pid)
    kernel.processes.exit(child.proc, ExitStatus(3))
    assert guest.p("proc_kill", child.proc.pid, 0) == 0
    assert guest.p("proc_kill", child.proc.pid, 15) == 0
    outs = guest.out(4)
    assert guest.p("proc_waitpid_v2", child.proc.pid, 0, *outs) == 0
    assert [guest.u32(p) for p in outs] == [3, 0, child.proc.pid, 0]  # the kill changed nothing
    assert guest.p("proc_kill", child.proc.pid, 0) == E["ESRCH"]


def test_kill_self_never_returns(guest: Guest) -> None:
    assert guest.call_exit("host_process", "proc_kill", guest.proc.pid, 9) == ExitStatus(0, 9)


# -- waitpid -------------------------------------------------------------------------------
def test_waitpid_options_and_echild(guest: Guest) -> None:
    outs = guest.out(4)
    assert guest.p("proc_waitpid_v2", -1, 2, *outs) == E["EINVAL"]
    assert guest.p("proc_waitpid_v2", -1, 1 | 4, *outs) == E["EINVAL"]
    assert guest.p("proc_waitpid_v2", -1, 0, *outs) == E["ECHILD"]
    assert guest.p("proc_waitpid_v2", 55, 1, *outs) == E["ECHILD"]


def test_waitpid_nohang_then_reap(guest: Guest, kernel) -> None:
    child = Guest(kernel, ppid=guest.proc.pid)
    outs = guest.out(4)
    assert guest.p("proc_waitpid_v2", child.proc.pid, 1, *outs) == 0
    assert [guest.u32(p) for p in outs] == [0, 0, 0, 0]  # still running: all four zero
    kernel.processes.exit(child.proc, ExitStatus(0x1FF & 0xFF))
    assert guest.p("proc_waitpid_v2", -1, 1, *outs) == 0
    assert [guest.u32(p) for p in outs] == [0xFF, 0, child.proc.pid, 0]
    assert guest.p("proc_waitpid_v2", child.proc.pid, 0, *outs) == E["ECHILD"]  # reaped


def test_busy_polling_nohang_backs_off_and_a_reap_starts_over(guest: Guest, kernel) -> None:
    child = Guest(kernel, ppid=guest.proc.pid)
    outs = guest.out(4)
    graces = []
    for _ in range(6):  # nothing but polls in between: each miss waits twice as long
        assert guest.p("proc_waitpid_v2", child.proc.pid, 1, *outs) == 0
        graces.append(guest.ctx.nohang_grace)
    assert graces == [NOHANG_GRACE * 2**k for k in range(5)] + [NOHANG_GRACE_MAX]
    deadline = time.thread_time() + 2 * BUSY_POLL_CPU  # real work between two polls
    while time.thread_time() < deadline:
        pass
    assert guest.p("proc_waitpid_v2", child.proc.pid, 1, *outs) == 0
    assert guest.ctx.nohang_grace == NOHANG_GRACE
    assert guest.p("proc_waitpid_v2", child.proc.pid, 1, *outs) == 0
    kernel.processes.exit(child.proc, ExitStatus(0))
    assert guest.p("proc_waitpid_v2", -1, 1, *outs) == 0  # reaped within the grace
    assert guest.u32(outs[2]) == child.proc.pid
    other = Guest(kernel, ppid=guest.proc.pid)
    assert guest.p("proc_waitpid_v2", other.proc.pid, 1, *outs) == 0
    assert guest.ctx.nohang_grace == NOHANG_GRACE  # the reap started over


def test_waitpid_reports_signal(guest: Guest, kernel) -> None:
    child = Guest(kernel, ppid=guest.proc.pid)
    kernel.processes.exit(child.proc, ExitStatus(0, 9))
    outs = guest.out(4)
    assert guest.p("proc_waitpid_v2", child.proc.pid, 0, *outs) == 0
    assert [guest.u32(p) for p in outs] == [0, 9, child.proc.pid, 0]


def test_waitpid_bad_pointer_does_not_reap(guest: Guest, kernel) -> None:
    child = Guest(kernel, ppid=guest.proc.pid)
    kernel.processes.exit(child.proc, ExitStatus(3))
    a, b, c = guest.out(3)
    assert guest.p("proc_waitpid_v2", child.proc.pid, 0, a, b, c, BAD_PTR) == E["EFAULT"]
    outs = guest.out(4)
    assert guest.p("proc_waitpid_v2", child.proc.pid, 0, *outs) == 0
    assert guest.u32(outs[0]) == 3


def test_blocking_waitpid_wakes_on_exit(guest: Guest, kernel) -> None:
    child = Guest(kernel, ppid=guest.proc.pid)
    threading.Timer(0.1, kernel.processes.exit, (child.proc, ExitStatus(7))).start()
    outs = guest.out(4)
    t0 = time.monotonic()
    assert guest.p("proc_waitpid_v2", -1, 0, *outs) == 0
    assert 0.05 < time.monotonic() - t0 < 2
    assert guest.u32(outs[0]) == 7 and guest.u32(outs[2]) == child.proc.pid


def test_blocking_waitpid_interrupted_by_kill(guest: Guest, kernel) -> None:
    Guest(kernel, ppid=guest.proc.pid)
    threading.Timer(0.1, kernel.processes.kill, (0, guest.proc.pid, 15)).start()
    t0 = time.monotonic()
    assert guest.call_exit("host_process", "proc_waitpid_v2", -1, 0, *guest.out(4)) == ExitStatus(0, 15)
    assert time.monotonic() - t0 < 2


# -- sleep ---------------------------------------------------------------------------------
def test_sleep_ms(guest: Guest) -> None:
    t0 = time.monotonic()
    assert guest.p("sleep_ms", 120) == 0
    assert time.monotonic() - t0 >= 0.12
    assert guest.p("sleep_ms", 0) == 0


def test_sleep_is_interruptible(guest: Guest, kernel) -> None:
    threading.Timer(0.1, kernel.processes.kill, (0, guest.proc.pid, 9)).start()
    t0 = time.monotonic()
    assert guest.call_exit("host_process", "sleep_ms", 60_000) == ExitStatus(0, 9)
    assert time.monotonic() - t0 < 1


# -- spawn file actions --------------------------------------------------------------------
def test_file_actions_dup2_open_close(guest: Guest, kernel) -> None:
    r, w = pipe(guest)
    fds = guest.proc.fds
    fds.set_cloexec(w, True)
    fds.set_cloexec(r, True)
    guest.proc.umask = 0o027
    child = fds.copy()
    cwd = apply_file_actions(guest.ctx, child, [
        FileAction(2, 1, w),  # DUP2 1 <- w: the target is not cloexec
        FileAction(3, 5, 0, 0o1 | 0o100, 0o666, "out.txt"),  # OPEN relative to cwd /tmp
        FileAction(1, 9),  # CLOSE of a closed fd: accepted
        FileAction(2, r, r),  # DUP2 onto itself clears cloexec
    ], "/tmp")
    child.close_cloexec()
    assert cwd == "/tmp"
    assert child.fds() == [0, 1, 5]
    assert child.get(1) is fds.get(w) and child.get(0) is fds.get(r)
    st = kernel.vfs.stat("/tmp/out.txt")
    assert st.perm == 0o640 and st.uid == 1000
    child.get(5).write(b"abc")
    assert kernel.vfs.read_file("/tmp/out.txt") == b"abc"
    child.close_all()


def test_file_actions_chdir_fchdir_closefrom(guest: Guest, kernel) -> None:
    kernel.vfs.mkdir("/tmp/sub", 0o777)
    fds = guest.proc.fds
    child = fds.copy()
    cwd = apply_file_actions(guest.ctx, child, [
        FileAction(4, 0, path="sub"),
        FileAction(3, 3, 0, 0o100 | 0o1, 0o644, "f"),  # relative to the NEW cwd
        FileAction(3, 4, 0, 0o200000, 0, "/etc"),  # O_DIRECTORY
        FileAction(5, 4),  # FCHDIR to /etc
        FileAction(6, 4),  # CLOSEFROM 4
    ], "/tmp")
    assert cwd == "/etc"
    assert kernel.vfs.exists("/tmp/sub/f")
    assert child.fds() == [3]
    child.close_all()


@pytest.mark.parametrize(
    ("action", "errno"),
    [
        (FileAction(2, 1, 33), "EBADF"),  # DUP2 from a closed fd
        (FileAction(2, -1, 0), "EBADF"),
        (FileAction(1, -3), "EBADF"),
        (FileAction(6, -1), "EBADF"),
        (FileAction(3, 0, 0, 0, 0, "/nope/x"), "ENOENT"),
        (FileAction(3, 0, 0, 3, 0, "/etc/passwd"), "EINVAL"),  # bad access mode
        (FileAction(3, 0, 0, 1, 0, "/etc/passwd"), "EACCES"),  # root's file, as USER
        (FileAction(4, 0, path="/etc/passwd"), "ENOTDIR"),
        (FileAction(5, 0), "ENOTDIR"),  # fd 0 is a pipe
    ],
)
def test_file_action_errors(guest: Guest, action: FileAction, errno: str) -> None:
    pipe(guest)
    child = guest.proc.fds.copy()
    with pytest.raises(KernelError) as info:
        apply_file_actions(guest.ctx, child, [action], "/tmp")
    assert info.value.errno == errno
    child.close_all()


# -- spawn: synchronous errors (no child is created, nothing leaks) -------------------------
def spawn_args(g: Guest, exec_path: str, argv: list[str], *, env: dict[str, str] | None = None,
               actions: bytes = b"", cwd: str = "", attr: int = 0) -> list[int]:
    e, el = g.put(exec_path)
    a, al = g.put(b"".join(x.encode() + b"\0" for x in argv))
    env = {"PATH": "/bin:/tmp"} if env is None else env
    v, vl = g.put(b"".join(f"{k}={x}".encode() + b"\0" for k, x in env.items()))
    f, fl = g.put(actions)
    c, cl = g.put(cwd)
    (ret,) = g.out()
    return [e, el, a, al, v, vl, f, fl, c, cl, attr, 0, 0, 0, 0, 0, ret]


def test_spawn_errors_are_synchronous(guest: Guest, kernel) -> None:
    pipe(guest)
    before = (kernel.fd_budget.used, len(kernel.processes))
    kernel.vfs.write_file("/tmp/text", b"\x7fELF\0binary", mode=0o755)  # neither wasm nor a script
    kernel.vfs.write_file("/tmp/noexec", NOP_WASM, mode=0o644)
    assert guest.p("proc_spawn_v3", *spawn_args(guest, "missing", ["missing"])) == E["ENOENT"]
    assert guest.p("proc_spawn_v3", *spawn_args(guest, "", [])) == E["ENOENT"]
    assert guest.p("proc_spawn_v3", *spawn_args(guest, "/tmp/text", ["t"])) == E["ENOEXEC"]
    assert guest.p("proc_spawn_v3", *spawn_args(guest, "./noexec", ["n"])) == E["EACCES"]
    assert guest.p("proc_spawn_v3", *spawn_args(guest, "/tmp/text", ["t"], attr=0x100)) == E["ENOTSUP"]
    bad_actions = encode_file_action(FileAction(1, 3))[:-2]
    assert guest.p("proc_spawn_v3", *spawn_args(guest, "/tmp/text", ["t"], actions=bad_actions)) == E["EINVAL"]
    bad_dup = encode_file_action(FileAction(2, 1, 77))
    assert guest.p("proc_spawn_v3", *spawn_args(guest, "/tmp/text", ["t"], actions=bad_dup)) == E["EBADF"]
    assert guest.p("proc_spawn_v3", *spawn_args(guest, "/tmp/text", ["t"], cwd="/nope")) == E["ENOENT"]
    args = spawn_args(guest, "/tmp/text", ["t"])
    args[2] = guest.put(b"\xff\0")[0]
    assert guest.p("proc_spawn_v3", *args) == E["ENOEXEC"]  # argv bytes are fine (Linux); the program is not
    assert (kernel.fd_budget.used, len(kernel.processes)) == before


def test_spawn_argv_env_limit_is_e2big() -> None:
    kernel = Kernel(Limits(max_argv_env_bytes=100))
    g = Guest(kernel)
    kernel.vfs.write_file("/tmp/prog", NOP_WASM, mode=0o755)
    assert g.p("proc_spawn_v3", *spawn_args(g, "/tmp/prog", ["p", "x" * 100])) == E["E2BIG"]
    assert g.p("proc_spawn_v3", *spawn_args(g, "/tmp/prog", ["p"], env={"V": "y" * 100})) == E["E2BIG"]
    assert g.p("proc_exec", *exec_args(g, "/tmp/prog", ["p", "x" * 100], {})) == E["E2BIG"]
    assert len(kernel.processes) == 1
    kernel.processes.exit(g.proc, ExitStatus(0))
    kernel.shutdown()


# -- exec ----------------------------------------------------------------------------------
def exec_args(g: Guest, path: str, argv: list[str], env: dict[str, str], close: list[int] = ()) -> list[int]:
    e, el = g.put(path)
    a, al = g.put(b"".join(x.encode() + b"\0" for x in argv))
    v, vl = g.put(b"".join(f"{k}={x}".encode() + b"\0" for k, x in env.items()))
    c, _ = g.put(struct.pack(f"<{len(close)}I", *close) if close else b"\0\0\0\0")
    return [e, el, a, al, v, vl, c, len(close)]


def test_exec_errors_return(guest: Guest, kernel) -> None:
    kernel.vfs.write_file("/tmp/text", b"\x7fELF\0binary", mode=0o755)
    assert guest.p("proc_exec", *exec_args(guest, "nope", ["nope"], {"PATH": "/bin"})) == E["ENOENT"]
    assert guest.p("proc_exec", *exec_args(guest, "/tmp/text", ["t"], {})) == E["ENOEXEC"]
    assert guest.ctx.exec_request is None


def test_exec_success_unwinds_and_closes_listed_fds(guest: Guest, kernel) -> None:
    kernel.vfs.write_file("/tmp/prog", NOP_WASM, mode=0o755)
    kernel.vfs.write_file("/tmp/script", b"#!/tmp/prog -x\necho\n", mode=0o755)
    r, w = pipe(guest)
    guest.call_exit("host_process", "proc_exec", *exec_args(guest, "script", ["script", "a"], {"PATH": "/tmp", "A": "1"}, [w, 99]))
    program, env = guest.ctx.exec_request
    assert program.path == "/tmp/prog"
    assert program.argv == ["/tmp/prog", "-x", "/tmp/script", "a"]
    assert env == {"PATH": "/tmp", "A": "1", "PWD": "/tmp"}
    assert guest.proc.fds.fds() == [r]
