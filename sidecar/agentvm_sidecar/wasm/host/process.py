"""``host_process``: spawn, wait, signals, exec, pipes, dups, umask, sleep.

The 12 imports of the pinned agentOS packages (host_abi.md §3), and
``proc_getppid``, which agentvm-cc's compat library adds. Conventions:
every function returns a WASI errno and writes results through u32 out-pointers,
which are validated before any side effect (a bad pointer is EFAULT and changes
nothing). Scalars the guest treats as signed (pids, kill's pid and signal) are
read with :func:`to_i32`. Signal numbers, ``O_*`` flags in spawn actions,
``SIG_BLOCK``.. and ``WNOHANG`` use Linux numbering.

Blocking calls (``proc_waitpid_v2`` without WNOHANG, ``sleep_ms``) poll
``ctx.interrupted()`` and end with ``ctx.check_signals()``, so a process killed
while blocked leaves at once instead of returning to wasm. ``proc_kill`` checks
too after delivering: killing yourself never returns. ``proc_exec`` never returns
0: success unwinds the current image (``ctx.request_exec``).
"""

from __future__ import annotations

import posixpath
import time

from ... import native
from ...kernel.blocking import before_blocking
from ...kernel.descriptions import FileDescription
from ...kernel.errors import KernelError
from ...kernel.fdtable import FdTable
from ...kernel.fstypes import S_IFDIR, S_IFMT, FileKind, OpenFlags
from ...kernel.process import Process
from ..abi import WASI_ERRNO, host_function
from ..context import GuestContext
from ..programs import resolve_program
from .encoding import (
    ACTION_CHDIR,
    ACTION_CLOSE,
    ACTION_CLOSEFROM,
    ACTION_DUP2,
    ACTION_FCHDIR,
    ACTION_OPEN,
    FileAction,
    decode_env,
    decode_file_actions,
    decode_strings,
    linux_open_flags,
    sanitize_sigset,
    sigset_from_halves,
    sigset_halves,
    to_i32,
)

__all__ = ["apply_file_actions", "child_cwd"]

M = "host_process"

WNOHANG = 1
# brush waits for a foreground pipeline by busy-polling waitpid(WNOHANG) (fact #6).
# A miss waits up to a grace for a child to exit (an exit wakes it at once). The
# grace doubles while the guest does nothing but poll (less than BUSY_POLL_CPU of its
# own CPU between misses) and starts over after a reap or real work: each poll is a
# wake-up and a run-slot hand-off taken from the children being waited for, and a
# busy shell polled 500 times a second. A program checking a background job now
# and then between real work keeps the short grace.
NOHANG_GRACE = 0.002
NOHANG_GRACE_MAX = 0.032
BUSY_POLL_CPU = 0.0005
SLEEP_SLICE = 0.05
MAX_EXEC_CLOEXEC_FDS = 1 << 20

# posix_spawnattr flags (musl values)
SPAWN_RESETIDS = 1
SPAWN_SETPGROUP = 2
SPAWN_SETSIGDEF = 4
SPAWN_SETSIGMASK = 8

SIG_BLOCK, SIG_UNBLOCK, SIG_SETMASK, SIG_QUERY = 0, 1, 2, 3


# -- helpers -----------------------------------------------------------------------
def _join_dir(ctx: GuestContext, base: str, path: str) -> str:
    """``path`` made absolute against ``base`` (lexically, as a shell's $PWD) and
    checked to be a directory the process can reach. Raises: ENOENT, ENOTDIR, EACCES."""
    target = posixpath.normpath(posixpath.join(base, path))
    if target.startswith("//"):
        target = "/" + target.lstrip("/")
    st = ctx.kernel.vfs.stat(target, cwd="/", cred=ctx.proc.cred)
    if st.mode & S_IFMT != S_IFDIR:
        raise KernelError.enotdir(target)
    return target


def child_cwd(ctx: GuestContext, raw: str) -> str:
    """The spawn ``cwd`` argument: empty = the parent's cwd. Raises: ENOENT, ENOTDIR."""
    if not raw:
        return ctx.proc.cwd
    return _join_dir(ctx, ctx.proc.cwd, raw)


def _bad_fd(fd: int) -> None:
    if fd < 0:
        raise KernelError.ebadf(fd)


