"""Processes: ``process.*`` methods and the events a running process emits.

A process is named by ``command`` (run as ``sh -c command``) or by ``argv`` (run
directly; ``argv[0]`` is looked up in ``PATH`` when it has no slash). Exactly one of
them must be given. A ``command`` that is one simple command of plain words (no
expansions, redirections, pipes or builtins: ``ls -la /tmp``, ``git status``) runs
directly, as bash runs one with ``-c``: no shell process, the same argv, output and
exit status, ``SHLVL`` as the shell sets it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta

from ._base import Base, Empty
from ._vm import CString, Environment, VmId, VmPath

__all__ = [
    "DEFAULT_EXEC_OUTPUT_BYTES",
    "OUTPUT_WINDOW_BYTES",
    "ProcessAckOutputParams",
    "ProcessAckOutputResult",
    "ProcessCloseStdinParams",
    "ProcessCloseStdinResult",
    "ProcessExecParams",
    "ProcessExecResult",
    "ProcessExitEvent",
    "ProcessInfo",
    "ProcessKillParams",
    "ProcessKillResult",
    "ProcessListParams",
    "ProcessListResult",
    "ProcessOutputEvent",
    "ProcessSpawnParams",
    "ProcessSpawnResult",
    "ProcessTreeNode",
    "ProcessTreeParams",
    "ProcessTreeResult",
    "ProcessWaitParams",
    "ProcessWaitResult",
    "ProcessWriteStdinParams",
    "ProcessWriteStdinResult",
    "SignalName",
]

SignalName = Literal[
    "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE", "SIGKILL",
    "SIGUSR1", "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM", "SIGSTKFLT", "SIGCHLD", "SIGCONT",
    "SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGURG", "SIGXCPU", "SIGXFSZ", "SIGVTALRM", "SIGPROF",
    "SIGWINCH", "SIGIO", "SIGPWR", "SIGSYS",
]
"""Linux signal names (numbers as on Linux x86-64)."""
Pid = Annotated[int, Meta(ge=1)]
TimeoutMs = Annotated[int, Meta(ge=1)]
Argv = Annotated[list[CString], Meta(min_length=1)]


DEFAULT_EXEC_OUTPUT_BYTES = 16 * 1024 * 1024
"""How much of each output stream ``process.exec`` keeps unless told otherwise."""


class ProcessExecParams(Base):
    """Run a process to completion and return its exit code and output.

    ``timeout_ms`` bounds wall time, including the wait for output from anything the
    process started in the background: on expiry the process and every process it
    started are killed (SIGKILL) and the result has ``timed_out`` set and exit code
    124, with the output collected until then.

    The result keeps the first ``max_output_bytes`` of stdout and of stderr; output
    beyond that is read and discarded (the process runs on to its end) and the
    result has ``truncated`` set. Both streams together, base64-encoded, must still
    fit in ``maxFrameBytes`` (else ``limit_exceeded``).
    """

    vm_id: VmId
    command: CString | None = None
    argv: Argv | None = None
    cwd: VmPath | None = None
    env: Environment = {}
    """Added to (and overriding) the VM's environment, unless ``exact_env``."""
    exact_env: bool = False
    """Run with exactly ``env``: neither the VM's environment nor the defaults
    (``PATH``, ``HOME``, ``USER``, ``SHELL``) are added. ``PWD`` is still set to the
    working directory: the guests' libc takes its working directory from it."""
    stdin: bytes = b""
    timeout_ms: TimeoutMs | None = None
    max_output_bytes: Annotated[int, Meta(ge=0, le=32 * 1024 * 1024)] = DEFAULT_EXEC_OUTPUT_BYTES
    """Bytes kept of each of stdout and stderr (default 16 MiB)."""


class ProcessExecResult(Base):
    """How the process ended and what it wrote (see ``truncated``)."""

    exit_code: int
    """0-255; 128+n when ended by signal n; 124 when a time limit ended it."""
    stdout: bytes
    stderr: bytes
    signal: SignalName | None = None
    timed_out: bool = False
    truncated: bool = False
    """Set when stdout or stderr had more than ``max_output_bytes``; each holds its first
    ``max_output_bytes``."""


OUTPUT_WINDOW_BYTES = 1024 * 1024
"""Output a spawned process may have in flight: sent as ``process.output`` events but
not yet acknowledged with ``process.ackOutput``."""


