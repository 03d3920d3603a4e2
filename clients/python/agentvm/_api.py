"""Every wire method as a typed async method, grouped by namespace.

Thin forwarders on purpose: each builds the method's params Struct and returns the
result Struct unchanged. A test walks the protocol's method table and fails when a
method has no forwarder here (``fs.readFile`` -> ``client.fs.read_file``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import agentvm_protocol as p

if TYPE_CHECKING:
    from ._connection import Connection

__all__ = ["FsApi", "ProcessApi", "SoftwareApi", "ToolsApi", "VmApi"]


class _Namespace:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn


class VmApi(_Namespace):
    """``vm.*``: VM lifecycle."""

    async def create(self, config: p.VmConfig | None = None) -> p.VmCreateResult:
        """Create a VM with ``config`` (mounts, env, limits...); returns its ``vm_id``."""
        return await self._conn.call("vm.create", p.VmCreateParams(config=config or p.VmConfig()))

    async def dispose(self, vm_id: str) -> p.VmDisposeResult:
        """Dispose a VM: kill its processes, close its files, unmount everything."""
        return await self._conn.call("vm.dispose", p.VmDisposeParams(vm_id=vm_id))

    async def list(self) -> p.VmListResult:
        """List the live VMs."""
        return await self._conn.call("vm.list", p.VmListParams())

    async def info(self, vm_id: str) -> p.VmInfoResult:
        """A VM's limits, mounts and current resource usage."""
        return await self._conn.call("vm.info", p.VmInfoParams(vm_id=vm_id))

    async def set_network_policy(self, vm_id: str, network: p.NetworkPolicy) -> p.VmSetNetworkPolicyResult:
        """Replace a live VM's egress policy: every process, running or future (and
        its children), obeys ``network`` from its next network call."""
        return await self._conn.call(
            "vm.setNetworkPolicy", p.VmSetNetworkPolicyParams(vm_id=vm_id, network=network)
        )