def apply_file_actions(ctx: GuestContext, fds: FdTable, actions: list[FileAction], cwd: str) -> str:
    """Apply posix_spawn file actions in order to the child's ``fds``; returns the
    child's cwd after CHDIR/FCHDIR. Raises: KernelError (the caller closes ``fds``)."""
    proc = ctx.proc
    for action in actions:
        cmd, fd = action.command, action.fd
        if cmd == ACTION_CLOSE:
            _bad_fd(fd)
            try:
                fds.close(fd)
            except KernelError as exc:  # closing a closed fd: ignored, as glibc/Linux do
                if exc.errno != "EBADF":
                    raise
        elif cmd == ACTION_DUP2:
            _bad_fd(fd)
            _bad_fd(action.source_fd)
            description = fds.get(action.source_fd)
            if action.source_fd == fd:
                fds.set_cloexec(fd, False)  # POSIX: dup2 onto itself clears FD_CLOEXEC
            else:
                fds.install_at(fd, description)
        elif cmd == ACTION_OPEN:
            _bad_fd(fd)
            flags, nonblocking, cloexec = linux_open_flags(action.oflag)
            mode = action.mode & 0o7777 & ~proc.umask
            handle = ctx.kernel.vfs.open(action.path, flags, mode, cwd=cwd, cred=proc.cred)
            description = FileDescription(handle)
            description.nonblocking = nonblocking
            description.append = bool(flags & OpenFlags.APPEND)
            try:
                fds.install_at(fd, description, cloexec=cloexec)
            except BaseException:
                handle.close()
                raise
        elif cmd == ACTION_CHDIR:
            cwd = _join_dir(ctx, cwd, action.path)
        elif cmd == ACTION_FCHDIR:
            _bad_fd(fd)
            description = fds.get(fd)
            if description.kind is not FileKind.DIRECTORY or description.path is None:
                raise KernelError.enotdir()
            cwd = description.path
        elif cmd == ACTION_CLOSEFROM:
            _bad_fd(fd)
            fds.close_from(fd)
        else:  # decode_file_actions rejects these already
            raise KernelError.einval(message=f"unknown spawn file action {cmd}")
    return cwd


# -- spawn / wait ------------------------------------------------------------------
@host_function(M, "proc_spawn_v3", "i" * 17)
def proc_spawn_v3(
    ctx: GuestContext,
    exec_ptr: int, exec_len: int, argv_ptr: int, argv_len: int, envp_ptr: int, envp_len: int,
    actions_ptr: int, actions_len: int, cwd_ptr: int, cwd_len: int, attr_flags: int,
    sigdef_lo: int, sigdef_hi: int, sigmask_lo: int, sigmask_hi: int, pgroup: int, ret_pid: int,
) -> int | None:
    """posix_spawn: returns synchronously with the child's pid or an errno."""
    attr_flags &= 0xFFFFFFFF
    if attr_flags > 0xFF:
        return WASI_ERRNO["ENOTSUP"]
    ctx.check(ret_pid, 4)
    parent = ctx.proc
    exec_path = ctx.string(exec_ptr, exec_len)
    argv = decode_strings(ctx.read(argv_ptr, argv_len))
    env = decode_env(ctx.read(envp_ptr, envp_len))
    actions = decode_file_actions(ctx.read(actions_ptr, actions_len))
    cwd = child_cwd(ctx, ctx.string(cwd_ptr, cwd_len))
    # The child's initial blocked mask. Rust std always passes the parent's mask
    # (queried with proc_signal_mask_v2(3)); SETSIGDEF needs no work because every
    # disposition is the default (guests cannot install handlers).
    sigmask = sanitize_sigset(sigset_from_halves(sigmask_lo, sigmask_hi))
    if parent.spawn_gate is not None:  # before the file actions: a refused spawn opens nothing
        before_blocking()  # the gate may wait for the client's answer (acp/codex.py)
        parent.spawn_gate(argv, cwd)

    fds = parent.fds.copy()
    try:
        cwd = apply_file_actions(ctx, fds, actions, cwd)
        fds.close_cloexec()
    except BaseException:
        fds.close_all()
        raise

    from ..spawn import spawn  # late: spawn -> runtime -> this package

    child = spawn(
        ctx.kernel, ppid=parent.pid, exec_path=exec_path, argv=argv, env=env, cwd=cwd, fds=fds,
        cred=parent.cred, umask=parent.umask, sigmask=sigmask,
    )
    if attr_flags & SPAWN_SETPGROUP:
        # XX: set after the child started; the child itself could observe its old
        # pgid for a moment (no guest can query it: no getpgrp import). The parent
        # sees the new group as soon as this call returns.
        child.pgid = to_i32(pgroup) or child.pid
    ctx.set_u32(ret_pid, child.pid)
    return None


def nohang_grace(ctx: GuestContext) -> float:
    """How long this WNOHANG call waits for a child (see NOHANG_GRACE)."""
    busy = ctx.nohang_missed_at >= 0 and time.thread_time() - ctx.nohang_missed_at < BUSY_POLL_CPU
    ctx.nohang_grace = min(ctx.nohang_grace * 2, NOHANG_GRACE_MAX) if busy else NOHANG_GRACE
    return ctx.nohang_grace


