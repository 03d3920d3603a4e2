# Processes: the pid table, parent/child links, exit status, signals and waitpid.
#
# A Process is kernel state only; running its program is the wasm runtime's job
# (wasm/runtime.py), which calls `ProcessTable.exit` when the program ends.  Rules:
#  * pids are allocated from 1 upwards, never reused while a record exists;
#    `max_processes` counts running processes and unreaped zombies (EAGAIN beyond).
#  * an exited process keeps its status as a zombie until its parent waits for it;
#    children of an exiting process are re-parented to pid 0, the sidecar, which
#    reaps them itself unless it spawned them (it waits for those over the wire).
#  * signals cannot be caught by these guests (they export no handler trampoline),
#    so delivery is the default action: SIGCHLD/SIGCONT/SIGURG/SIGWINCH are ignored,
#    stop signals are treated as ignored (no job control), everything else
#    terminates.  A blocked signal stays pending, except SIGKILL.  Termination is
#    recorded as `pending_kill`; the runtime notices it at the next epoch tick or
#    interruptible wait and ends the program.
#  * Linux signal numbers are used throughout, as the guest ABI does.
#  * a session (`sid`) is a client-started process and everything it starts; no
#    guest call changes it, so the sidecar can always end a whole command tree.
#  * a session sent a terminating signal by the sidecar is *dying* until none of
#    its processes runs: it can start no new process (EAGAIN), so a fork bomb
#    cannot outrun its kill (a child spawned a moment before its parent noticed
#    the signal is already in the table and gets it too). `shutdown` makes the
#    whole table dying for good.

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from . import blocking
from .errors import KernelError
from .fdtable import FdTable
from .fstypes import Cred

__all__ = ["SIGNALS", "ExitStatus", "Process", "ProcessState", "ProcessTable", "signal_number"]

SIGNALS: dict[str, int] = {
    "SIGHUP": 1, "SIGINT": 2, "SIGQUIT": 3, "SIGILL": 4, "SIGTRAP": 5, "SIGABRT": 6, "SIGBUS": 7,
    "SIGFPE": 8, "SIGKILL": 9, "SIGUSR1": 10, "SIGSEGV": 11, "SIGUSR2": 12, "SIGPIPE": 13,
    "SIGALRM": 14, "SIGTERM": 15, "SIGSTKFLT": 16, "SIGCHLD": 17, "SIGCONT": 18, "SIGSTOP": 19,
    "SIGTSTP": 20, "SIGTTIN": 21, "SIGTTOU": 22, "SIGURG": 23, "SIGXCPU": 24, "SIGXFSZ": 25,
    "SIGVTALRM": 26, "SIGPROF": 27, "SIGWINCH": 28, "SIGIO": 29, "SIGPWR": 30, "SIGSYS": 31,
}
SIGNAL_NAMES = {n: s for s, n in SIGNALS.items()}
_IGNORED_BY_DEFAULT = {17, 18, 19, 20, 21, 22, 23, 28}
_UNBLOCKABLE = {9, 19}
_WAIT_SLICE = 0.05


def _terminates(sig: int) -> bool:
    """The default action of ``sig`` ends the process (0 is only a check)."""
    return sig != 0 and sig not in _IGNORED_BY_DEFAULT


def signal_number(name: str) -> int:
    return SIGNALS[name]


class ProcessState(enum.Enum):
    RUNNING = "running"
    EXITED = "exited"


@dataclass(frozen=True)
class ExitStatus:
    """How a process ended: ``exit_code`` 0-255, or the terminating ``signal``."""

    exit_code: int
    signal: int = 0

    @property
    def shell_code(self) -> int:
        """What a shell reports as ``$?``: the code, or 128 + signal."""
        return 128 + self.signal if self.signal else self.exit_code


@dataclass(eq=False)
class Process:
    """One guest process."""

    pid: int
    ppid: int
    argv: list[str]
    env: dict[str, str]
    cwd: str
    fds: FdTable
    cred: Cred
    umask: int = 0o022
    sigmask: int = 0
    pgid: int = 0
    sid: int = 0  # session: the client process whose tree this is (no guest setsid)
    state: ProcessState = ProcessState.RUNNING
    status: ExitStatus | None = None
    pending_kill: int = 0  # terminating signal delivered, not yet acted on
    pending: int = 0  # blocked signals waiting (bit s-1)
    spawned_by_client: bool = False
    started_at: float = field(default_factory=time.monotonic)
    pending_open_mode: int | None = None  # host_fs.set_open_mode latch
    spawn_gate: Callable[[list[str], str], None] | None = None
    """Asked on this process's guest thread before it spawns a child (argv, cwd);
    raises KernelError to refuse. Not inherited: an ACP session gates what its agent
    starts (acp/codex.py), not what those commands start in turn."""
    exited: threading.Event = field(default_factory=threading.Event)
    kill_waker: Callable[[], None] | None = None
    """Called (under the process table's lock) once a terminating signal is pending:
    wakes the process's thread where it sleeps outside the kernel's waits (queued
    for a run slot, wasm/scheduler.py), which do not poll for kills."""

    def interrupted(self) -> bool:
        """A terminating signal is pending: blocking kernel calls give up (EINTR)."""
        return self.pending_kill != 0