class FsApi(_Namespace):
    """``fs.*``: files in a VM, through its kernel and mounts."""

    async def read_file(
        self, vm_id: str, path: str, *, offset: int = 0, length: int | None = None
    ) -> p.FsReadFileResult:
        """Read a file from ``offset`` to its end, or ``length`` bytes of it; the
        result's ``size`` is the whole file's. A file too big for one frame is a
        ``limit_exceeded`` error: read it in pieces (``length``), advancing ``offset``
        until it reaches ``size``. A device is read only with a ``length``."""
        return await self._conn.call(
            "fs.readFile", p.FsReadFileParams(vm_id=vm_id, path=path, offset=offset, length=length)
        )

    async def write_file(
        self,
        vm_id: str,
        path: str,
        data: bytes,
        *,
        create_dirs: bool = False,
        mode: int = 0o644,
        offset: int | None = None,
        append: bool = False,
    ) -> p.FsWriteFileResult:
        """Create or replace a file (``create_dirs`` makes missing parents first); with
        ``offset`` write there and keep the rest, with ``append`` write at the end.
        The result's ``size`` is the file's size after the write."""
        return await self._conn.call(
            "fs.writeFile",
            p.FsWriteFileParams(
                vm_id=vm_id, path=path, data=data, create_dirs=create_dirs, mode=mode, offset=offset, append=append
            ),
        )

    async def read_files(self, vm_id: str, paths: list[str]) -> p.FsReadFilesResult:
        """Read several files; each entry has ``data`` or ``error``."""
        return await self._conn.call("fs.readFiles", p.FsReadFilesParams(vm_id=vm_id, paths=paths))

    async def write_files(
        self, vm_id: str, files: list[p.FsFileToWrite], *, create_dirs: bool = False
    ) -> p.FsWriteFilesResult:
        """Write several files; each outcome carries an ``error`` when that file failed."""
        return await self._conn.call(
            "fs.writeFiles", p.FsWriteFilesParams(vm_id=vm_id, files=files, create_dirs=create_dirs)
        )

    async def mkdir(self, vm_id: str, path: str, *, recursive: bool = False, mode: int = 0o755) -> p.FsMkdirResult:
        """Create a directory (``recursive`` like ``mkdir -p``)."""
        return await self._conn.call("fs.mkdir", p.FsMkdirParams(vm_id=vm_id, path=path, recursive=recursive, mode=mode))

    async def readdir(self, vm_id: str, path: str) -> p.FsReaddirResult:
        """List a directory's entries (names and kinds)."""
        return await self._conn.call("fs.readdir", p.FsReaddirParams(vm_id=vm_id, path=path))

    async def readdir_recursive(
        self, vm_id: str, path: str, *, max_depth: int | None = None
    ) -> p.FsReaddirRecursiveResult:
        """List a directory tree as paths relative to ``path``; ``truncated`` is set
        when the listing stopped at the frame-size bound."""
        return await self._conn.call(
            "fs.readdirRecursive", p.FsReaddirRecursiveParams(vm_id=vm_id, path=path, max_depth=max_depth)
        )

    async def stat(self, vm_id: str, path: str) -> p.FsStatResult:
        """Metadata of a path, following a final symlink."""
        return await self._conn.call("fs.stat", p.FsStatParams(vm_id=vm_id, path=path))

    async def lstat(self, vm_id: str, path: str) -> p.FsStatResult:
        """Metadata of a path, not following a final symlink."""
        return await self._conn.call("fs.lstat", p.FsLstatParams(vm_id=vm_id, path=path))

    async def exists(self, vm_id: str, path: str) -> p.FsExistsResult:
        """Whether a path exists."""
        return await self._conn.call("fs.exists", p.FsExistsParams(vm_id=vm_id, path=path))

    async def move(self, vm_id: str, source: str, destination: str) -> p.FsMoveResult:
        """Rename ``source`` to ``destination`` (POSIX rename semantics)."""
        return await self._conn.call("fs.move", p.FsMoveParams(vm_id=vm_id, source=source, destination=destination))

    async def delete(self, vm_id: str, path: str, *, recursive: bool = False) -> p.FsDeleteResult:
        """Delete a file, symlink or empty directory; ``recursive`` deletes a tree."""
        return await self._conn.call("fs.delete", p.FsDeleteParams(vm_id=vm_id, path=path, recursive=recursive))

    async def symlink(self, vm_id: str, target: str, path: str) -> p.FsSymlinkResult:
        """Create a symlink at ``path`` pointing to ``target``."""
        return await self._conn.call("fs.symlink", p.FsSymlinkParams(vm_id=vm_id, target=target, path=path))

    async def readlink(self, vm_id: str, path: str) -> p.FsReadlinkResult:
        """The target of a symlink."""
        return await self._conn.call("fs.readlink", p.FsReadlinkParams(vm_id=vm_id, path=path))

    async def chmod(self, vm_id: str, path: str, mode: int) -> p.FsChmodResult:
        """Change permission bits."""
        return await self._conn.call("fs.chmod", p.FsChmodParams(vm_id=vm_id, path=path, mode=mode))

    async def mount(self, vm_id: str, mount: p.MountConfig) -> p.FsMountResult:
        """Mount a memory or host_dir filesystem into a running VM."""
        return await self._conn.call("fs.mount", p.FsMountParams(vm_id=vm_id, mount=mount))

    async def unmount(self, vm_id: str, path: str) -> p.FsUnmountResult:
        """Unmount the filesystem at ``path``."""
        return await self._conn.call("fs.unmount", p.FsUnmountParams(vm_id=vm_id, path=path))