def nohang_answered(ctx: GuestContext, *, missed: bool) -> None:
    """After a WNOHANG call: a miss marks the guest's CPU clock, a reap starts over."""
    ctx.nohang_missed_at = time.thread_time() if missed else -1.0


@host_function(M, "proc_waitpid_v2", "iiiiii")
def proc_waitpid_v2(
    ctx: GuestContext, pid: int, options: int, ret_exit: int, ret_signal: int, ret_pid: int, ret_core: int
) -> int | None:
    """waitpid: reaps a child; WNOHANG miss = success with all four outputs 0."""
    if options & 0xFFFFFFFF & ~WNOHANG:
        return WASI_ERRNO["EINVAL"]
    for ptr in (ret_exit, ret_signal, ret_pid, ret_core):
        ctx.check(ptr, 4)
    nohang = bool(options & WNOHANG)
    try:
        result = ctx.kernel.processes.waitpid(
            ctx.proc.pid, to_i32(pid), nohang=nohang, interrupted=ctx.interrupted,
            nohang_grace=nohang_grace(ctx) if nohang else 0.0,
        )
    except KernelError as exc:
        if exc.errno == "EINTR":
            ctx.check_signals()  # killed while waiting: never return to the guest
        raise
    if nohang:
        nohang_answered(ctx, missed=result is None)
    if result is None:
        reaped, code, sig = 0, 0, 0
    else:
        reaped, status = result
        code, sig = status.exit_code & 0xFF, status.signal
    ctx.set_u32(ret_exit, code)
    ctx.set_u32(ret_signal, sig)
    ctx.set_u32(ret_pid, reaped)
    ctx.set_u32(ret_core, 0)  # XX: core dumps are not modelled
    return None


# -- signals -----------------------------------------------------------------------
@host_function(M, "proc_kill", "ii")
def proc_kill(ctx: GuestContext, pid: int, sig: int) -> None:
    """kill(2): Linux signal numbers 0..31 (0 = existence check)."""
    ctx.kernel.processes.kill(ctx.proc.pid, to_i32(pid), to_i32(sig))
    ctx.check_signals()  # the caller may have signalled itself (or its group)


@host_function(M, "proc_getpid", "i")
def proc_getpid(ctx: GuestContext, ret_pid: int) -> None:
    ctx.set_u32(ret_pid, ctx.proc.pid)


@host_function(M, "proc_getppid", "i")
def proc_getppid(ctx: GuestContext, ret_pid: int) -> None:
    """getppid(2). Not among the agentOS imports (their libc has no getppid); served
    for programs built with agentvm-cc, whose compat library calls it."""
    ctx.set_u32(ret_pid, ctx.proc.ppid)


@host_function(M, "proc_signal_mask_v2", "iiiii")
def proc_signal_mask_v2(ctx: GuestContext, how: int, set_lo: int, set_hi: int, ret_lo: int, ret_hi: int) -> int | None:
    """sigprocmask: how 0 BLOCK, 1 UNBLOCK, 2 SETMASK, 3 query; writes the old mask."""
    how &= 0xFFFFFFFF
    if how > SIG_QUERY:
        return WASI_ERRNO["EINVAL"]
    ctx.check(ret_lo, 4)
    ctx.check(ret_hi, 4)
    proc = ctx.proc
    old = proc.sigmask
    change = sanitize_sigset(sigset_from_halves(set_lo, set_hi))
    if how != SIG_QUERY:
        new = {SIG_BLOCK: old | change, SIG_UNBLOCK: old & ~change, SIG_SETMASK: change}[how]
        ctx.kernel.processes.set_sigmask(proc, new)
    lo, hi = sigset_halves(old)
    ctx.set_u32(ret_lo, lo)
    ctx.set_u32(ret_hi, hi)
    ctx.check_signals()  # unblocking may have delivered a pending terminating signal
    return None