class ProcessTable:
    """Every process of one VM. Thread-safe; waiters block on one condition."""

    def __init__(self, max_processes: int) -> None:
        self.max_processes = max_processes
        self._procs: dict[int, Process] = {}
        self._next_pid = 1
        self._cond = threading.Condition(threading.Lock())
        self._exit_listeners: list[Callable[[Process], None]] = []
        # sessions being killed (see the header); a dict used as a set: an
        # empty set is 216 bytes of every VM, an empty dict 64
        self._dying: dict[int, None] = {}
        self._closed = False  # shut down: no process starts ever again

    def __len__(self) -> int:
        return len(self._procs)

    def on_exit(self, listener: Callable[[Process], None]) -> None:
        """Call ``listener(process)`` after any process exits (from the exiting thread)."""
        self._exit_listeners.append(listener)

    def create(
        self, *, ppid: int, argv: list[str], env: dict[str, str], cwd: str, fds: FdTable, cred: Cred,
        umask: int = 0o022, sigmask: int = 0, spawned_by_client: bool = False,
    ) -> Process:
        """A new RUNNING process record (its program is started by the caller).

        Raises: EAGAIN when ``max_processes`` records exist, or when the parent's
        session is being killed (or the table shut down).
        """
        with self._cond:
            if len(self._procs) >= self.max_processes:
                raise KernelError.eagain(message="process limit reached")
            parent = self._procs.get(ppid)
            if self._closed or (parent is not None and parent.sid in self._dying):
                raise KernelError.eagain(message="the session is being killed")
            pid = self._next_pid
            self._next_pid += 1
            proc = Process(
                pid=pid, ppid=ppid, argv=argv, env=env, cwd=cwd, fds=fds, cred=cred, umask=umask,
                sigmask=sigmask, pgid=parent.pgid if parent else pid, sid=parent.sid if parent else pid,
                spawned_by_client=spawned_by_client,
            )
            self._procs[pid] = proc
            return proc

    def get(self, pid: int) -> Process:
        """Raises: ESRCH."""
        proc = self._procs.get(pid)
        if proc is None:
            raise KernelError("ESRCH", f"no process {pid}")
        return proc

    def all(self) -> list[Process]:
        with self._cond:
            return sorted(self._procs.values(), key=lambda p: p.pid)

    def exit(self, proc: Process, status: ExitStatus) -> None:
        """Mark ``proc`` exited: close its fds, re-parent its children, wake waiters."""
        proc.fds.close_all()
        with self._cond:
            proc.state = ProcessState.EXITED
            proc.status = status
            for child in self._procs.values():
                if child.ppid == proc.pid:
                    child.ppid = 0
            orphans = [c for c in self._procs.values() if c.ppid == 0 and c.state is ProcessState.EXITED
                       and not c.spawned_by_client]
            for orphan in orphans:
                del self._procs[orphan.pid]
            if proc.sid in self._dying and not self._session_running(proc.sid):
                del self._dying[proc.sid]
            self._cond.notify_all()
        proc.exited.set()
        for listener in self._exit_listeners:
            listener(proc)

    def waitpid(
        self, parent_pid: int, pid: int, *, nohang: bool, interrupted: Callable[[], bool],
        nohang_grace: float = 0.0,
    ) -> tuple[int, ExitStatus] | None:
        """Wait for a child of ``parent_pid`` to exit and reap it.

        ``pid`` > 0 names one child, -1 any child, 0 the caller's group, < -1 group -pid.
        With ``nohang``, returns None when none has exited (after waiting up to
        ``nohang_grace`` seconds for one, which keeps busy-polling guests from
        starving the children they poll for).

        Raises: ECHILD (no such child), EINTR (``interrupted()``).
        """
        deadline = time.monotonic() + nohang_grace
        with self._cond:
            while True:
                candidates = self._children(parent_pid, pid)
                if not candidates:
                    raise KernelError("ECHILD", "no child processes")
                for child in candidates:
                    if child.state is ProcessState.EXITED:
                        del self._procs[child.pid]
                        assert child.status is not None
                        return child.pid, child.status
                if interrupted():
                    raise KernelError("EINTR", "interrupted by a signal")
                if nohang:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return None
                    blocking.wait(self._cond, remaining)
                else:
                    blocking.wait(self._cond, _WAIT_SLICE)

    def _children(self, parent_pid: int, pid: int) -> list[Process]:
        if pid > 0:
            child = self._procs.get(pid)
            return [child] if child is not None and child.ppid == parent_pid else []
        kids = [p for p in self._procs.values() if p.ppid == parent_pid]
        if pid == 0:
            parent = self._procs.get(parent_pid)
            return [k for k in kids if parent is None or k.pgid == parent.pgid]
        if pid < -1:
            return [k for k in kids if k.pgid == -pid]
        return kids

    def reap(self, pid: int) -> None:
        """Forget an exited process (the sidecar reaping what it spawned)."""
        with self._cond:
            proc = self._procs.get(pid)
            if proc is not None and proc.state is ProcessState.EXITED:
                del self._procs[pid]

    def kill(self, sender_pid: int, pid: int, sig: int) -> None:
        """Deliver ``sig`` (Linux number; 0 only checks) to ``pid`` (POSIX kill targets).

        Raises: EINVAL (bad signal), ESRCH (no target).
        """
        if not 0 <= sig <= 31:
            raise KernelError.einval(message=f"bad signal {sig}")
        with self._cond:
            if pid > 0:
                targets = [self._procs[pid]] if pid in self._procs else []
            elif pid == 0:
                sender = self._procs.get(sender_pid)
                targets = [p for p in self._procs.values() if sender and p.pgid == sender.pgid]
            elif pid == -1:
                targets = [p for p in self._procs.values() if p.pid != sender_pid]
            else:
                targets = [p for p in self._procs.values() if p.pgid == -pid]
            if not targets:
                raise KernelError("ESRCH", f"no process {pid}")
            # A zombie (exited, not yet waited for) still exists: kill succeeds and
            # does nothing, as on Linux, so `kill -0 $!` is true until `wait`.
            running = [p for p in targets if p.state is ProcessState.RUNNING]
            if sig == 0 or not running:
                return
            for proc in running:
                self._deliver(proc, sig)
            self._cond.notify_all()

    def kill_session(self, sid: int, sig: int) -> int:
        """Deliver ``sig`` to every running process of session ``sid`` (a client
        process and all it started; guests may change their process group but
        never their session). A terminating signal also marks the session dying
        until it has no running process: none of its processes can start another
        meanwhile. Returns how many were signalled (0: the session is empty)."""
        with self._cond:
            running = self._session_processes(sid)
            if running and _terminates(sig):
                self._dying[sid] = None
            for proc in running:
                self._deliver(proc, sig)
            self._cond.notify_all()
            return len(running)

    def wait_session(self, sid: int, timeout: float) -> bool:
        """Block until no process of session ``sid`` runs; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._session_running(sid):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, _WAIT_SLICE))
            return True

    def shutdown(self, timeout: float) -> list[Process]:
        """SIGKILL every process and refuse new ones for good, then wait for them
        all with one overall ``timeout``. Returns the ones still running then."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._closed = True
            for proc in self._procs.values():
                if proc.state is ProcessState.RUNNING:
                    self._deliver(proc, 9)
            self._cond.notify_all()
            while True:
                stuck = [p for p in self._procs.values() if p.state is ProcessState.RUNNING]
                remaining = deadline - time.monotonic()
                if not stuck or remaining <= 0:
                    return stuck
                self._cond.wait(min(remaining, _WAIT_SLICE))

    def close_if_idle(self) -> bool:
        """Refuse new processes for good, as :meth:`shutdown` does, if none runs
        now; False, and nothing changed, when one does."""
        with self._cond:
            if any(p.state is ProcessState.RUNNING for p in self._procs.values()):
                return False
            self._closed = True
            return True

    def _session_processes(self, sid: int) -> list[Process]:
        return [p for p in self._procs.values() if p.sid == sid and p.state is ProcessState.RUNNING]

    def _session_running(self, sid: int) -> bool:
        return any(p.sid == sid and p.state is ProcessState.RUNNING for p in self._procs.values())

    @staticmethod
    def _deliver(proc: Process, sig: int) -> None:
        if sig in _IGNORED_BY_DEFAULT:
            return
        if sig not in _UNBLOCKABLE and proc.sigmask & (1 << (sig - 1)):
            proc.pending |= 1 << (sig - 1)
            return
        if not proc.pending_kill:
            proc.pending_kill = sig
            if proc.kill_waker is not None:
                proc.kill_waker()

    def set_sigmask(self, proc: Process, mask: int) -> None:
        """Install a new blocked mask; a now-unblocked pending signal is delivered."""
        with self._cond:
            proc.sigmask = mask & ~((1 << 8) | (1 << 18))
            ready = proc.pending & ~proc.sigmask
            if ready:
                proc.pending &= ~ready
                sig = (ready & -ready).bit_length()
                self._deliver(proc, sig)
