"""Processes started over the wire: stdio pipes, output events, waiting, exec.

A spawned client process gets three fresh pipes as fds 0/1/2. The sidecar holds the other
ends, marked O_NONBLOCK and driven from trio through :mod:`.kernel_io`:
- ``spawn`` pumps stdout/stderr into ``process.output`` events, within the
  process's output window (flow.py: credit returned by ``process.ackOutput``), and
  sends ``process.exit`` after the last output; stdin is fed by ``write_stdin``;
- ``exec`` gets no pipes: its process reads the request's stdin and writes into
  buffers that keep the first ``maxOutputBytes`` of each output
  (kernel/exec_stdio.py); the answer is built at its exit, and the process (its
  whole session) is killed when ``timeout_ms`` passes.

The kernel's exit listener runs on the exiting guest's thread; it only hands the
pid to trio (``run_sync_soon`` of thread_wakeups.py, which keeps the guest's GIL)
which sets that process's ``trio.Event``. Exited client processes are reaped at once
and their status is kept in a bounded table so ``process.wait`` still answers after
the fact.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import trio

from agentvm_protocol import (
    OUTPUT_WINDOW_BYTES,
    Event,
    ProcessExecParams,
    ProcessExecResult,
    ProcessExitEvent,
    ProcessOutputEvent,
    ProcessSpawnParams,
    SignalName,
)

from .flow import OutputWindow
from .kernel.descriptions import Description
from .kernel.errors import KernelError
from .kernel.exec_stdio import OutputCapture, StdinBytes
from .kernel.fstypes import USER
from .kernel.kernel import Kernel
from .kernel.process import SIGNAL_NAMES, ExitStatus, Process
from .kernel_io import read_some, write_all
from .plain_command import plain_words, shell_env
from .rpc.early_answers import EarlyAnswer, early_answer
from .rpc.errors import RpcError
from .thread_wakeups import QuietEvent, thread_wakeups
from .vm_tasks import VmTasks
from .wasm.programs import DEFAULT_PATH, Program
from .wasm.runtime import shared_runtime
from .wasm.spawn import create_process

__all__ = ["ClientProcesses", "PipedProcess"]

_RETAINED_STATUSES = 1024
# PATH as programs.DEFAULT_PATH: /usr/local/bin first, where users install tools.
# NO_COLOR/TERM=dumb: output is captured, not shown on a terminal, so programs that
# colour their messages (uutils' `error:` in red) must not put escape codes in it.
_DEFAULT_ENV = {
    "PATH": DEFAULT_PATH, "HOME": "/home/user", "USER": "user", "SHELL": "/bin/sh", "NO_COLOR": "1", "TERM": "dumb",
}
TIMEOUT_EXIT_CODE = 124
# what a program the shell would report on (not found, not executable...) fails with
_NOT_STARTED = frozenset({"ENOENT", "EACCES", "ENOEXEC", "ELOOP", "ENOTDIR"})
# After a timeout's SIGKILL: how long to wait for the exit status before answering.
_KILL_GRACE_SECONDS = 2.0
_KILL_POLL_SECONDS = 0.01
_OUTPUT_CHUNK = 65536  # largest process.output event

EmitFn = Callable[[Event], Awaitable[None]]


class _ExecStdio:
    """An exec's stdin, stdout and stderr (kernel/exec_stdio.py); ``ended`` is set
    once both outputs are closed: by the process, and by all it started that
    inherited them. ``on_ended`` runs then, on the thread that closed the last."""

    def __init__(self, stdin: bytes, keep: int, on_ended: Callable[[], None]) -> None:
        self.ended = QuietEvent()
        self._on_ended = on_ended
        self._open = 2
        self._lock = threading.Lock()
        self.stdout = OutputCapture(keep, self._closed)
        self.stderr = OutputCapture(keep, self._closed)
        self.descriptions = (StdinBytes(stdin), self.stdout, self.stderr)

    def _closed(self) -> None:  # on the thread that closed it
        with self._lock:
            self._open -= 1
            ended = self._open == 0
        if ended:
            self.ended.set()
            self._on_ended()

    def result(self, status: ExitStatus, timed_out: bool) -> ProcessExecResult:
        """The exec's answer: what the outputs kept, and how the process ended."""
        (stdout, out_truncated), (stderr, err_truncated) = self.stdout.output(), self.stderr.output()
        return ProcessExecResult(
            exit_code=TIMEOUT_EXIT_CODE if timed_out else status.shell_code,
            stdout=stdout,
            stderr=stderr,
            signal=_signal_name(status),
            timed_out=timed_out,
            truncated=out_truncated or err_truncated,
        )


