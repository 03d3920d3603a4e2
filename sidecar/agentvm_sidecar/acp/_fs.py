"""ACP ``fs/read_text_file`` and ``fs/write_text_file``, served from the VM's kernel.

The agent is a guest, so its file requests run with the guest user's rights
(``USER``), through the same VFS and mounts as its own syscalls: a read-only mount
refuses writes (EROFS), a host_dir mount confines paths, permissions apply. ACP says
paths are absolute; ``line`` is 1-based and ``limit`` counts lines
(https://agentclientprotocol.com/protocol/file-system). A file larger than
``MAX_TEXT_FILE_BYTES`` is refused rather than read into memory and echoed into one
giant line. Kernel calls run on the VM's worker threads, never on the trio loop.
"""

from __future__ import annotations

import msgspec
import trio

from ..kernel.errors import KernelError
from ..kernel.fstypes import USER
from ..kernel.kernel import Kernel
from ..thread_calls import run_in_thread

__all__ = ["MAX_TEXT_FILE_BYTES", "ReadTextFileParams", "WriteTextFileParams", "read_text_file", "write_text_file"]

MAX_TEXT_FILE_BYTES = 8 * 1024 * 1024


class ReadTextFileParams(msgspec.Struct, rename="camel"):
    session_id: str
    path: str
    line: int | None = None
    limit: int | None = None


class WriteTextFileParams(msgspec.Struct, rename="camel"):
    session_id: str
    path: str
    content: str


def _absolute(path: str) -> str:
    if not path.startswith("/") or "\x00" in path:
        raise KernelError("EINVAL", "ACP file paths must be absolute", path=path)
    return path


async def read_text_file(kernel: Kernel, threads: trio.CapacityLimiter, p: ReadTextFileParams) -> dict[str, str]:
    """The file's text (from ``line``, at most ``limit`` lines). Raises: KernelError."""
    path = _absolute(p.path)

    def read() -> bytes:
        if kernel.vfs.stat(path, cred=USER).size > MAX_TEXT_FILE_BYTES:
            raise KernelError("EFBIG", f"file is larger than {MAX_TEXT_FILE_BYTES} bytes", path=path)
        return kernel.vfs.read_file(path, cred=USER)

    text = (await run_in_thread(read, threads)).decode("utf-8", "replace")
    if p.line is None and p.limit is None:
        return {"content": text}
    lines = text.splitlines(keepends=True)
    start = max((p.line or 1) - 1, 0)
    end = len(lines) if p.limit is None else start + p.limit
    return {"content": "".join(lines[start:end])}


async def write_text_file(kernel: Kernel, threads: trio.CapacityLimiter, p: WriteTextFileParams) -> dict[str, str]:
    """Create or replace the file. Raises: KernelError (EROFS, EACCES, ENOSPC...)."""
    path = _absolute(p.path)
    data = p.content.encode("utf-8")
    await run_in_thread(lambda: kernel.vfs.write_file(path, data, cred=USER), threads)
    return {}
