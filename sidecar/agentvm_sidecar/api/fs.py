"""``fs.*`` handlers: the client's file access, through the same kernel VFS and mounts
a guest uses (so the wire, the shell and the kernel always see one filesystem).

The client is trusted and acts with root's rights, but what it creates (files,
directories, symlinks) belongs to the VM's user (uid/gid 1000, as guests run), so
guests can edit what the client wrote. Kernel calls may do host I/O (host_dir
mounts) or wait for the VM lock held by a guest, so each runs on a worker thread and
never blocks the trio loop.

Reads are sized before they read (protocol/_fs.py): the byte budget of one result
is what base64 leaves of ``maxFrameBytes`` after the envelope, and a read that could
exceed it is EFBIG (``limit_exceeded``) up front. Kernel names are ``str`` holding
undecodable bytes as surrogate escapes (PEP 383); ``_wire_name`` turns them into the
wire's U+FFFD string plus exact bytes, and ``_kernel_path`` turns a param's string
plus exact bytes back into a kernel path.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

from agentvm_protocol import (
    Empty,
    FileStat,
    FsChmodParams,
    FsDeleteParams,
    FsDirEntry,
    FsExistsParams,
    FsExistsResult,
    FsFileData,
    FsLstatParams,
    FsMkdirParams,
    FsMountParams,
    FsMoveParams,
    FsReaddirParams,
    FsReaddirRecursiveParams,
    FsReaddirRecursiveResult,
    FsReaddirResult,
    FsReadFileParams,
    FsReadFileResult,
    FsReadFilesParams,
    FsReadFilesResult,
    FsReadlinkParams,
    FsReadlinkResult,
    FsStatParams,
    FsStatResult,
    FsSymlinkParams,
    FsTreeEntry,
    FsUnmountParams,
    FsWriteFileParams,
    FsWriteFileResult,
    FsWriteFilesParams,
    FsWriteFilesResult,
    FsWriteOutcome,
)

from ..kernel.errors import KernelError
from ..kernel.fstypes import CLIENT, FileKind, Stat
from ..kernel.kernel import Kernel
from ..rpc.errors import RpcError, to_error_object
from ..thread_calls import run_in_thread
from ..vms import apply_mount
from ._registry import RequestContext, handler
from ._wire_text import wire_text

T = TypeVar("T")


async def _in_kernel(ctx: RequestContext, vm_id: str, op: Callable[[Kernel], T]) -> T:
    vm = ctx.vms.get(vm_id)
    return await run_in_thread(functools.partial(op, vm.kernel), vm.threads)


_WIRE_KIND = {
    FileKind.REGULAR: "file",
    FileKind.DIRECTORY: "directory",
    FileKind.SYMLINK: "symlink",
    FileKind.FIFO: "fifo",
    FileKind.CHAR_DEVICE: "char_device",
    FileKind.BLOCK_DEVICE: "block_device",
    FileKind.SOCKET: "socket",
}


def _wire_stat(st: Stat) -> FileStat:
    return FileStat(
        kind=_WIRE_KIND[st.kind],
        mode=st.mode,
        size=st.size,
        ino=st.ino,
        nlink=st.nlink,
        uid=st.uid,
        gid=st.gid,
        atime_ns=st.atime_ns,
        mtime_ns=st.mtime_ns,
        ctime_ns=st.ctime_ns,
    )


_ENVELOPE_BYTES = 1024  # the JSON-RPC envelope and field names around the data
_PER_FILE_BYTES = 64  # one FsFileData's JSON around its path and data


def _data_budget(ctx: RequestContext) -> int:
    """Bytes of file data whose base64 still fits in one frame."""
    return max(0, (ctx.max_frame_bytes - _ENVELOPE_BYTES) // 4 * 3)


def _kernel_path(path: str, exact: bytes | None, field: str = "path") -> str:
    """The kernel path a param names: ``path``, or when its exact bytes are given,
    those bytes (``path`` must be their display form, as ``_wire_name`` makes it; so
    the bytes hold no NUL, which ``path``'s pattern already refuses)."""
    if exact is None:
        return path
    if exact.decode("utf-8", "replace") != path:
        raise RpcError("invalid_params", f"{field} is not the display form of {field}Bytes (U+FFFD per undecodable byte)")
    return exact.decode("utf-8", "surrogateescape")


@handler("fs.readFile")
async def fs_read_file(ctx: RequestContext, p: FsReadFileParams) -> FsReadFileResult:
    path = _kernel_path(p.path, p.path_bytes)
    budget = _data_budget(ctx)
    data, size = await _in_kernel(ctx, p.vm_id, lambda k: k.vfs.read_range(path, p.offset, p.length, max_bytes=budget))
    return FsReadFileResult(data=data, size=size)


@handler("fs.writeFile")
async def fs_write_file(ctx: RequestContext, p: FsWriteFileParams) -> FsWriteFileResult:
    path = _kernel_path(p.path, p.path_bytes)
    if p.offset is not None and p.append:
        raise RpcError("invalid_params", "offset and append exclude each other")
    size = await _in_kernel(
        ctx,
        p.vm_id,
        lambda k: k.vfs.write_file(
            path, p.data, create_dirs=p.create_dirs, mode=p.mode, offset=p.offset, append=p.append, cred=CLIENT
        ),
    )
    return FsWriteFileResult(size=size)


@handler("fs.readFiles")
async def fs_read_files(ctx: RequestContext, p: FsReadFilesParams) -> FsReadFilesResult:
    frame_budget = ctx.max_frame_bytes - _ENVELOPE_BYTES

    def read_all(k: Kernel) -> list[FsFileData]:
        # Under the VM lock, so the sizes added up are the sizes read.
        with k.vfs.lock:
            sizes: list[int | KernelError] = []
            encoded = 0
            for path in p.paths:
                try:
                    st = k.vfs.stat(path)
                    if st.kind is not FileKind.REGULAR and st.kind is not FileKind.DIRECTORY:
                        raise KernelError.efbig(path, "only regular files are read whole")
                    sizes.append(st.size)
                    encoded += (st.size + 2) // 3 * 4
                except KernelError as exc:
                    sizes.append(exc)
                encoded += len(path) + _PER_FILE_BYTES
            if encoded > frame_budget:
                raise RpcError(
                    "limit_exceeded",
                    f"the files add up to {encoded} bytes encoded, over maxFrameBytes ({ctx.max_frame_bytes}): "
                    "read them one by one, in pieces, with fs.readFile offset/length",
                )
            out = []
            for path, size in zip(p.paths, sizes, strict=True):
                try:
                    if isinstance(size, KernelError):
                        raise size
                    out.append(FsFileData(path=path, data=k.vfs.read_range(path, 0, size, max_bytes=size)[0]))
                except KernelError as exc:
                    out.append(FsFileData(path=path, error=to_error_object(exc)[0].data))
            return out

    return FsReadFilesResult(files=await _in_kernel(ctx, p.vm_id, read_all))


@handler("fs.writeFiles")
async def fs_write_files(ctx: RequestContext, p: FsWriteFilesParams) -> FsWriteFilesResult:
    def write_all(k: Kernel) -> list[FsWriteOutcome]:
        out = []
        for f in p.files:
            try:
                k.vfs.write_file(f.path, f.data, create_dirs=p.create_dirs, mode=f.mode, cred=CLIENT)
                out.append(FsWriteOutcome(path=f.path))
            except KernelError as exc:
                out.append(FsWriteOutcome(path=f.path, error=to_error_object(exc)[0].data))
        return out

    return FsWriteFilesResult(results=await _in_kernel(ctx, p.vm_id, write_all))


@handler("fs.mkdir")
async def fs_mkdir(ctx: RequestContext, p: FsMkdirParams) -> Empty:
    path = _kernel_path(p.path, p.path_bytes)
    await _in_kernel(ctx, p.vm_id, lambda k: k.vfs.mkdir(path, p.mode, recursive=p.recursive, cred=CLIENT))
    return Empty()


@handler("fs.readdir")
async def fs_readdir(ctx: RequestContext, p: FsReaddirParams) -> FsReaddirResult:
    path = _kernel_path(p.path, p.path_bytes)
    entries = await _in_kernel(ctx, p.vm_id, lambda k: k.vfs.readdir(path))
    out = []
    for e in entries:
        name, raw = wire_text(e.name)
        out.append(FsDirEntry(name=name, kind=_WIRE_KIND[e.kind], name_bytes=raw))
    return FsReaddirResult(entries=out)


@handler("fs.readdirRecursive")
async def fs_readdir_recursive(ctx: RequestContext, p: FsReaddirRecursiveParams) -> FsReaddirRecursiveResult:
    path = _kernel_path(p.path, p.path_bytes)
    # Half the frame: a path that is not UTF-8 travels twice (string and base64).
    budget = (ctx.max_frame_bytes - _ENVELOPE_BYTES) // 2
    listing = await _in_kernel(
        ctx, p.vm_id, lambda k: k.vfs.readdir_recursive(path, max_depth=p.max_depth, max_bytes=budget)
    )
    out = []
    for path, kind in listing:
        wire_path, raw = wire_text(path)
        out.append(FsTreeEntry(path=wire_path, kind=_WIRE_KIND[kind], path_bytes=raw))
    return FsReaddirRecursiveResult(entries=out, truncated=listing.truncated)


@handler("fs.stat")
async def fs_stat(ctx: RequestContext, p: FsStatParams) -> FsStatResult:
    path = _kernel_path(p.path, p.path_bytes)
    return FsStatResult(stat=_wire_stat(await _in_kernel(ctx, p.vm_id, lambda k: k.vfs.stat(path))))


@handler("fs.lstat")
async def fs_lstat(ctx: RequestContext, p: FsLstatParams) -> FsStatResult:
    path = _kernel_path(p.path, p.path_bytes)
    return FsStatResult(stat=_wire_stat(await _in_kernel(ctx, p.vm_id, lambda k: k.vfs.lstat(path))))


@handler("fs.exists")
async def fs_exists(ctx: RequestContext, p: FsExistsParams) -> FsExistsResult:
    path = _kernel_path(p.path, p.path_bytes)
    return FsExistsResult(exists=await _in_kernel(ctx, p.vm_id, lambda k: k.vfs.exists(path)))


@handler("fs.move")
async def fs_move(ctx: RequestContext, p: FsMoveParams) -> Empty:
    source = _kernel_path(p.source, p.source_bytes, "source")
    destination = _kernel_path(p.destination, p.destination_bytes, "destination")
    await _in_kernel(ctx, p.vm_id, lambda k: k.vfs.rename(source, destination))
    return Empty()


@handler("fs.delete")
async def fs_delete(ctx: RequestContext, p: FsDeleteParams) -> Empty:
    path = _kernel_path(p.path, p.path_bytes)
    await _in_kernel(ctx, p.vm_id, lambda k: k.remove(path, p.recursive))
    return Empty()


@handler("fs.symlink")
async def fs_symlink(ctx: RequestContext, p: FsSymlinkParams) -> Empty:
    await _in_kernel(ctx, p.vm_id, lambda k: k.vfs.symlink(p.target, p.path, cred=CLIENT))
    return Empty()


@handler("fs.readlink")
async def fs_readlink(ctx: RequestContext, p: FsReadlinkParams) -> FsReadlinkResult:
    path = _kernel_path(p.path, p.path_bytes)
    target, raw = wire_text(await _in_kernel(ctx, p.vm_id, lambda k: k.vfs.readlink(path)))
    return FsReadlinkResult(target=target, target_bytes=raw)


@handler("fs.chmod")
async def fs_chmod(ctx: RequestContext, p: FsChmodParams) -> Empty:
    path = _kernel_path(p.path, p.path_bytes)
    await _in_kernel(ctx, p.vm_id, lambda k: k.vfs.chmod(path, p.mode))
    return Empty()


@handler("fs.mount")
async def fs_mount(ctx: RequestContext, p: FsMountParams) -> Empty:
    await _in_kernel(ctx, p.vm_id, lambda k: apply_mount(k, p.mount))
    return Empty()


@handler("fs.unmount")
async def fs_unmount(ctx: RequestContext, p: FsUnmountParams) -> Empty:
    await _in_kernel(ctx, p.vm_id, lambda k: k.vfs.unmount(p.path))
    return Empty()