class ProcessSpawnParams(Base):
    """Start a process and return at once; output and exit arrive as ``event``
    notifications (``process.output``, ``process.exit``). Its stdin is a pipe fed by
    ``process.writeStdin`` until ``process.closeStdin``.

    Output is flow-controlled per process: at most ``OUTPUT_WINDOW_BYTES`` (1 MiB) of
    ``process.output`` data is in flight until the client acknowledges it with
    ``process.ackOutput``; beyond that the process blocks writing, like a full pipe.
    So a slow consumer slows only its own process, never the connection. Both
    clients acknowledge automatically as their event listeners and iterators hand
    out each event."""

    vm_id: VmId
    command: CString | None = None
    argv: Argv | None = None
    cwd: VmPath | None = None
    env: Environment = {}
    """Added to (and overriding) the VM's environment, unless ``exact_env``."""
    exact_env: bool = False
    """Run with exactly ``env``: neither the VM's environment nor the defaults
    (``PATH``, ``HOME``, ``USER``, ``SHELL``) are added. ``PWD`` is still set to the
    working directory: the guests' libc takes its working directory from it."""


class ProcessSpawnResult(Base):
    """The new process's pid; its output and exit follow as events."""

    pid: Pid


class ProcessAckOutputParams(Base):
    """Return ``consumed`` bytes of a spawned process's ``process.output`` data to its
    window (see ``ProcessSpawnParams``). Usually sent as a JSON-RPC notification (no
    id, no answer); acknowledgements for a process that has exited are ignored."""

    vm_id: VmId
    pid: Pid
    consumed: Annotated[int, Meta(ge=0)]


ProcessAckOutputResult = Empty


class ProcessWriteStdinParams(Base):
    """Write to a spawned process's stdin. Blocks (without blocking other requests)
    while the pipe is full; EPIPE once the process closed its stdin or exited."""

    vm_id: VmId
    pid: Pid
    data: bytes


ProcessWriteStdinResult = Empty


class ProcessCloseStdinParams(Base):
    """Close a spawned process's stdin (the process reads end-of-file)."""

    vm_id: VmId
    pid: Pid


ProcessCloseStdinResult = Empty


class ProcessKillParams(Base):
    """Send a signal to a process started over the wire and to every process it
    started (its session, which guests cannot leave), so killing a command stops
    its whole tree. Guests cannot catch signals: all but SIGCHLD, SIGCONT, SIGURG,
    SIGWINCH and the stop signals (ignored) terminate."""

    vm_id: VmId
    pid: Pid
    signal: SignalName = "SIGTERM"


ProcessKillResult = Empty


class ProcessWaitParams(Base):
    """Wait for a process to exit. With ``timeout_ms``, a process still running
    then gives a ``timeout`` error (the process keeps running)."""

    vm_id: VmId
    pid: Pid
    timeout_ms: TimeoutMs | None = None


class ProcessWaitResult(Base):
    """How the process ended: ``exit_code`` as a shell reports it (128+n for signal n)."""

    exit_code: int
    signal: SignalName | None = None


class ProcessListParams(Base):
    """List the VM's processes (running and not yet reaped)."""

    vm_id: VmId


class ProcessInfo(Base):
    """One process of the VM (running, or exited and not yet reaped).

    A guest may start a process with arguments, or in a directory, that are not valid
    UTF-8 (as on Linux, they are bytes). ``argv`` and ``cwd`` then show each
    undecodable byte as U+FFFD, and ``argv_bytes`` (every argument, in order) or
    ``cwd_bytes`` carry the exact bytes; each is present only then, as for fs names."""

    pid: Pid
    ppid: int
    argv: list[str]
    cwd: str
    state: Literal["running", "exited"]
    exit_code: int | None = None
    argv_bytes: list[bytes] | None = None
    cwd_bytes: bytes | None = None


class ProcessListResult(Base):
    """The VM's processes, by pid."""

    processes: list[ProcessInfo]


class ProcessTreeParams(Base):
    """The VM's processes as a parent/child forest."""

    vm_id: VmId


class ProcessTreeNode(Base):
    """A process and the processes it started."""

    process: ProcessInfo
    children: list[ProcessTreeNode] = []


class ProcessTreeResult(Base):
    """The VM's processes as trees; roots are processes whose parent is gone or the sidecar."""

    roots: list[ProcessTreeNode]


class ProcessOutputEvent(Base, tag="process.output", tag_field="type"):
    """A chunk of a spawned process's stdout or stderr, in order per stream."""

    vm_id: VmId
    pid: Pid
    stream: Literal["stdout", "stderr"]
    data: bytes


class ProcessExitEvent(Base, tag="process.exit", tag_field="type"):
    """A spawned process exited; sent after its last output event."""

    vm_id: VmId
    pid: Pid
    exit_code: int
    signal: SignalName | None = None
