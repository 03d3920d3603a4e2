"""Blocking twins of the handles in ``_handles.py`` (what ``Client.create_vm`` returns).

Each method runs its async twin on the client's trio thread, but ``Vm.exec``, which
calls the client's blocking ``process.exec`` as its twin calls the async one (no
hand-off to that thread: ``Connection.call_blocking``); the signatures are the
same (tests/clients/test_parity.py checks it). Output callbacks given to
:meth:`Vm.spawn` run on that thread, so they should return quickly.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import agentvm_protocol as p

from ._api import DEFAULT_EXEC_TIMEOUT_MS
from ._bytes_fields import BytesLike
from ._handles import DEFAULT_CHUNK_BYTES, AsyncProcess, AsyncVm, AsyncVmFs, OutputCallback
from ._surface import SyncProcessApi

__all__ = ["Process", "Run", "Vm", "VmFs"]

Run = Callable[[Callable[[], Awaitable[Any]]], Any]
"""Runs an async call to completion on the client's trio thread and returns its result."""


class VmFs:
    """``vm.fs``: the VM's files; blocking twin of :class:`AsyncVmFs`."""

    def __init__(self, target: AsyncVmFs, run: Run) -> None:
        self._target = target
        self._run = run

    def write(self, path: str, data: BytesLike, *, create_dirs: bool = True, mode: int = 0o644) -> None:
        """Create or replace a file, making missing parent directories (unless
        ``create_dirs=False``). ``data`` is bytes, or a ``str`` written as UTF-8."""
        self._run(functools.partial(self._target.write, path, data, create_dirs=create_dirs, mode=mode))

    def read(self, path: str) -> bytes:
        """A whole file's bytes."""
        return self._run(functools.partial(self._target.read, path))

    def exists(self, path: str) -> bool:
        """Whether ``path`` exists."""
        return self._run(functools.partial(self._target.exists, path))

    def mkdir(self, path: str, *, recursive: bool = True) -> None:
        """Create a directory (with its parents unless ``recursive=False``)."""
        self._run(functools.partial(self._target.mkdir, path, recursive=recursive))

    def list(self, path: str) -> list[p.FsDirEntry]:
        """A directory's entries."""
        return self._run(functools.partial(self._target.list, path))

    def delete(self, path: str, *, recursive: bool = False) -> None:
        """Delete a file or empty directory (a tree with ``recursive``)."""
        self._run(functools.partial(self._target.delete, path, recursive=recursive))

    def upload(self, local_path: str | os.PathLike[str], vm_path: str, *, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> int:
        """Copy a host file of any size into the VM, ``chunk_bytes`` per request (the
        first replaces ``vm_path``, making its parents; the rest append), so neither
        side holds more than a chunk. Returns the bytes copied."""
        return self._run(functools.partial(self._target.upload, local_path, vm_path, chunk_bytes=chunk_bytes))

    def download(self, vm_path: str, local_path: str | os.PathLike[str], *, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> int:
        """Copy a VM file of any size to the host, ``chunk_bytes`` per request, until
        the size the VM reported; returns the bytes copied."""
        return self._run(functools.partial(self._target.download, vm_path, local_path, chunk_bytes=chunk_bytes))


class Process:
    """A process started by :meth:`Vm.spawn`; blocking twin of :class:`AsyncProcess`.
    ``for chunk in process`` yields its output (when no callbacks were given)."""

    def __init__(self, target: AsyncProcess, run: Run) -> None:
        self._target = target
        self._run = run
        self.vm_id = target.vm_id
        self.pid = target.pid

    @property
    def exit(self) -> p.ProcessWaitResult | None:
        """How the process ended, once its exit has been seen (else None)."""
        return self._target.exit

    def __iter__(self) -> Iterator[p.ProcessOutputEvent]:
        iterator = aiter(self._target)
        while True:
            try:
                yield self._run(iterator.__anext__)
            except StopAsyncIteration:
                return

    def wait(self) -> p.ProcessWaitResult:
        """Block until the process exits; returns its exit code and signal."""
        return self._run(self._target.wait)

    def kill(self, signal: p.SignalName = "SIGTERM") -> None:
        """Send ``signal`` to the process and everything it started."""
        self._run(functools.partial(self._target.kill, signal))

    def write_stdin(self, data: BytesLike) -> None:
        """Write to its stdin (bytes, or ``str`` as UTF-8); waits while the pipe is full."""
        self._run(functools.partial(self._target.write_stdin, data))

    def close_stdin(self) -> None:
        """Close its stdin; it reads end of file."""
        self._run(self._target.close_stdin)


class Vm:
    """A VM made by :meth:`Client.create_vm`; blocking twin of :class:`AsyncVm`.
    ``with`` disposes it."""

    def __init__(self, target: AsyncVm, run: Run, process: SyncProcessApi) -> None:
        self._target = target
        self._run = run
        self._process = process
        self.vm_id = target.vm_id
        self.fs = VmFs(target.fs, run)

    def exec(
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
        return self._process.exec(
            self.vm_id, command, argv=argv, cwd=cwd, env=env, stdin=stdin, timeout_ms=timeout_ms,
            max_output_bytes=max_output_bytes,
        )

    def spawn(
        self,
        command: str | None = None,
        *,
        argv: list[str] | None = None,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        on_stdout: OutputCallback | None = None,
        on_stderr: OutputCallback | None = None,
    ) -> Process:
        """Start a process and return its handle at once. Output from its first byte
        goes to the callbacks (called on the client's thread), or to iterating the
        handle when there are none."""
        target = self._run(functools.partial(
            self._target.spawn, command, argv=argv, cwd=cwd, env=env, on_stdout=on_stdout, on_stderr=on_stderr,
        ))
        return Process(target, self._run)

    def info(self) -> p.VmInfo:
        """Limits, mounts and resource usage."""
        return self._run(self._target.info)

    def dispose(self) -> None:
        """Dispose the VM (its processes are killed). Idempotent."""
        self._run(self._target.dispose)

    def __enter__(self) -> Vm:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._run(functools.partial(self._target.__aexit__, *exc_info))
