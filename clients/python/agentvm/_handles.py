"""VM and process handles (async): ``vm = await client.create_vm(); await vm.exec(...)``.

Thin sugar over the flat namespaces, in the style of sandbox SDKs: a handle remembers
its ``vm_id``/``pid`` and each method is one flat call (``vm.fs.write`` is
``client.fs.write_file(vm.vm_id, ...)``). What handles add is process output that
cannot be missed: :meth:`AsyncVm.spawn` subscribes to the VM's process events *before*
sending ``process.spawn`` and narrows the subscription to the new pid once it is
known, so output that arrives before the spawn answer is kept (a listener that
filters by the returned pid would have dropped it). The blocking twins are in
``_sync_handles.py``.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

import trio

import agentvm_protocol as p

from ._api import DEFAULT_EXEC_TIMEOUT_MS
from ._bytes_fields import BytesLike
from ._errors import SidecarError

if TYPE_CHECKING:
    from ._client import AsyncClient
    from ._events import EventSubscription

__all__ = ["DEFAULT_CHUNK_BYTES", "AsyncProcess", "AsyncVm", "AsyncVmFs", "OutputCallback"]

OutputCallback = Callable[[bytes], Awaitable[None] | None]
"""Called with each chunk of a stream's output, in order (plain or async function)."""

DEFAULT_CHUNK_BYTES = 4 * 1024 * 1024
"""Bytes per request when :meth:`AsyncVmFs.upload` / ``download`` stream a file."""


def _process_events_of(vm_id: str, pid: int | None = None) -> Callable[[Any], bool]:
    def accept(event: Any) -> bool:
        return (
            isinstance(event, (p.ProcessOutputEvent, p.ProcessExitEvent))
            and event.vm_id == vm_id
            and (pid is None or event.pid == pid)
        )

    return accept


class AsyncVmFs:
    """``vm.fs``: the VM's files (each method is one ``client.fs.*`` call)."""

    def __init__(self, client: AsyncClient, vm_id: str) -> None:
        self._fs = client.fs
        self._vm_id = vm_id

    async def write(self, path: str, data: BytesLike, *, create_dirs: bool = True, mode: int = 0o644) -> None:
        """Create or replace a file, making missing parent directories (unless
        ``create_dirs=False``). ``data`` is bytes, or a ``str`` written as UTF-8."""
        await self._fs.write_file(self._vm_id, path, data, create_dirs=create_dirs, mode=mode)

    async def read(self, path: str) -> bytes:
        """A whole file's bytes."""
        return (await self._fs.read_file(self._vm_id, path)).data

    async def exists(self, path: str) -> bool:
        """Whether ``path`` exists."""
        return (await self._fs.exists(self._vm_id, path)).exists

    async def mkdir(self, path: str, *, recursive: bool = True) -> None:
        """Create a directory (with its parents unless ``recursive=False``)."""
        await self._fs.mkdir(self._vm_id, path, recursive=recursive)

    async def list(self, path: str) -> list[p.FsDirEntry]:
        """A directory's entries."""
        return (await self._fs.readdir(self._vm_id, path)).entries

    async def delete(self, path: str, *, recursive: bool = False) -> None:
        """Delete a file or empty directory (a tree with ``recursive``)."""
        await self._fs.delete(self._vm_id, path, recursive=recursive)

    async def upload(
        self, local_path: str | os.PathLike[str], vm_path: str, *, chunk_bytes: int = DEFAULT_CHUNK_BYTES
    ) -> int:
        """Copy a host file of any size into the VM, ``chunk_bytes`` per request (the
        first replaces ``vm_path``, making its parents; the rest append), so neither
        side holds more than a chunk. Returns the bytes copied."""
        total = 0
        async with await trio.open_file(local_path, "rb") as source:
            while True:
                chunk = await source.read(chunk_bytes)
                if total and not chunk:
                    return total
                await self._fs.write_file(self._vm_id, vm_path, chunk, create_dirs=total == 0, append=total > 0)
                total += len(chunk)
                if not chunk:
                    return total  # an empty file: created, nothing more to send

    async def download(
        self, vm_path: str, local_path: str | os.PathLike[str], *, chunk_bytes: int = DEFAULT_CHUNK_BYTES
    ) -> int:
        """Copy a VM file of any size to the host, ``chunk_bytes`` per request, until
        the size the VM reported; returns the bytes copied."""
        offset = 0
        async with await trio.open_file(local_path, "wb") as target:
            while True:
                piece = await self._fs.read_file(self._vm_id, vm_path, offset=offset, length=chunk_bytes)
                await target.write(piece.data)
                offset += len(piece.data)
                if not piece.data or offset >= piece.size:
                    return offset


