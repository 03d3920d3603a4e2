"""ACP ``terminal/*``: commands an agent runs in the VM as real processes.

https://agentclientprotocol.com/protocol/terminals. ``terminal/create`` starts
``command`` with ``args`` (a program looked up in PATH, not a shell line) and
returns at once; stdout and stderr are read into ONE buffer, as a terminal shows
them. The buffer keeps at most ``outputByteLimit`` bytes (and never more than
``MAX_TERMINAL_OUTPUT_BYTES``): "When the limit is exceeded, the Client truncates
from the beginning of the output to stay within the limit. The Client MUST ensure
truncation happens at a character boundary", so the kept bytes never start in the
middle of a UTF-8 sequence. ``terminal/kill`` stops the command but keeps the
terminal; ``terminal/release`` kills it if needed and forgets it. A session has at
most ``MAX_TERMINALS`` terminals at once; releasing one frees its slot. Closing the
session releases them all.
"""

from __future__ import annotations

import itertools

import msgspec
import trio

from ..client_processes import ClientProcesses, PipedProcess
from ..kernel.errors import KernelError
from ..kernel.process import SIGNAL_NAMES
from ..kernel_io import read_some
from ..rpc.errors import RpcError

__all__ = [
    "MAX_TERMINALS",
    "MAX_TERMINAL_OUTPUT_BYTES",
    "CreateTerminalParams",
    "TerminalParams",
    "Terminals",
]

MAX_TERMINAL_OUTPUT_BYTES = 1024 * 1024
MAX_TERMINALS = 16
_SIGKILL = 9


class EnvVariable(msgspec.Struct):
    name: str
    value: str


class CreateTerminalParams(msgspec.Struct, rename="camel"):
    session_id: str
    command: str
    args: list[str] = []
    env: list[EnvVariable] = []
    cwd: str | None = None
    output_byte_limit: int | None = None


class TerminalParams(msgspec.Struct, rename="camel"):
    session_id: str
    terminal_id: str


class _Terminal:
    def __init__(self, piped: PipedProcess, limit: int) -> None:
        self.piped = piped
        self.limit = limit
        self.output = bytearray()
        self.truncated = False
        self.scope = trio.CancelScope()
        self.drained = trio.Event()

    def add(self, data: bytes) -> None:
        self.output += data
        excess = len(self.output) - self.limit
        if excess > 0:
            self.truncated = True
            # skip UTF-8 continuation bytes so the kept text starts on a character
            while excess < len(self.output) and self.output[excess] & 0xC0 == 0x80:
                excess += 1
            del self.output[:excess]


class Terminals:
    """The terminals of one session."""

    def __init__(self, processes: ClientProcesses, default_cwd: str, nursery: trio.Nursery) -> None:
        self._processes = processes
        self._default_cwd = default_cwd
        self._nursery = nursery
        self._terminals: dict[str, _Terminal] = {}
        self._ids = itertools.count(1)

    async def create(self, p: CreateTerminalParams) -> dict[str, str]:
        """Start the command. Raises: KernelError (ENOENT, EAGAIN; EMFILE when the
        session has MAX_TERMINALS already)."""
        if len(self._terminals) >= MAX_TERMINALS:
            raise KernelError("EMFILE", f"a session has at most {MAX_TERMINALS} terminals; release one")
        limit = MAX_TERMINAL_OUTPUT_BYTES if p.output_byte_limit is None else min(p.output_byte_limit, MAX_TERMINAL_OUTPUT_BYTES)
        piped = await self._processes.start_piped(
            command=None, argv=[p.command, *p.args], cwd=p.cwd or self._default_cwd, env={e.name: e.value for e in p.env}
        )
        _close_stdin(piped)
        terminal = _Terminal(piped, limit)
        terminal_id = f"term-{next(self._ids)}"
        self._terminals[terminal_id] = terminal
        self._nursery.start_soon(self._collect, terminal)
        return {"terminalId": terminal_id}

    async def _collect(self, terminal: _Terminal) -> None:
        async def pump(desc: object) -> None:
            try:
                while data := await read_some(desc):  # type: ignore[arg-type]
                    terminal.add(data)
            finally:
                desc.release()  # type: ignore[attr-defined]

        with terminal.scope:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(pump, terminal.piped.stdout)
                nursery.start_soon(pump, terminal.piped.stderr)
        terminal.drained.set()

    def _get(self, terminal_id: str) -> _Terminal:
        terminal = self._terminals.get(terminal_id)
        if terminal is None:
            raise KernelError("ENOENT", f"no terminal {terminal_id!r}")
        return terminal

    def _exit_status(self, terminal: _Terminal) -> dict[str, object] | None:
        if not terminal.piped.exited.is_set():
            return None
        status = self._processes.exit_status(terminal.piped.proc.pid)
        if status is None:
            return {"exitCode": None, "signal": None}
        if status.signal:
            return {"exitCode": None, "signal": SIGNAL_NAMES.get(status.signal, str(status.signal))}
        return {"exitCode": status.exit_code, "signal": None}

    async def output(self, p: TerminalParams) -> dict[str, object]:
        """The output so far, whether it was truncated, and the exit status once exited."""
        terminal = self._get(p.terminal_id)
        await trio.lowlevel.checkpoint()
        result: dict[str, object] = {
            "output": terminal.output.decode("utf-8", "replace"),
            "truncated": terminal.truncated,
        }
        status = self._exit_status(terminal)
        if status is not None:
            result["exitStatus"] = status
        return result

    async def wait_for_exit(self, p: TerminalParams) -> dict[str, object]:
        """Wait for the command to exit (the session's request timeout bounds it)."""
        terminal = self._get(p.terminal_id)
        await terminal.piped.exited.wait()
        with trio.move_on_after(1.0):  # output written just before the exit
            await terminal.drained.wait()
        status = self._exit_status(terminal)
        assert status is not None
        return status

    async def kill(self, p: TerminalParams) -> dict[str, object]:
        """SIGKILL the command and what it started; the terminal stays readable."""
        terminal = self._get(p.terminal_id)
        self._kill(terminal)
        await trio.lowlevel.checkpoint()
        return {}

    async def release(self, p: TerminalParams) -> dict[str, object]:
        """Kill the command if it still runs and forget the terminal."""
        terminal = self._terminals.pop(p.terminal_id, None)
        if terminal is None:
            raise KernelError("ENOENT", f"no terminal {p.terminal_id!r}")
        self._kill(terminal)
        terminal.scope.cancel()
        await trio.lowlevel.checkpoint()
        return {}

    def release_all(self) -> None:
        """The session ends: kill and forget every terminal."""
        for terminal in self._terminals.values():
            self._kill(terminal)
            terminal.scope.cancel()
        self._terminals.clear()

    def _kill(self, terminal: _Terminal) -> None:
        if not terminal.piped.exited.is_set():
            try:
                self._processes.kill(terminal.piped.proc.pid, _SIGKILL)
            except RpcError:  # exited meanwhile (not_found)
                pass


def _close_stdin(piped: PipedProcess) -> None:
    stdin, piped.stdin = piped.stdin, None
    if stdin is not None:
        stdin.release()
