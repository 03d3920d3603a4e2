# One VM's host tools: specs and their validators, the bearer token, jobs, the
# audit log, and the tools.invoke round trip to the client.
#
# The guest reaches them at http://tools.agentvm.internal/ (a VM-internal service
# of the VM's socket table, net/services.py: no host network, no egress policy,
# invisible to other VMs); each connection is served by http_api.py in the VM's
# nursery, at most MAX_CONNECTIONS at once (more are closed at once).  The token
# reaches guests as AGENTVM_TOOLS_TOKEN in every process's default environment;
# rotating it changes what new processes get and refuses the old one at once.
#
# Calls go to the client connection that last registered tools (ask_client); a
# call whose client is gone fails with 502.

from __future__ import annotations

import functools
import hmac
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec
import trio

from agentvm_protocol import CLIENT_REQUESTS, MAX_TOOLS_PER_VM, ToolsInvokeParams, ToolSpec

from ..kernel.fstypes import CLIENT
from ..kernel.kernel import Kernel
from ..logs import get_logger
from ..net import HostConnection
from ..rpc.errors import RpcError
from ..vm_tasks import VmTasks
from .audit import AuditLog
from .guest_stream import GuestStream
from .jobs import Job, JobError, Jobs
from .openapi import openapi_document, readme_text

if TYPE_CHECKING:
    import jsonschema

__all__ = ["BASE_URL", "MAX_CONNECTIONS", "MAX_TOOLS", "TOKEN_ENV", "TOOLS_DIR", "TOOLS_HOST", "VmTools"]

TOOLS_HOST = "tools.agentvm.internal"
BASE_URL = f"http://{TOOLS_HOST}"
TOOLS_DIR = "/etc/agentvm/tools"
TOKEN_ENV = "AGENTVM_TOOLS_TOKEN"
MAX_CONNECTIONS = 32
MAX_TOOLS = MAX_TOOLS_PER_VM
MAX_VALIDATION_ERRORS = 50

log = get_logger("tools")
_invoke_result = CLIENT_REQUESTS["tools.invoke"].result_decoder

AskClient = Callable[[str, Any], Awaitable[msgspec.Raw]]


@dataclass(frozen=True)
class _Tool:
    spec: ToolSpec
    input: jsonschema.protocols.Validator
    output: jsonschema.protocols.Validator | None


def _validator(schema: dict[str, Any], what: str) -> jsonschema.protocols.Validator:
    """Raises: RpcError invalid_params (not a valid JSON Schema)."""
    import jsonschema  # here, not at the top: importing it is ~40 ms of every sidecar start

    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise RpcError("invalid_params", f"{what} is not a valid JSON Schema: {exc.message}") from None
    return cls(schema)


def _errors(validator: jsonschema.protocols.Validator, value: Any) -> list[str]:
    found = []
    for error in validator.iter_errors(value):
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        found.append(f"{where}: {error.message}")
        if len(found) >= MAX_VALIDATION_ERRORS:
            break
    return sorted(found)


def _rendered_docs(specs: list[ToolSpec]) -> tuple[bytes, bytes]:
    """openapi.json and README.md for ``specs``."""
    return json.dumps(openapi_document(specs, BASE_URL), indent=2).encode(), readme_text(specs, BASE_URL).encode()


@functools.cache
def _docs_without_tools() -> tuple[bytes, bytes]:
    """The docs every new VM starts with, rendered once: rendering costs about
    0.3 ms, a third of what vm.create may take (issue 11)."""
    return _rendered_docs([])


