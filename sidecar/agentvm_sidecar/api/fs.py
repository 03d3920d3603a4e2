"""``fs.*`` handlers: the client's file access, through the same kernel VFS and mounts
a guest uses (so the wire, the shell and the kernel always see one filesystem).

The client is trusted and acts with root's rights, but what it creates (files,
directories, symlinks) belongs to the VM's user (uid/gid 1000, as guests run), so
guests can edit what the client wrote. Kernel calls may do host I/O (host_dir
mounts) or wait for the VM lock held by a guest, so each runs on a worker thread and
never blocks the trio loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import trio

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
    FsWriteFilesParams,
    FsWriteFilesResult,
    FsWriteOutcome,
)

from ..kernel.errors import KernelError
from ..kernel.fstypes import CLIENT, FileKind, Stat
from ..kernel.kernel import Kernel
from ..rpc.errors import to_error_object
from ..vms import apply_mount
from ._registry import RequestContext, handler

T = TypeVar("T")


async def _in_kernel(ctx: RequestContext, vm_id: str, op: Callable[[Kernel], T]) -> T:
    vm = ctx.vms.get(vm_id)
    return await trio.to_thread.run_sync(op, vm.kernel, limiter=vm.threads)


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


@handler("fs.readFile")
async def fs_read_file(ctx: RequestContext, p: FsReadFileParams) -> FsReadFileResult:
    return FsReadFileResult(data=await _in_kernel(ctx, p.vm_id, lambda k: k.vfs.read_file(p.path)))


@handler("fs.writeFile")
async def fs_write_file(ctx: RequestContext, p: FsWriteFileParams) -> Empty:
    await _in_kernel(ctx, p.vm_id, lambda k: k.vfs.write_file(p.path, p.data, create_dirs=p.create_dirs, mode=p.mode, cred=CLIENT))
    return Empty()


@handler("fs.readFiles")
async def fs_read_files(ctx: RequestContext, p: FsReadFilesParams) -> FsReadFilesResult:
    def read_all(k: Kernel) -> list[FsFileData]:
        out = []
        for path in p.paths:
            try:
                out.append(FsFileData(path=path, data=k.vfs.read_file(path)))
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
    await _in_kernel(ctx, p.vm_id, lambda k: k.vfs.mkdir(p.path, p.mode, recursive=p.recursive, cred=CLIENT))
    return Empty()


@handler("fs.readdir")
async def fs_readdir(ctx: RequestContext, p: FsReaddirParams) -> FsReaddirResult:
    entries = await _in_kernel(ctx, p.vm_id, lambda k: k.vfs.readdir(p.path))
    return FsReaddirResult(entries=[FsDirEntry(name=e.name, kind=_WIRE_KIND[e.kind]) for e in entries])


@handler("fs.readdirRecursive")
async def fs_readdir_recursive(ctx: RequestContext, p: FsReaddirRecursiveParams) -> FsReaddirRecursiveResult:
    entries = await _in_kernel(ctx, p.vm_id, lambda k: k.vfs.readdir_recursive(p.path, max_depth=p.max_depth))
    return FsReaddirRecursiveResult(entries=[FsTreeEntry(path=path, kind=_WIRE_KIND[kind]) for path, kind in entries])


@handler("fs.stat")
async def fs_stat(ctx: RequestContext, p: FsStatParams) -> FsStatResult:
    return FsStatResult(stat=_wire_stat(await _in_kernel(ctx, p.vm_id, lambda k: k.vfs.stat(p.path))))


@handler("fs.lstat")
async def fs_lstat(ctx: RequestContext, p: FsLstatParams) -> FsStatResult:
    return FsStatResult(stat=_wire_stat(await _in_kernel(ctx, p.vm_id, lambda k: k.vfs.lstat(p.path))))


@handler("fs.exists")
async def fs_exists(ctx: RequestContext, p: FsExistsParams) -> FsExistsResult:
    return FsExistsResult(exists=await _in_kernel(ctx, p.vm_id, lambda k: k.vfs.exists(p.path)))


@handler("fs.move")
async def fs_move(ctx: RequestContext, p: FsMoveParams) -> Empty:
    await _in_kernel(ctx, p.vm_id, lambda k: k.vfs.rename(p.source, p.destination))
    return Empty()


@handler("fs.delete")
async def fs_delete(ctx: RequestContext, p: FsDeleteParams) -> Empty:
    await _in_kernel(ctx, p.vm_id, lambda k: k.remove(p.path, p.recursive))
    return Empty()


@handler("fs.symlink")
async def fs_symlink(ctx: RequestContext, p: FsSymlinkParams) -> Empty:
    await _in_kernel(ctx, p.vm_id, lambda k: k.vfs.symlink(p.target, p.path, cred=CLIENT))
    return Empty()


@handler("fs.readlink")
async def fs_readlink(ctx: RequestContext, p: FsReadlinkParams) -> FsReadlinkResult:
    return FsReadlinkResult(target=await _in_kernel(ctx, p.vm_id, lambda k: k.vfs.readlink(p.path)))


@handler("fs.chmod")
async def fs_chmod(ctx: RequestContext, p: FsChmodParams) -> Empty:
    await _in_kernel(ctx, p.vm_id, lambda k: k.vfs.chmod(p.path, p.mode))
    return Empty()


@handler("fs.mount")
async def fs_mount(ctx: RequestContext, p: FsMountParams) -> Empty:
    await _in_kernel(ctx, p.vm_id, lambda k: apply_mount(k, p.mount))
    return Empty()


@handler("fs.unmount")
async def fs_unmount(ctx: RequestContext, p: FsUnmountParams) -> Empty:
    await _in_kernel(ctx, p.vm_id, lambda k: k.vfs.unmount(p.path))
    return Empty()
