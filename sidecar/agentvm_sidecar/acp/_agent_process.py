"""An agent's process in the VM, as the ACP layer sees it: bytes out of stdout,
bytes into stdin, a bounded tail of stderr, and a way to stop it.

The process is an ordinary client process (client_processes.py starts it and
reaps it); the sidecar holds the non-blocking ends of its three pipes and reads
them from trio (kernel_io.py), so a silent or flooding agent never blocks the
loop. stderr is drained all the time (an agent blocked on a full stderr pipe
would look hung) but only its last ``STDERR_TAIL_BYTES`` are kept, for error
messages.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import trio

from ..client_processes import ClientProcesses, PipedProcess
from ..kernel.errors import KernelError
from ..kernel.process import ExitStatus
from ..kernel_io import read_some, write_all
from ..rpc.errors import RpcError

__all__ = ["STDERR_TAIL_BYTES", "AgentProcess"]

STDERR_TAIL_BYTES = 4096
_SIGTERM, _SIGKILL = 15, 9


class AgentProcess:
    """One running agent. Create with :meth:`start`; ``stop`` ends it."""

    def __init__(self, processes: ClientProcesses, piped: PipedProcess) -> None:
        self._processes = processes
        self._piped = piped
        self._stderr_tail = bytearray()
        self.pid = piped.proc.pid

    @classmethod
    async def start(cls, processes: ClientProcesses, *, argv: list[str] | None, command: str | None,
                    cwd: str | None, env: dict[str, str], nursery: trio.Nursery,
                    spawn_gate: Callable[[list[str], str], None] | None = None) -> AgentProcess:
        """Spawn the agent; its stderr is drained by a task in ``nursery``.
        ``spawn_gate``: see Process.spawn_gate.

        Raises: invalid_params, KernelError (ENOENT for a missing program...).
        """
        piped = await processes.start_piped(command=command, argv=argv, cwd=cwd, env=env, spawn_gate=spawn_gate)
        agent = cls(processes, piped)
        nursery.start_soon(agent._drain_stderr)
        return agent

    @property
    def exited(self) -> bool:
        return self._piped.exited.is_set()

    @property
    def stderr_tail(self) -> str:
        """The last bytes the agent wrote to stderr, decoded leniently."""
        return self._stderr_tail.decode("utf-8", "replace").strip()

    def status(self) -> ExitStatus | None:
        return self._processes.exit_status(self.pid) if self.exited else None

    async def read_stdout(self) -> bytes:
        """Some of what the agent wrote to stdout; b"" at end of file."""
        return await read_some(self._piped.stdout)

    async def write_stdin(self, data: bytes) -> bool:
        """Write ``data`` to the agent's stdin; False when it no longer reads it."""
        stdin = self._piped.stdin
        if stdin is None:
            await trio.lowlevel.checkpoint()
            return False
        try:
            await write_all(stdin, data)
        except KernelError as exc:
            if exc.errno != "EPIPE":
                raise
            return False
        return True

    def close_stdin(self) -> None:
        stdin, self._piped.stdin = self._piped.stdin, None
        if stdin is not None:
            stdin.release()

    def signal(self, sig: int) -> None:
        """Signal the agent and everything it started."""
        if not self.exited:
            try:
                self._processes.kill(self.pid, sig)
            except RpcError:
                pass  # exited meanwhile

    async def wait(self, timeout: float = math.inf) -> bool:
        """Wait up to ``timeout`` seconds for the exit; True once exited."""
        with trio.move_on_after(timeout):
            await self._piped.exited.wait()
        return self.exited

    async def stop(self, grace: float) -> ExitStatus:
        """End the agent: close stdin, then SIGTERM, then SIGKILL, waiting ``grace``
        seconds before each escalation. Returns how it ended."""
        self.close_stdin()
        if not await self.wait(grace):
            self.signal(_SIGTERM)
            if not await self.wait(grace):
                self.signal(_SIGKILL)
                await self.wait()
        return self.status() or ExitStatus(0, _SIGKILL)

    def release(self) -> None:
        """Let go of the stdout pipe end (the reader is done with it)."""
        self.close_stdin()
        self._piped.stdout.release()

    async def _drain_stderr(self) -> None:
        desc = self._piped.stderr
        try:
            while data := await read_some(desc):
                self._stderr_tail += data
                del self._stderr_tail[:-STDERR_TAIL_BYTES]
        finally:
            desc.release()