class AsyncProcess:
    """A process started by :meth:`AsyncVm.spawn`.

    Its output comes either to the ``on_stdout``/``on_stderr`` callbacks given to
    ``spawn`` or, without callbacks, from iterating the process (``async for chunk
    in process``: :class:`ProcessOutputEvent` chunks, in order, ending at exit).
    :meth:`wait` returns the exit status (and drops output nobody iterated). Output
    is flow-controlled: an iterator read slowly slows this process only.
    """

    def __init__(
        self, client: AsyncClient, vm_id: str, pid: int, events: EventSubscription,
        on_stdout: OutputCallback | None, on_stderr: OutputCallback | None,
    ) -> None:
        self._client = client
        self.vm_id = vm_id
        self.pid = pid
        self._events = events
        self._callbacks = {"stdout": on_stdout, "stderr": on_stderr}
        self._pumped = on_stdout is not None or on_stderr is not None
        self._exit: p.ProcessWaitResult | None = None
        self._exited = trio.Event()
        self._callback_error: BaseException | None = None
        if self._pumped:
            client._conn.start_soon(self._pump)

    @property
    def exit(self) -> p.ProcessWaitResult | None:
        """How the process ended, once its exit has been seen (else None)."""
        return self._exit

    async def _next_event(self) -> p.ProcessOutputEvent | None:
        """The next output chunk, or None once the process exited (and then always)."""
        if self._exit is not None:
            await trio.lowlevel.checkpoint()
            return None
        try:
            event = await self._events.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError):
            raise self._client._conn.closed_error or SidecarError("exited", "client is closed") from None
        if isinstance(event, p.ProcessExitEvent):
            self._exit = p.ProcessWaitResult(exit_code=event.exit_code, signal=event.signal)
            self._client._conn.close_subscription(self._events)
            self._exited.set()
            return None
        return event

    async def _pump(self) -> None:
        try:
            while (event := await self._next_event()) is not None:
                callback = self._callbacks[event.stream]
                if callback is not None and self._callback_error is None:
                    try:
                        result = callback(event.data)
                        if inspect.isawaitable(result):
                            await result
                    except Exception as exc:  # reported by wait(); the process keeps running
                        self._callback_error = exc
        except SidecarError:
            self._exited.set()

    def __aiter__(self) -> AsyncIterator[p.ProcessOutputEvent]:
        if self._pumped:
            raise RuntimeError("this process's output goes to its on_stdout/on_stderr callbacks")
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[p.ProcessOutputEvent]:
        while (event := await self._next_event()) is not None:
            yield event

    async def wait(self) -> p.ProcessWaitResult:
        """Block until the process exits; returns its exit code and signal.

        Raises:
            SidecarError: the sidecar went away first.
            Exception: whatever an output callback raised (the first one).
        """
        if self._pumped:
            await self._exited.wait()
        else:
            while await self._next_event() is not None:
                pass
        if self._callback_error is not None:
            raise self._callback_error
        if self._exit is None:
            raise self._client._conn.closed_error or SidecarError("exited", "client is closed")
        return self._exit

    async def kill(self, signal: p.SignalName = "SIGTERM") -> None:
        """Send ``signal`` to the process and everything it started."""
        await self._client.process.kill(self.vm_id, self.pid, signal)

    async def write_stdin(self, data: BytesLike) -> None:
        """Write to its stdin (bytes, or ``str`` as UTF-8); waits while the pipe is full."""
        await self._client.process.write_stdin(self.vm_id, self.pid, data)

    async def close_stdin(self) -> None:
        """Close its stdin; it reads end of file."""
        await self._client.process.close_stdin(self.vm_id, self.pid)


class AsyncVm:
    """A VM made by :meth:`AsyncClient.create_vm`. ``async with`` disposes it."""

    def __init__(self, client: AsyncClient, vm_id: str) -> None:
        self._client = client
        self.vm_id = vm_id
        self.fs = AsyncVmFs(client, vm_id)
        self._disposed = False

    async def exec(
        self,
        command: str | None = None,
        *,
        argv: list[str] | None = None,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        stdin: BytesLike = b"",
        timeout_ms: int | None = DEFAULT_EXEC_TIMEOUT_MS,
        max_output_bytes: int = p.DEFAULT_EXEC_OUTPUT_BYTES,
    ) -> p.ProcessExecResult:
        """Run ``command`` (``sh -c``) or ``argv`` to completion; see ``client.process.exec``."""
        return await self._client.process.exec(
            self.vm_id, command, argv=argv, cwd=cwd, env=env, stdin=stdin, timeout_ms=timeout_ms,
            max_output_bytes=max_output_bytes,
        )

    async def spawn(
        self,
        command: str | None = None,
        *,
        argv: list[str] | None = None,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        on_stdout: OutputCallback | None = None,
        on_stderr: OutputCallback | None = None,
    ) -> AsyncProcess:
        """Start a process and return its handle at once. Output from its first byte
        goes to the callbacks, or to iterating the handle when there are none."""
        conn = self._client._conn
        events = conn.open_subscription(_process_events_of(self.vm_id))
        try:
            pid = (await self._client.process.spawn(self.vm_id, command, argv=argv, cwd=cwd, env=env)).pid
        except BaseException:
            conn.close_subscription(events)
            raise
        events.narrow(_process_events_of(self.vm_id, pid))
        return AsyncProcess(self._client, self.vm_id, pid, events, on_stdout, on_stderr)

    async def info(self) -> p.VmInfo:
        """Limits, mounts and resource usage."""
        return (await self._client.vm.info(self.vm_id)).info

    async def dispose(self) -> None:
        """Dispose the VM (its processes are killed). Idempotent."""
        if self._disposed:
            await trio.lowlevel.checkpoint()
            return
        self._disposed = True
        await self._client.vm.dispose(self.vm_id)

    async def __aenter__(self) -> AsyncVm:
        await trio.lowlevel.checkpoint()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._client._conn.closed_error is None:
            await self.dispose()