# -- exec --------------------------------------------------------------------------
@host_function(M, "proc_exec", "iiiiiiii")
def proc_exec(
    ctx: GuestContext, exec_ptr: int, exec_len: int, argv_ptr: int, argv_len: int, envp_ptr: int, envp_len: int,
    cloexec_ptr: int, cloexec_len: int,
) -> int:
    """execve: on success the current image is unwound and never sees a return."""
    proc = ctx.proc
    count = cloexec_len & 0xFFFFFFFF
    if count > MAX_EXEC_CLOEXEC_FDS:
        return WASI_ERRNO["E2BIG"]
    raw_fds = ctx.read(cloexec_ptr, 4 * count)
    exec_path = ctx.string(exec_ptr, exec_len)
    argv = decode_strings(ctx.read(argv_ptr, argv_len))
    env = decode_env(ctx.read(envp_ptr, envp_len))
    # The guest libc tracks its cwd in $PWD (chdir never reaches the kernel), so the
    # new image starts where the old one stood, as in agentOS's host. A PWD that is
    # the process's cwd (canonical) needs no lookup: it resolves to itself, or, gone,
    # falls back to itself.
    pwd = env.get("PWD")
    cwd = proc.cwd if pwd == proc.cwd else _pwd_directory(ctx, pwd)
    if cwd is None:
        cwd = env["PWD"] = proc.cwd
    from ..spawn import argv_env_bytes  # late: spawn -> runtime -> this package

    if argv_env_bytes(argv, env) > ctx.kernel.limits.max_argv_env_bytes:
        return WASI_ERRNO["E2BIG"]
    program = resolve_program(ctx.kernel, exec_path, argv, env, cwd, proc.cred)
    proc.cwd = cwd
    native.stats_changed_here()  # its memoized host_fs stats relative to the cwd (wasm/stat_memo.py)
    for i in range(count):
        fd = int.from_bytes(raw_fds[4 * i : 4 * i + 4], "little")
        try:
            proc.fds.close(fd)
        except KernelError:
            pass
    # The runtime closes the FD_CLOEXEC fds and starts ``program`` in this process.
    raise ctx.request_exec(program, env)


def _pwd_directory(ctx: GuestContext, pwd: str | None) -> str | None:
    """The canonical path of $PWD when it names a directory the process can
    reach, else None. (PWD itself stays logical, as the shell keeps it.)"""
    if not pwd or not pwd.startswith("/") or "\0" in pwd:
        return None
    vfs, cred = ctx.kernel.vfs, ctx.proc.cred
    try:
        real, st = vfs.resolve(pwd, cred=cred)
    except KernelError:
        return None
    return real if st.is_dir else None


# -- descriptors -------------------------------------------------------------------
@host_function(M, "fd_pipe", "ii")
def fd_pipe(ctx: GuestContext, ret_read: int, ret_write: int) -> None:
    """A pipe; both ends at the lowest free fds (read end first), not CLOEXEC."""
    ctx.check(ret_read, 4)
    ctx.check(ret_write, 4)
    fds = ctx.proc.fds
    reader, writer = ctx.kernel.make_pipe()
    try:
        rfd = fds.install(reader)
    except BaseException:
        reader.discard()
        writer.discard()
        raise
    try:
        wfd = fds.install(writer)
    except BaseException:
        fds.close(rfd)
        writer.discard()
        raise
    ctx.set_u32(ret_read, rfd)
    ctx.set_u32(ret_write, wfd)


@host_function(M, "fd_dup", "ii")
def fd_dup(ctx: GuestContext, fd: int, ret_fd: int) -> None:
    """dup(2): lowest free fd, same description, CLOEXEC clear."""
    ctx.check(ret_fd, 4)
    ctx.set_u32(ret_fd, ctx.proc.fds.dup(to_i32(fd)))


@host_function(M, "fd_dup2", "ii")
def fd_dup2(ctx: GuestContext, old_fd: int, new_fd: int) -> None:
    """dup2(2): ``new_fd`` closed first; same fd = no-op (EBADF when not open)."""
    ctx.proc.fds.dup2(to_i32(old_fd), to_i32(new_fd))


@host_function(M, "fd_setfd", "ii")
def fd_setfd(ctx: GuestContext, fd: int, flags: int) -> None:
    """F_SETFD: only FD_CLOEXEC (bit 0) means anything."""
    ctx.proc.fds.set_cloexec(to_i32(fd), bool(flags & 1))


@host_function(M, "umask", "iii")
def umask(ctx: GuestContext, mask: int, set_: int, ret_old: int) -> None:
    """Write the umask as it was before; set it when ``set`` is non-zero."""
    ctx.check(ret_old, 4)
    proc: Process = ctx.proc
    old = proc.umask & 0o777
    if set_:
        proc.umask = mask & 0o777
    ctx.set_u32(ret_old, old)


@host_function(M, "sleep_ms", "i")
def sleep_ms(ctx: GuestContext, milliseconds: int) -> None:
    """Sleep, in short slices so a kill ends the process promptly; 0 = yield."""
    deadline = time.monotonic() + (milliseconds & 0xFFFFFFFF) / 1000
    while True:
        if ctx.interrupted():
            ctx.check_signals()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            if milliseconds == 0:
                time.sleep(0)
            return
        before_blocking()
        time.sleep(min(SLEEP_SLICE, remaining))