class ProcessApi(_Namespace):
    """``process.*``: guest processes. Name a program by ``command`` (run as
    ``sh -c command``) or by ``argv``; exactly one of them."""

    async def exec(
        self,
        vm_id: str,
        command: str | None = None,
        *,
        argv: list[str] | None = None,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        stdin: bytes = b"",
        timeout_ms: int | None = None,
        exact_env: bool = False,
    ) -> p.ProcessExecResult:
        """Run a process to completion; returns exit code, stdout and stderr. On
        ``timeout_ms`` the process is killed and ``timed_out`` is set (exit code 124).
        ``env`` is added to the VM's environment, or with ``exact_env`` is all of it."""
        return await self._conn.call(
            "process.exec",
            p.ProcessExecParams(
                vm_id=vm_id, command=command, argv=argv, cwd=cwd, env=env or {}, exact_env=exact_env, stdin=stdin,
                timeout_ms=timeout_ms,
            ),
        )

    async def spawn(
        self,
        vm_id: str,
        command: str | None = None,
        *,
        argv: list[str] | None = None,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        exact_env: bool = False,
    ) -> p.ProcessSpawnResult:
        """Start a process; its output and exit arrive as events (subscribe with
        ``client.events()`` first). Returns its pid. ``env`` is added to the VM's
        environment, or with ``exact_env`` is all of it."""
        return await self._conn.call(
            "process.spawn",
            p.ProcessSpawnParams(vm_id=vm_id, command=command, argv=argv, cwd=cwd, env=env or {}, exact_env=exact_env),
        )

    async def ack_output(self, vm_id: str, pid: int, consumed: int) -> p.ProcessAckOutputResult:
        """Return ``consumed`` bytes of output credit to a spawned process (flow
        control). Subscriptions from ``client.events()`` do this automatically (as a
        notification); call it only when consuming events some other way."""
        return await self._conn.call(
            "process.ackOutput", p.ProcessAckOutputParams(vm_id=vm_id, pid=pid, consumed=consumed)
        )

    async def write_stdin(self, vm_id: str, pid: int, data: bytes) -> p.ProcessWriteStdinResult:
        """Write to a spawned process's stdin (waits while the pipe is full)."""
        return await self._conn.call("process.writeStdin", p.ProcessWriteStdinParams(vm_id=vm_id, pid=pid, data=data))

    async def close_stdin(self, vm_id: str, pid: int) -> p.ProcessCloseStdinResult:
        """Close a spawned process's stdin; it reads end of file."""
        return await self._conn.call("process.closeStdin", p.ProcessCloseStdinParams(vm_id=vm_id, pid=pid))

    async def kill(self, vm_id: str, pid: int, signal: p.SignalName = "SIGTERM") -> p.ProcessKillResult:
        """Send a signal (default SIGTERM)."""
        return await self._conn.call("process.kill", p.ProcessKillParams(vm_id=vm_id, pid=pid, signal=signal))

    async def wait(self, vm_id: str, pid: int, *, timeout_ms: int | None = None) -> p.ProcessWaitResult:
        """Wait for a spawned process to exit; ``timeout`` error if still running after ``timeout_ms``."""
        return await self._conn.call("process.wait", p.ProcessWaitParams(vm_id=vm_id, pid=pid, timeout_ms=timeout_ms))

    async def list(self, vm_id: str) -> p.ProcessListResult:
        """The VM's processes."""
        return await self._conn.call("process.list", p.ProcessListParams(vm_id=vm_id))

    async def tree(self, vm_id: str) -> p.ProcessTreeResult:
        """The VM's processes as a parent/child forest."""
        return await self._conn.call("process.tree", p.ProcessTreeParams(vm_id=vm_id))


class ToolsApi(_Namespace):
    """``tools.*``: host tools the VM's guests call over HTTP (answer them with
    ``client.on_tool(name, handler)``), and their audit log."""

    async def register(self, vm_id: str, tools: list[p.ToolSpec]) -> p.ToolsRegisterResult:
        """Serve ``tools`` inside the VM at http://tools.agentvm.internal/tools/<name>
        (a tool with the same name is replaced); calls reach this client's handlers."""
        return await self._conn.call("tools.register", p.ToolsRegisterParams(vm_id=vm_id, tools=tools))

    async def unregister(self, vm_id: str, names: list[str]) -> p.ToolsUnregisterResult:
        """Stop serving the tools named ``names``."""
        return await self._conn.call("tools.unregister", p.ToolsUnregisterParams(vm_id=vm_id, names=names))

    async def list(self, vm_id: str) -> p.ToolsListResult:
        """The VM's tools."""
        return await self._conn.call("tools.list", p.ToolsListParams(vm_id=vm_id))

    async def rotate_token(self, vm_id: str) -> p.ToolsRotateTokenResult:
        """Replace the VM's tools bearer token (the old one gets 401 at once)."""
        return await self._conn.call("tools.rotateToken", p.ToolsRotateTokenParams(vm_id=vm_id))

    async def log(self, vm_id: str, *, since: int = 0) -> p.ToolsLogResult:
        """Audit entries (tool calls, secret injections) at or after ``since`` (ms)."""
        return await self._conn.call("tools.log", p.ToolsLogParams(vm_id=vm_id, since=since))
class SoftwareApi(_Namespace):
    """``software.*``: the guest commands in every VM's /bin."""

    async def list(self) -> p.SoftwareListResult:
        """Every /bin command with its package, version and source."""
        return await self._conn.call("software.list", p.SoftwareListParams())
