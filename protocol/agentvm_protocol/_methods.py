"""The method table: every wire method name mapped to its params and result types.

The name is the dispatch key, exactly as on the wire. The sidecar serves this table,
both clients expose every entry (a test enforces it), and schemas/ is generated from it.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from . import _fetch as fetch
from . import _fs as fs
from . import _net as net
from . import _preview as preview
from . import _process as proc
from . import _session as ses
from . import _software as software
from . import _tools as tools
from . import _vm as vm
from ._handshake import HelloParams, HelloResult
from ._process import ProcessExitEvent, ProcessOutputEvent
from ._session import SessionUpdateEvent

__all__ = ["CANCEL_METHOD", "CLIENT_REQUESTS", "EVENT_METHOD", "EVENT_TYPES", "METHODS", "NOTIFIABLE_METHODS", "Event", "MethodSpec"]


@dataclass(frozen=True)
class MethodSpec:
    """Params and result types of one method, with decoders built once."""

    name: str
    params: type[msgspec.Struct]
    result: type

    @property
    def params_decoder(self) -> msgspec.json.Decoder:
        return _decoder(self.params)

    @property
    def result_decoder(self) -> msgspec.json.Decoder:
        return _decoder(self.result)


_DECODERS: dict[type, msgspec.json.Decoder] = {}


def _decoder(tp: type) -> msgspec.json.Decoder:
    dec = _DECODERS.get(tp)
    if dec is None:
        dec = _DECODERS[tp] = msgspec.json.Decoder(tp)
    return dec


def _table(*rows: tuple[str, type[msgspec.Struct], type]) -> dict[str, MethodSpec]:
    return {name: MethodSpec(name, params, result) for name, params, result in rows}


METHODS: dict[str, MethodSpec] = _table(
    ("hello", HelloParams, HelloResult),
    ("vm.create", vm.VmCreateParams, vm.VmCreateResult),
    ("vm.dispose", vm.VmDisposeParams, vm.VmDisposeResult),
    ("vm.list", vm.VmListParams, vm.VmListResult),
    ("vm.info", vm.VmInfoParams, vm.VmInfoResult),
    ("vm.setNetworkPolicy", net.VmSetNetworkPolicyParams, net.VmSetNetworkPolicyResult),
    ("fs.readFile", fs.FsReadFileParams, fs.FsReadFileResult),
    ("fs.writeFile", fs.FsWriteFileParams, fs.FsWriteFileResult),
    ("fs.readFiles", fs.FsReadFilesParams, fs.FsReadFilesResult),
    ("fs.writeFiles", fs.FsWriteFilesParams, fs.FsWriteFilesResult),
    ("fs.mkdir", fs.FsMkdirParams, fs.FsMkdirResult),
    ("fs.readdir", fs.FsReaddirParams, fs.FsReaddirResult),
    ("fs.readdirRecursive", fs.FsReaddirRecursiveParams, fs.FsReaddirRecursiveResult),
    ("fs.stat", fs.FsStatParams, fs.FsStatResult),
    ("fs.lstat", fs.FsLstatParams, fs.FsStatResult),
    ("fs.exists", fs.FsExistsParams, fs.FsExistsResult),
    ("fs.move", fs.FsMoveParams, fs.FsMoveResult),
    ("fs.delete", fs.FsDeleteParams, fs.FsDeleteResult),
    ("fs.symlink", fs.FsSymlinkParams, fs.FsSymlinkResult),
    ("fs.readlink", fs.FsReadlinkParams, fs.FsReadlinkResult),
    ("fs.chmod", fs.FsChmodParams, fs.FsChmodResult),
    ("fs.mount", fs.FsMountParams, fs.FsMountResult),
    ("fs.unmount", fs.FsUnmountParams, fs.FsUnmountResult),
    ("process.exec", proc.ProcessExecParams, proc.ProcessExecResult),
    ("process.spawn", proc.ProcessSpawnParams, proc.ProcessSpawnResult),
    ("process.ackOutput", proc.ProcessAckOutputParams, proc.ProcessAckOutputResult),
    ("process.writeStdin", proc.ProcessWriteStdinParams, proc.ProcessWriteStdinResult),
    ("process.closeStdin", proc.ProcessCloseStdinParams, proc.ProcessCloseStdinResult),
    ("process.kill", proc.ProcessKillParams, proc.ProcessKillResult),
    ("process.wait", proc.ProcessWaitParams, proc.ProcessWaitResult),
    ("process.list", proc.ProcessListParams, proc.ProcessListResult),
    ("process.tree", proc.ProcessTreeParams, proc.ProcessTreeResult),
    ("software.list", software.SoftwareListParams, software.SoftwareListResult),
    # HTTP into the VM: net.fetch and preview URLs (sidecar/agentvm_sidecar/net/fetch.py, preview.py)
    ("net.fetch", fetch.NetFetchParams, fetch.NetFetchResult),
    ("preview.start", preview.PreviewStartParams, preview.PreviewStartResult),
    ("preview.createUrl", preview.PreviewCreateUrlParams, preview.PreviewCreateUrlResult),
    ("preview.revoke", preview.PreviewRevokeParams, preview.PreviewRevokeResult),
    ("session.create", ses.SessionCreateParams, ses.SessionCreateResult),
    ("session.prompt", ses.SessionPromptParams, ses.SessionPromptResult),
    ("session.cancel", ses.SessionCancelParams, ses.SessionCancelResult),
    ("session.close", ses.SessionCloseParams, ses.SessionCloseResult),
    ("session.list", ses.SessionListParams, ses.SessionListResult),
    ("session.events", ses.SessionEventsParams, ses.SessionEventsResult),
    ("session.setMode", ses.SessionSetModeParams, ses.SessionSetModeResult),
    ("session.setConfigOption", ses.SessionSetConfigOptionParams, ses.SessionSetConfigOptionResult),
    ("session.load", ses.SessionLoadParams, ses.SessionLoadResult),
    ("session.resume", ses.SessionResumeParams, ses.SessionResumeResult),
    ("tools.register", tools.ToolsRegisterParams, tools.ToolsRegisterResult),
    ("tools.unregister", tools.ToolsUnregisterParams, tools.ToolsUnregisterResult),
    ("tools.list", tools.ToolsListParams, tools.ToolsListResult),
    ("tools.rotateToken", tools.ToolsRotateTokenParams, tools.ToolsRotateTokenResult),
    ("tools.log", tools.ToolsLogParams, tools.ToolsLogResult),
)

# Requests the SIDECAR sends to the CLIENT (JSON-RPC is symmetric, ``$/cancelRequest``
# included): the client answers them with a handler it registers (``on_request`` /
# ``onRequest``; ``on_tool`` / ``onTool`` for tools).
CLIENT_REQUESTS: dict[str, MethodSpec] = _table(
    ("session.requestPermission", ses.SessionRequestPermissionParams, ses.SessionRequestPermissionResult),
    ("tools.invoke", tools.ToolsInvokeParams, tools.ToolsInvokeResult),
)

# Notification the client sends to abandon one of its in-flight requests
# (``{"id": <request id>}``); the request then fails with kind ``cancelled``.
CANCEL_METHOD = "$/cancelRequest"
# Notification the sidecar sends for streamed data; params is one Event.
EVENT_METHOD = "event"
# Methods a client may also send as notifications (no id): the sidecar runs them and
# sends no answer. Only fire-and-forget plumbing belongs here.
NOTIFIABLE_METHODS = frozenset({"process.ackOutput"})

Event = ProcessOutputEvent | ProcessExitEvent | SessionUpdateEvent
EVENT_TYPES: tuple[type[msgspec.Struct], ...] = (ProcessOutputEvent, ProcessExitEvent, SessionUpdateEvent)