class VmTools:
    """The host tools of one VM."""

    def __init__(
        self, vm_id: str, kernel: Kernel, tasks: VmTasks, set_env: Callable[[str, str], None], audit: AuditLog
    ) -> None:
        self.vm_id = vm_id
        self.audit = audit
        self.jobs = Jobs(tasks)
        self._kernel = kernel
        self._tasks = tasks
        self._set_env = set_env
        self._tools: dict[str, _Tool] = {}
        self._ask_client: AskClient | None = None
        self._connections = 0
        self._trio_token = trio.lowlevel.current_trio_token()
        self.token = ""
        self.rotate_token()
        kernel.sockets.services.add(TOOLS_HOST, 80, self._accept)

    # -- client side (tools.* handlers) ---------------------------------------------
    def rotate_token(self) -> None:
        self.token = secrets.token_urlsafe(32)
        self._set_env(TOKEN_ENV, self.token)

    def register(self, specs: list[ToolSpec], ask_client: AskClient) -> None:
        """Raises: RpcError invalid_params (a schema that is not a JSON Schema)."""
        built = {
            s.name: _Tool(
                s,
                _validator(s.input_schema, f"{s.name}.inputSchema"),
                None if s.output_schema is None else _validator(s.output_schema, f"{s.name}.outputSchema"),
            )
            for s in specs
        }
        self._tools.update(built)
        self._ask_client = ask_client

    def unregister(self, names: list[str]) -> None:
        for name in names:
            self._tools.pop(name, None)

    def specs(self) -> list[ToolSpec]:
        return [t.spec for t in self._tools.values()]

    def openapi(self) -> dict[str, Any]:
        return openapi_document(self.specs(), BASE_URL)

    async def write_docs(self) -> None:
        """(Re)write /etc/agentvm/tools/{openapi.json,README.md} in the VM (on a
        worker thread: the VM's guests may hold its lock)."""
        await trio.to_thread.run_sync(self.write_docs_blocking)

    def write_docs_blocking(self) -> None:
        """:meth:`write_docs` on this thread; it may wait for the VM lock, so only
        for a VM no guest runs in yet (vm.create) or off the trio thread."""
        specs = self.specs()
        document, readme = _rendered_docs(specs) if specs else _docs_without_tools()
        vfs = self._kernel.vfs
        vfs.mkdir(TOOLS_DIR, 0o755, recursive=True, cred=CLIENT)  # once, not per file: ~45 us of a vm.create
        vfs.write_file(f"{TOOLS_DIR}/openapi.json", document, mode=0o644, cred=CLIENT)
        vfs.write_file(f"{TOOLS_DIR}/README.md", readme, mode=0o644, cred=CLIENT)

    # -- guest side (http_api) ---------------------------------------------------------
    def authorized(self, header: bytes | None) -> bool:
        expected = b"Bearer " + self.token.encode()
        return header is not None and hmac.compare_digest(header, expected)

    def _accept(self, conn: HostConnection) -> None:
        """A guest connected (called on its thread): serve it in the VM's nursery."""
        try:
            self._trio_token.run_sync_soon(self._serve_soon, conn)
        except trio.RunFinishedError:
            conn.close()

    def _serve_soon(self, conn: HostConnection) -> None:
        if self._connections >= MAX_CONNECTIONS:
            log.warning("tools_connection_refused", vm_id=self.vm_id, reason="too_many_connections")
            conn.close()
            return
        from .http_api import serve_connection  # http_api imports this module

        self._connections += 1
        try:
            self._tasks.start_soon(self._serve, conn, serve_connection)
        except RuntimeError:  # the VM's nursery is closing
            self._connections -= 1
            conn.close()

    async def _serve(self, conn: HostConnection, serve: Callable[[GuestStream, VmTools], Awaitable[None]]) -> None:
        stream = GuestStream(conn)
        try:
            await serve(stream, self)
        finally:
            stream.close()
            self._connections -= 1

    async def call(self, name: str, body: bytes) -> tuple[int, Any]:
        """``POST /tools/<name>``: (status, JSON body). Audited."""
        started = time.monotonic()
        try:
            status, answer = await self._call(name, body)
        except JobError as exc:
            status, answer = exc.status, exc.body()
        self.audit.record("tool", name, str(status), int((time.monotonic() - started) * 1000))
        return status, answer

    async def _call(self, name: str, body: bytes) -> tuple[int, Any]:
        tool = self._tools.get(name)
        if tool is None:
            raise JobError(404, "not_found", f"no tool {name!r}")
        try:
            value = json.loads(body or b"null")
        except (ValueError, RecursionError):
            raise JobError(400, "invalid_json", "the body is not JSON") from None
        errors = _errors(tool.input, value)
        if errors:
            raise JobError(400, "invalid_input", "the input does not match the tool's input schema", errors)
        if not tool.spec.long_running:
            return 200, await self._invoke(tool, value)
        started = time.monotonic()

        def ended(job: Job) -> None:
            self.audit.record("tool", f"{name} ({job.job_id})", job.state, int((time.monotonic() - started) * 1000))

        job = self.jobs.start(name, lambda: self._invoke(tool, value), ended)
        return 202, {"jobId": job.job_id}

    async def _invoke(self, tool: _Tool, value: Any) -> Any:
        """The client's answer, checked. Raises: JobError 502/503/504."""
        ask = self._ask_client
        if ask is None:
            raise JobError(503, "unavailable", "no client serves this tool")
        params = ToolsInvokeParams(vm_id=self.vm_id, name=tool.spec.name, input=value)
        try:
            with trio.fail_after(tool.spec.timeout_ms / 1000):
                raw = await ask("tools.invoke", params)
        except trio.TooSlowError:
            raise JobError(504, "timeout", f"the tool did not answer within {tool.spec.timeout_ms} ms") from None
        except RpcError as exc:
            raise JobError(502, "tool_failed", str(exc)) from None
        try:
            output = _invoke_result.decode(raw).output
        except msgspec.ValidationError as exc:
            raise JobError(502, "invalid_output", f"the client's answer is malformed: {exc}") from None
        if tool.output is not None:
            errors = _errors(tool.output, output)
            if errors:
                raise JobError(502, "invalid_output", "the output does not match the tool's output schema", errors)
        return output
