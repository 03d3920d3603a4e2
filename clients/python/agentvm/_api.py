"""Every wire method as a typed async method, grouped by namespace.

Thin forwarders on purpose: each builds the method's params Struct and returns the
result Struct unchanged. File paths take ``str``, or ``bytes`` for a name that is not
UTF-8 (sent as ``path`` plus ``pathBytes``, see ``_paths.py``). Binary parameters
(``data``, ``stdin``) take ``bytes`` or ``str``, which is sent as its UTF-8 encoding;
anything else raises ``TypeError`` before the request is sent (the connection
enforces it for every method, see ``_bytes_fields.py``). A test walks the protocol's method table and fails when a
method has no forwarder here (``fs.readFile`` -> ``client.fs.read_file``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import agentvm_protocol as p

from ._bytes_fields import BytesLike
from ._paths import VmPathLike, wire_path

if TYPE_CHECKING:
    from ._connection import Connection

__all__ = ["DEFAULT_EXEC_TIMEOUT_MS", "FsApi", "NetApi", "PreviewApi", "ProcessApi", "SessionApi", "SoftwareApi", "ToolsApi", "VmApi"]

DEFAULT_EXEC_TIMEOUT_MS = 5 * 60 * 1000
"""``process.exec`` gives up (kills the process, ``timed_out``) after this unless told
otherwise, so a forgotten ``sleep 1000`` cannot hold a caller forever."""


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
        self, vm_id: str, path: VmPathLike, *, offset: int = 0, length: int | None = None
    ) -> p.FsReadFileResult:
        """Read a file from ``offset`` to its end, or ``length`` bytes of it; the
        result's ``size`` is the whole file's. A file too big for one frame is a
        ``limit_exceeded`` error: read it in pieces (``length``), advancing ``offset``
        until it reaches ``size``. A device is read only with a ``length``."""
        text, exact = wire_path(path)
        return await self._conn.call(
            "fs.readFile", p.FsReadFileParams(vm_id=vm_id, path=text, path_bytes=exact, offset=offset, length=length)
        )

    async def write_file(
        self,
        vm_id: str,
        path: VmPathLike,
        data: BytesLike,
        *,
        create_dirs: bool = False,
        mode: int = 0o644,
        offset: int | None = None,
        append: bool = False,
    ) -> p.FsWriteFileResult:
        """Create or replace a file (``create_dirs`` makes missing parents first); with
        ``offset`` write there and keep the rest, with ``append`` write at the end.
        The result's ``size`` is the file's size after the write. ``data`` is bytes,
        or a ``str`` written as UTF-8."""
        text, exact = wire_path(path)
        return await self._conn.call(
            "fs.writeFile",
            p.FsWriteFileParams(
                vm_id=vm_id, path=text, path_bytes=exact, data=data, create_dirs=create_dirs, mode=mode, offset=offset, append=append
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

    async def mkdir(self, vm_id: str, path: VmPathLike, *, recursive: bool = False, mode: int = 0o755) -> p.FsMkdirResult:
        """Create a directory (``recursive`` like ``mkdir -p``)."""
        text, exact = wire_path(path)
        return await self._conn.call("fs.mkdir", p.FsMkdirParams(vm_id=vm_id, path=text, path_bytes=exact, recursive=recursive, mode=mode))

    async def readdir(self, vm_id: str, path: VmPathLike) -> p.FsReaddirResult:
        """List a directory's entries (names and kinds)."""
        text, exact = wire_path(path)
        return await self._conn.call("fs.readdir", p.FsReaddirParams(vm_id=vm_id, path=text, path_bytes=exact))

    async def readdir_recursive(
        self, vm_id: str, path: VmPathLike, *, max_depth: int | None = None
    ) -> p.FsReaddirRecursiveResult:
        """List a directory tree as paths relative to ``path``; ``truncated`` is set
        when the listing stopped at the frame-size bound."""
        text, exact = wire_path(path)
        return await self._conn.call(
            "fs.readdirRecursive", p.FsReaddirRecursiveParams(vm_id=vm_id, path=text, path_bytes=exact, max_depth=max_depth)
        )

    async def stat(self, vm_id: str, path: VmPathLike) -> p.FsStatResult:
        """Metadata of a path, following a final symlink."""
        text, exact = wire_path(path)
        return await self._conn.call("fs.stat", p.FsStatParams(vm_id=vm_id, path=text, path_bytes=exact))

    async def lstat(self, vm_id: str, path: VmPathLike) -> p.FsStatResult:
        """Metadata of a path, not following a final symlink."""
        text, exact = wire_path(path)
        return await self._conn.call("fs.lstat", p.FsLstatParams(vm_id=vm_id, path=text, path_bytes=exact))

    async def exists(self, vm_id: str, path: VmPathLike) -> p.FsExistsResult:
        """Whether a path exists."""
        text, exact = wire_path(path)
        return await self._conn.call("fs.exists", p.FsExistsParams(vm_id=vm_id, path=text, path_bytes=exact))

    async def move(self, vm_id: str, source: VmPathLike, destination: VmPathLike) -> p.FsMoveResult:
        """Rename ``source`` to ``destination`` (POSIX rename semantics)."""
        (src, src_exact), (dst, dst_exact) = wire_path(source), wire_path(destination)
        return await self._conn.call(
            "fs.move",
            p.FsMoveParams(
                vm_id=vm_id, source=src, destination=dst, source_bytes=src_exact, destination_bytes=dst_exact
            ),
        )

    async def delete(self, vm_id: str, path: VmPathLike, *, recursive: bool = False) -> p.FsDeleteResult:
        """Delete a file, symlink or empty directory; ``recursive`` deletes a tree."""
        text, exact = wire_path(path)
        return await self._conn.call("fs.delete", p.FsDeleteParams(vm_id=vm_id, path=text, path_bytes=exact, recursive=recursive))

    async def symlink(self, vm_id: str, target: str, path: str) -> p.FsSymlinkResult:
        """Create a symlink at ``path`` pointing to ``target``."""
        return await self._conn.call("fs.symlink", p.FsSymlinkParams(vm_id=vm_id, target=target, path=path))

    async def readlink(self, vm_id: str, path: VmPathLike) -> p.FsReadlinkResult:
        """The target of a symlink."""
        text, exact = wire_path(path)
        return await self._conn.call("fs.readlink", p.FsReadlinkParams(vm_id=vm_id, path=text, path_bytes=exact))

    async def chmod(self, vm_id: str, path: VmPathLike, mode: int) -> p.FsChmodResult:
        """Change permission bits."""
        text, exact = wire_path(path)
        return await self._conn.call("fs.chmod", p.FsChmodParams(vm_id=vm_id, path=text, path_bytes=exact, mode=mode))

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
        stdin: BytesLike = b"",
        timeout_ms: int | None = DEFAULT_EXEC_TIMEOUT_MS,
        max_output_bytes: int = p.DEFAULT_EXEC_OUTPUT_BYTES,
        exact_env: bool = False,
    ) -> p.ProcessExecResult:
        """Run a process to completion; returns exit code, stdout and stderr.

        After ``timeout_ms`` (default 5 minutes; ``None`` waits as long as it takes)
        the process is killed and ``timed_out`` is set (exit code 124). Each of
        stdout and stderr keeps its first ``max_output_bytes``; ``truncated`` says
        more was written. ``stdin`` is bytes, or a ``str`` sent as UTF-8. ``env`` is
        added to the VM's environment, or with ``exact_env`` is all of it."""
        return await self._conn.call(
            "process.exec",
            p.ProcessExecParams(
                vm_id=vm_id, command=command, argv=argv, cwd=cwd, env=env or {}, exact_env=exact_env, stdin=stdin,
                timeout_ms=timeout_ms, max_output_bytes=max_output_bytes,
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

    async def write_stdin(self, vm_id: str, pid: int, data: BytesLike) -> p.ProcessWriteStdinResult:
        """Write to a spawned process's stdin (waits while the pipe is full); ``data``
        is bytes, or a ``str`` sent as UTF-8."""
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


class NetApi(_Namespace):
    """``net.*``: HTTP into a VM."""

    async def fetch(
        self,
        vm_id: str,
        port: int,
        path: str = "/",
        *,
        method: str = "GET",
        headers: list[p.HttpHeader] | list[tuple[str, str]] | None = None,
        body: bytes = b"",
        timeout_ms: int = 30_000,
    ) -> p.NetFetchResult:
        """Send one HTTP/1.1 request to a guest listening on VM-loopback ``port`` and
        return its status, headers (a list: repeats kept) and whole body. ``headers``
        may be ``HttpHeader`` structs or ``(name, value)`` pairs. Fails with kind
        ``connection_refused`` (nothing listens), ``connection_closed`` (the guest
        closed early), ``guest_error`` (not HTTP), ``timeout`` or ``limit_exceeded``
        (a body too large for one frame)."""
        fields = [h if isinstance(h, p.HttpHeader) else p.HttpHeader(name=h[0], value=h[1]) for h in headers or []]
        return await self._conn.call(
            "net.fetch",
            p.NetFetchParams(vm_id=vm_id, port=port, method=method, path=path, headers=fields, body=body, timeout_ms=timeout_ms),
        )


class PreviewApi(_Namespace):
    """``preview.*``: signed URLs that serve a guest port over HTTP on the host."""

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> p.PreviewStartResult:
        """Start the sidecar's preview server (port 0: any free port); returns its
        ``url_base``. When it already runs (``--preview`` or an earlier call), returns
        its address."""
        return await self._conn.call("preview.start", p.PreviewStartParams(host=host, port=port))

    async def create_url(self, vm_id: str, port: int, ttl_seconds: int = 0) -> p.PreviewCreateUrlResult:
        """A signed URL that proxies to ``port`` in the VM for ``ttl_seconds`` (0: one
        hour): ``url``, ``path`` (``/<token>/``), ``token``, ``expires_at`` (ms since
        the epoch). Needs a running preview server (kind ``unavailable`` otherwise)."""
        return await self._conn.call(
            "preview.createUrl", p.PreviewCreateUrlParams(vm_id=vm_id, port=port, ttl_seconds=ttl_seconds)
        )

    async def revoke(self, token: str) -> p.PreviewRevokeResult:
        """Revoke a preview token: requests with it get 403 from now on."""
        return await self._conn.call("preview.revoke", p.PreviewRevokeParams(token=token))


class SessionApi(_Namespace):
    """``session.*``: ACP agent sessions. The agent runs inside the VM; each call is
    one whole ACP exchange. Updates stream as ``session.update`` events (subscribe with
    ``client.events()`` before prompting). With ``permission_policy="ask"``, answer
    permission requests with ``client.on_request("session.requestPermission", handler)``:
    the handler gets ``{sessionId, toolCall, options}`` and returns ``{"outcome":
    {"outcome": "selected", "optionId": ...}}`` or ``{"outcome": {"outcome": "cancelled"}}``."""

    async def create(
        self,
        vm_id: str,
        agent: p.AgentSpec = "reference",
        *,
        mcp_servers: list[dict] | None = None,
        permission_policy: p.PermissionPolicy = "ask",
        timeouts: p.SessionTimeouts | None = None,
        auth_method: str | None = None,
    ) -> p.SessionCreateResult:
        """Start ``agent`` (a preset name or an ``AgentCommand``) in the VM and open an
        ACP session with it (initialize, authenticate if required, session/new)."""
        return await self._conn.call(
            "session.create",
            p.SessionCreateParams(
                vm_id=vm_id, agent=agent, mcp_servers=mcp_servers or [], permission_policy=permission_policy,
                timeouts=timeouts or p.SessionTimeouts(), auth_method=auth_method,
            ),
        )

    async def load(
        self,
        vm_id: str,
        agent_session_id: str,
        agent: p.AgentSpec = "reference",
        *,
        mcp_servers: list[dict] | None = None,
        permission_policy: p.PermissionPolicy = "ask",
        timeouts: p.SessionTimeouts | None = None,
        auth_method: str | None = None,
    ) -> p.SessionLoadResult:
        """Open an earlier agent session in a new agent process (ACP session/load;
        the agent replays it as events). ``unsupported`` unless the agent can."""
        return await self._conn.call(
            "session.load",
            p.SessionLoadParams(
                vm_id=vm_id, agent_session_id=agent_session_id, agent=agent, mcp_servers=mcp_servers or [],
                permission_policy=permission_policy, timeouts=timeouts or p.SessionTimeouts(), auth_method=auth_method,
            ),
        )

    async def resume(
        self,
        vm_id: str,
        agent_session_id: str,
        agent: p.AgentSpec = "reference",
        *,
        mcp_servers: list[dict] | None = None,
        permission_policy: p.PermissionPolicy = "ask",
        timeouts: p.SessionTimeouts | None = None,
        auth_method: str | None = None,
    ) -> p.SessionResumeResult:
        """Open an earlier agent session without replay (ACP session/resume)."""
        return await self._conn.call(
            "session.resume",
            p.SessionResumeParams(
                vm_id=vm_id, agent_session_id=agent_session_id, agent=agent, mcp_servers=mcp_servers or [],
                permission_policy=permission_policy, timeouts=timeouts or p.SessionTimeouts(), auth_method=auth_method,
            ),
        )

    async def prompt(self, session_id: str, prompt: list[dict] | str) -> p.SessionPromptResult:
        """Run one prompt turn to its stop reason; a string is sent as one text block."""
        blocks = [{"type": "text", "text": prompt}] if isinstance(prompt, str) else prompt
        return await self._conn.call("session.prompt", p.SessionPromptParams(session_id=session_id, prompt=blocks))

    async def cancel(self, session_id: str) -> p.SessionCancelResult:
        """Cancel the running prompt turn; it ends with stop reason ``cancelled``."""
        return await self._conn.call("session.cancel", p.SessionCancelParams(session_id=session_id))

    async def close(self, session_id: str) -> p.SessionCloseResult:
        """Close the session and stop its agent; returns the agent's exit code."""
        return await self._conn.call("session.close", p.SessionCloseParams(session_id=session_id))

    async def list(self, vm_id: str | None = None) -> p.SessionListResult:
        """The open sessions (of one VM, or all)."""
        return await self._conn.call("session.list", p.SessionListParams(vm_id=vm_id))

    async def events(self, session_id: str, since: int = 0) -> p.SessionEventsResult:
        """The session's kept updates with ``seq`` greater than ``since``."""
        return await self._conn.call("session.events", p.SessionEventsParams(session_id=session_id, since=since))

    async def set_mode(self, session_id: str, mode_id: str) -> p.SessionSetModeResult:
        """Switch the agent's mode (ACP session/set_mode)."""
        return await self._conn.call("session.setMode", p.SessionSetModeParams(session_id=session_id, mode_id=mode_id))

    async def set_config_option(self, session_id: str, config_id: str, value: object) -> p.SessionSetConfigOptionResult:
        """Set one of the agent's config options (ACP session/set_config_option)."""
        return await self._conn.call(
            "session.setConfigOption",
            p.SessionSetConfigOptionParams(session_id=session_id, config_id=config_id, value=value),
        )