class _Launch:
    """An exec's process as trio sees it: created and run on a guest thread, which
    reports only its failure to start; trio hears of the process once, at its exit
    (``_exited``), unless it asks for it before (``process``: to kill it). A launch
    that is not ``quiet`` wakes trio at creation too (it holds a worker token).

    When the process has exited and its output ended, the thread that saw the last
    of the two sends the exec's answer (``answer``, rpc/early_answers.py) before
    trio hears of either."""

    def __init__(self, quiet: bool, stdin: bytes, keep: int, answer: EarlyAnswer | None) -> None:
        self.quiet = quiet
        self.stdio = _ExecStdio(stdin, keep, self._finish)
        self.answer = answer
        self.proc: Process | None = None
        self.error: BaseException | None = None
        self.created = QuietEvent()  # created or failed
        self.ended = QuietEvent()  # exited or failed
        self._status: ExitStatus | None = None  # set on the exiting thread
        self._lock = threading.Lock()
        self._finished = False

    def report(self, result: Process | BaseException) -> None:
        """On the guest thread: the process, before it runs, or why it did not start."""
        if isinstance(result, BaseException):
            self.error = result
            self.created.set()
            self.ended.set()
        else:
            self.proc = result
            self.created.set()

    def exited(self, status: ExitStatus) -> None:
        """On the exiting guest thread (the kernel's exit listener)."""
        self._status = status
        self._finish()

    def _finish(self) -> None:
        with self._lock:
            if self._finished or self._status is None or not self.stdio.ended.is_set():
                return
            self._finished = True
        if self.answer is not None:
            self.answer.send(self.stdio.result(self._status, timed_out=False))

    async def process(self) -> Process | None:
        """The process (None: it failed to start), once created. Cancel-safe:
        a creation under way is waited for, as it will not take long."""
        with trio.CancelScope(shield=True):
            await self.created.wait()
        return self.proc


@dataclass(eq=False)
class PipedProcess:
    """A client process and the sidecar's ends of its stdio pipes (non-blocking,
    retained: whoever reads one releases it when done). ``exited`` is set once the
    process has exited and been reaped; its status is then ``exit_status(pid)``."""

    proc: Process
    stdin: Description | None
    stdout: Description
    stderr: Description
    exited: trio.Event = field(default_factory=trio.Event)
    window: OutputWindow = field(default_factory=lambda: OutputWindow(OUTPUT_WINDOW_BYTES))


class ClientProcesses:
    """The wire-started processes of one VM."""

    def __init__(
        self, vm_id: str, kernel: Kernel, env: dict[str, str], cwd: str, tasks: VmTasks,
        threads: trio.CapacityLimiter,
    ) -> None:
        self._vm_id = vm_id
        self._threads = threads
        self._kernel = kernel
        self._env = {**_DEFAULT_ENV, **env}
        self._cwd = cwd
        self._tasks = tasks
        self._running: dict[int, PipedProcess] = {}
        # oldest first; a dict: an empty OrderedDict is 208 bytes of every VM
        self._statuses: dict[int, ExitStatus] = {}
        # execs (pid -> _Launch), entered by the guest thread that created the
        # process, before it runs; left when trio hears of its exit
        self._launches: dict[int, _Launch] = {}
        self._launches_lock = threading.Lock()
        self._quiet_creations = 0
        self._max_quiet_creations = threads.total_tokens
        token = thread_wakeups()

        def on_exit(proc: Process) -> None:
            if proc.spawned_by_client:
                with self._launches_lock:
                    launch = self._launches.get(proc.pid)
                if launch is not None:
                    assert proc.status is not None
                    kernel.processes.reap(proc.pid)  # before its answer: no zombie to see after it
                    launch.exited(proc.status)
                try:
                    token.run_sync_soon(self._exited, proc)
                except trio.RunFinishedError:
                    pass

        kernel.processes.on_exit(on_exit)

    def env_with(self, overrides: dict[str, str]) -> dict[str, str]:
        """The environment a process started with ``overrides`` gets."""
        return {**self._env, **overrides}

    def set_default_env(self, name: str, value: str) -> None:
        """Set one variable of the environment every later process starts with."""
        self._env[name] = value

    def _exited(self, proc: Process) -> None:
        # Reaped even when no request waits for it any more (an exec that timed
        # out or was cancelled): a zombie would hold a process slot for good.
        assert proc.status is not None
        self._statuses[proc.pid] = proc.status
        while len(self._statuses) > _RETAINED_STATUSES:
            del self._statuses[next(iter(self._statuses))]
        self._kernel.processes.reap(proc.pid)
        running = self._running.get(proc.pid)
        if running is not None:
            running.exited.set()
        with self._launches_lock:
            launch = self._launches.pop(proc.pid, None)
        if launch is not None:
            launch.ended.set()

    def _attempts(
        self, params: ProcessExecParams | ProcessSpawnParams, gated: bool
    ) -> Callable[[], list[tuple[list[str], str, dict[str, str]]]]:
        """What to try to start, in order (argv, the program's path, env), as a
        function for the guest thread to call (it parses the command there, off
        trio's thread). A plain command runs its program directly, and falls back
        to its shell when that cannot start (plain_command.py); a gated process's
        own spawns are what its gate sees, so a gated command keeps its shell.

        Raises: invalid_params (not exactly one of command and argv)."""
        command, argv = params.command, params.argv
        if (command is None) == (argv is None):
            raise RpcError("invalid_params", "give exactly one of command and argv")
        env = dict(params.env) if params.exact_env else {**self._env, **params.env}

        def attempts() -> list[tuple[list[str], str, dict[str, str]]]:
            if command is None:
                args = list(argv or [])
                return [(args, args[0], env)]
            shell = (["sh", "-c", command], "/bin/sh", env)
            words = None if gated else plain_words(command, env)
            return [shell] if words is None else [(words, words[0], shell_env(env)), shell]

        return attempts

    def _create(
        self, attempts: Callable[[], list[tuple[list[str], str, dict[str, str]]]], cwd: str | None,
        stdio: tuple[Description, Description, Description], spawn_gate: Callable[[list[str], str], None] | None,
    ) -> tuple[Process, Program]:
        """Create the process (on its guest thread) with ``stdio`` as fds 0-2: the
        first of ``attempts`` that starts; one that cannot (not found, not
        executable) gives way to the next, whose error is the answer.

        Raises: KernelError as create_process; ENFILE (the VM's fd budget)."""
        kernel = self._kernel
        for desc in stdio:  # a failed attempt closes its fd table; they outlive it
            desc.retain()
        try:
            tries = attempts()
            directory = _directory(kernel, cwd or self._cwd)
            for number, (args, exec_path, env) in enumerate(tries, 1):
                fds = kernel.new_fd_table()
                try:
                    for fd, desc in enumerate(stdio):
                        fds.install_at(fd, desc)
                except BaseException:
                    fds.close_all()
                    raise
                try:
                    return create_process(
                        kernel, ppid=0, exec_path=exec_path, argv=args, env=env, cwd=directory, fds=fds,
                        cred=USER, spawned_by_client=True, spawn_gate=spawn_gate,
                    )
                except KernelError as exc:
                    if number == len(tries) or exc.errno not in _NOT_STARTED:
                        raise
            raise AssertionError("no attempt")  # attempts() gives at least one
        finally:
            for desc in stdio:
                desc.release()

    async def _start(
        self, params: ProcessExecParams | ProcessSpawnParams, spawn_gate: Callable[[list[str], str], None] | None = None,
    ) -> PipedProcess:
        """Start a process with fresh pipes as its stdio; the sidecar's ends are returned."""
        attempts = self._attempts(params, spawn_gate is not None)
        kernel = self._kernel
        stdin_r, stdin_w = kernel.make_pipe()
        stdout_r, stdout_w = kernel.make_pipe()
        stderr_r, stderr_w = kernel.make_pipe()
        ours = (stdin_w, stdout_r, stderr_r)
        for desc in ours:
            desc.retain()
            desc.nonblocking = True
        try:
            proc = await self._create_and_run(
                lambda: self._create(attempts, params.cwd, (stdin_r, stdout_w, stderr_w), spawn_gate)
            )
        except BaseException:
            for desc in ours:
                desc.release()
            raise
        running = PipedProcess(proc, stdin_w, stdout_r, stderr_r)
        self._running[proc.pid] = running
        if proc.status is not None:  # exited before we registered it
            self._exited(proc)
        return running

    async def _create_and_run(self, create: Callable[[], tuple[Process, Program]]) -> Process:
        """Run ``create`` and then its process on a new guest thread (one thread
        hand-off: GuestRuntime.create_and_run); wait for the process or the spawn
        error. Uncancellable, as a worker thread's call: a cancelled wait must not
        leave a started process nobody registered. Holds one of the VM's worker
        thread tokens while ``create`` runs, as resolving a program on a worker did."""
        token = thread_wakeups()
        done = trio.Event()
        outcome: list[Process | BaseException] = []

        def report(result: Process | BaseException) -> None:
            outcome.append(result)
            try:
                token.run_sync_soon(done.set)
            except trio.RunFinishedError:
                pass

        try:  # a free token is taken without a scheduler round before the hand-off
            self._threads.acquire_nowait()
        except trio.WouldBlock:
            await self._threads.acquire()
        try:
            shared_runtime().create_and_run(self._kernel, create, report)
            with trio.CancelScope(shield=True):
                await done.wait()
        finally:
            self._threads.release()
        result = outcome[0]
        if isinstance(result, BaseException):
            raise result
        return result

    async def start_piped(
        self, *, command: str | None, argv: list[str] | None, cwd: str | None, env: dict[str, str],
        spawn_gate: Callable[[list[str], str], None] | None = None,
    ) -> PipedProcess:
        """Start a process whose stdio the caller drives itself (the ACP layer's agents
        and terminals): it owns the returned pipe ends and releases them.
        ``spawn_gate``: see Process.spawn_gate.

        Raises: invalid_params (not exactly one of command/argv); KernelError as spawn.
        """
        params = ProcessSpawnParams(vm_id=self._vm_id, command=command, argv=argv, cwd=cwd, env=env)
        running = await self._start(params, spawn_gate)
        self._tasks.start_soon(self._forget_when_exited, running)
        return running

    async def _forget_when_exited(self, running: PipedProcess) -> None:
        await running.exited.wait()
        self._running.pop(running.proc.pid, None)

    def exit_status(self, pid: int) -> ExitStatus | None:
        """How an exited client process ended (kept for the last 1024 exits)."""
        return self._statuses.get(pid)

    async def spawn(self, params: ProcessSpawnParams, emit: EmitFn) -> int:
        """Start a process whose output streams as events. Returns its pid."""
        running = await self._start(params)
        self._tasks.start_soon(self._stream, running, emit)
        return running.proc.pid

    async def _stream(self, running: PipedProcess, emit: EmitFn) -> None:
        pid = running.proc.pid
        window = running.window

        async def pump(desc: Description, stream: str) -> None:
            try:
                while True:
                    allowed = await window.take(_OUTPUT_CHUNK)
                    data = await read_some(desc, allowed)
                    window.give(allowed - len(data))
                    if not data:
                        return
                    await emit(ProcessOutputEvent(vm_id=self._vm_id, pid=pid, stream=stream, data=data))  # type: ignore[arg-type]
            finally:
                desc.release()

        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(pump, running.stdout, "stdout")
                nursery.start_soon(pump, running.stderr, "stderr")
                await running.exited.wait()
        finally:
            _release_stdin(running)
        self._running.pop(pid, None)
        status = self._statuses.get(pid, ExitStatus(0, 9))
        await emit(ProcessExitEvent(vm_id=self._vm_id, pid=pid, exit_code=status.shell_code, signal=_signal_name(status)))

    def exec(self, params: ProcessExecParams) -> Awaitable[ProcessExecResult]:
        """Run a process to completion; see ProcessExecParams. Starts it at once,
        before returning what to await for its result: a handler calls this from
        the connection's reader (rpc/connection.py), so the process is on its way
        while trio starts the request's task.

        ``timeout_ms`` bounds everything: the process, whatever it started (the
        whole session is killed), and the wait for their output to end, so a
        background child still holding stdout cannot stretch it either. A
        cancelled request ($/cancelRequest, dispose) kills the session too.

        The process reads its stdin from the request and writes into buffers
        (kernel/exec_stdio.py), is created and run on its guest thread, and trio
        hears of it once, when it exits (_Launch); its thread sends the answer
        (rpc/early_answers.py). Raises: invalid_params (as the awaited result).
        """
        attempts = self._attempts(params, gated=False)
        launch = _Launch(self._take_quiet_creation(), params.stdin or b"", params.max_output_bytes, early_answer())
        if launch.quiet:
            self._hand_off(launch, attempts, params.cwd)
        return self._exec_to_end(launch, attempts, params)

    def _hand_off(self, launch: _Launch, attempts: Callable[[], list[tuple[list[str], str, dict[str, str]]]],
                  cwd: str | None) -> None:
        """Create and run ``launch``'s process on a guest thread."""

        def create() -> tuple[Process, Program]:
            try:
                proc, program = self._create(attempts, cwd, launch.stdio.descriptions, None)
                with self._launches_lock:
                    self._launches[proc.pid] = launch
                return proc, program
            finally:
                if launch.quiet:
                    with self._launches_lock:
                        self._quiet_creations -= 1

        shared_runtime().create_and_run(self._kernel, create, launch.report)

    async def _exec_to_end(
        self, launch: _Launch, attempts: Callable[[], list[tuple[list[str], str, dict[str, str]]]],
        params: ProcessExecParams,
    ) -> ProcessExecResult:
        if not launch.quiet:  # too many creations under way: the classic hand-off, holding a token
            await self._threads.acquire()
            try:
                self._hand_off(launch, attempts, params.cwd)
                with trio.CancelScope(shield=True):
                    await launch.created.wait()
            finally:
                self._threads.release()
        answer = launch.answer
        timed_out = False
        try:
            with trio.move_on_after(params.timeout_ms / 1000 if params.timeout_ms else math.inf) as deadline:
                await launch.ended.wait()
                await launch.stdio.ended.wait()
            timed_out = deadline.cancelled_caught
            if timed_out:
                if answer is not None:
                    answer.withdraw()  # what the killed process ends with is not the answer
                proc = await launch.process()
                if proc is not None:
                    await self._end_session(proc.pid, launch.ended.wait)
        except BaseException:
            # Cancelled or failed: nothing it started may outlive the request.
            if answer is not None:
                answer.withdraw()
            proc = await launch.process()
            if proc is not None:
                self._kernel.processes.kill_session(proc.pid, 9)
            raise
        if launch.error is not None:
            raise launch.error
        assert launch.proc is not None
        return launch.stdio.result(self._statuses.get(launch.proc.pid, ExitStatus(0, 9)), timed_out)

    def _take_quiet_creation(self) -> bool:
        """Whether one more exec may be created without a worker thread token (at
        most VM_WORKER_THREADS at once: each is a thread resolving its program)."""
        with self._launches_lock:
            if self._quiet_creations >= self._max_quiet_creations:
                return False
            self._quiet_creations += 1
            return True

    def _get(self, pid: int) -> PipedProcess:
        running = self._running.get(pid)
        if running is None:
            raise RpcError("not_found", f"no running client process {pid}")
        return running

    def ack_output(self, pid: int, consumed: int) -> None:
        """The client consumed ``consumed`` bytes of ``pid``'s output events."""
        running = self._running.get(pid)
        if running is not None:
            running.window.give(consumed)

    async def write_stdin(self, pid: int, data: bytes) -> None:
        """Raises: not_found; KernelError EPIPE once stdin is closed or the process exited."""
        running = self._get(pid)
        if running.stdin is None:
            raise KernelError.epipe()
        await write_all(running.stdin, data)

    async def close_stdin(self, pid: int) -> None:
        _release_stdin(self._get(pid))
        await trio.lowlevel.checkpoint()

    async def _end_session(self, sid: int, exited: Callable[[], Awaitable[None]]) -> None:
        """SIGKILL session ``sid`` until none of it runs (a dying session starts
        nothing new), waiting at most ``_KILL_GRACE_SECONDS``; then for the
        leader's exit status to arrive (``exited``)."""
        with trio.move_on_after(_KILL_GRACE_SECONDS):
            while self._kernel.processes.kill_session(sid, 9):
                await trio.sleep(_KILL_POLL_SECONDS)
            await exited()

    def kill(self, pid: int, signal: int) -> None:
        """Signal the process and everything it started (its session), also
        after the process itself exited while others of its session still run.

        Raises: not_found (not a client process, or its whole session ended).
        """
        if not self._kernel.processes.kill_session(pid, signal) and pid not in self._running:
            raise RpcError("not_found", f"no running client process or session {pid}")

    async def wait(self, pid: int, timeout_ms: int | None) -> ExitStatus:
        """Raises: not_found (never started here), timeout."""
        running = self._running.get(pid)
        if running is not None:
            with trio.move_on_after(timeout_ms / 1000 if timeout_ms else float("inf")):
                await running.exited.wait()
            if not running.exited.is_set():
                raise RpcError("timeout", f"process {pid} still running after {timeout_ms} ms")
        else:
            await trio.lowlevel.checkpoint()
        status = self._statuses.get(pid)
        if status is None:
            raise RpcError("not_found", f"no client process {pid}")
        return status



def _release_stdin(running: PipedProcess) -> None:
    stdin, running.stdin = running.stdin, None
    if stdin is not None:
        stdin.release()


def _directory(kernel: Kernel, path: str) -> str:
    """The canonical path of directory ``path``, as the guest user resolves it.

    Raises: KernelError ENOENT, ENOTDIR, EACCES (with the path).
    """
    real, st = kernel.vfs.resolve(path, cred=USER)
    if not st.is_dir:
        raise KernelError.enotdir(path)
    return real


def _signal_name(status: ExitStatus) -> SignalName | None:
    return SIGNAL_NAMES.get(status.signal) if status.signal else None  # type: ignore[return-value]
