"""The router: one client connection, its VMs spread over worker sidecars.

Each request goes to the worker that owns what it names: a VM (``vmId``), or a
session (``sessionId``, learnt from the answer that opened it). ``vm.create`` places
the new VM on the worker with the fewest; ``vm.list`` asks every worker;
``session.list`` with no VM too; ``software.list`` asks one (they serve the same /bin
layer). Params travel as the client wrote them: the router decodes only the names it
routes by, and the worker decodes the rest (a 10 MB ``fs.writeFile`` is not decoded
and encoded again on the way). Results, errors and events travel back as the worker
wrote them. The preview server is the router's, passing each request to the worker
that runs its VM (previews.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import msgspec
import trio

from agentvm_protocol import METHODS, PreviewRevokeParams, PreviewStartParams, PreviewStartResult, SessionListResult, VmListResult

from ..api import HANDLERS, Handler, RequestContext
from ..logs import get_logger
from ..rpc.errors import ForwardedError, RpcError
from .link import WorkerLink
from .previews import RouterPreviews

__all__ = ["ROUTED_HANDLERS", "Router", "WorkersFailed"]

log = get_logger("workers")

_SESSION_OPENERS = ("session.create", "session.load", "session.resume")


class _Names(msgspec.Struct, rename="camel"):
    """What the router routes a request by; the worker checks all of its params."""

    vm_id: str | None = None
    session_id: str | None = None


_names_decoder = msgspec.json.Decoder(_Names)


def _names(method: str, params: msgspec.Raw) -> _Names:
    """The names ``params`` route by. Raises: msgspec.ValidationError, the one a
    plain sidecar's decoder gives for these params when they are malformed."""
    try:
        return _names_decoder.decode(params)
    except msgspec.ValidationError:
        METHODS[method].params_decoder.decode(params)
        raise


_vm_list_decoder = msgspec.json.Decoder(VmListResult)
_session_list_decoder = msgspec.json.Decoder(SessionListResult)


class WorkersFailed(RuntimeError):
    """A worker could not be started (the router then serves nothing)."""


class Router:
    """The workers of one connection and what each owns."""

    def __init__(self, links: list[WorkerLink], nursery: trio.Nursery) -> None:
        self._links = links
        self.previews = RouterPreviews(self, nursery)
        self._vm_owner: dict[str, WorkerLink] = {}
        self._session_owner: dict[str, WorkerLink] = {}
        self._session_vm: dict[str, str] = {}  # forgotten with their VM
        self.connection: Any = None  # the rpc Connection events and client requests go to

    @classmethod
    @asynccontextmanager
    async def started(cls, count: int, argv: Sequence[str], max_frame_bytes: int) -> AsyncIterator[Router]:
        """``count`` workers started (at once) and greeted; stopped on exit, each
        disposing its VMs. Raises: WorkersFailed when a worker cannot start (those
        that did are stopped first)."""
        links: list[WorkerLink] = []
        failures: list[str] = []
        async with trio.open_nursery() as nursery:
            router = cls(links, nursery)
            try:
                async with trio.open_nursery() as starting:
                    for index in range(count):
                        starting.start_soon(router._start_worker, index, argv, max_frame_bytes, nursery, failures)
                if not failures:
                    links.sort(key=lambda link: link.index)
                    log.info("workers_started", count=count)
                    yield router
            finally:
                with trio.CancelScope(shield=True):
                    async with trio.open_nursery() as stopping:
                        for link in links:
                            stopping.start_soon(link.stop)
                nursery.cancel_scope.cancel()
        if failures:  # raised here, not in the nursery: one plain exception, not a group
            raise WorkersFailed("; ".join(failures))

    async def _start_worker(
        self, index: int, argv: Sequence[str], max_frame_bytes: int, nursery: trio.Nursery, failures: list[str]
    ) -> None:
        try:
            self._links.append(await WorkerLink.start(index, argv, max_frame_bytes, nursery, self._on_event, self._on_request))
        except OSError as exc:
            failures.append(f"worker {index} did not start: {exc}")
        except RpcError as exc:
            failures.append(str(exc))

    async def _on_event(self, params: msgspec.Raw) -> None:
        if self.connection is not None:
            await self.connection.emit(params)

    async def _on_request(self, method: str, params: msgspec.Raw) -> msgspec.Raw:
        if self.connection is None:
            raise RpcError("unavailable", "no client connection")
        result: msgspec.Raw = await self.connection.client_requests.call(method, params)
        return result

    # -- owners ----------------------------------------------------------------------
    def vm_owner(self, method: str, params: msgspec.Raw) -> WorkerLink:
        """The worker running the VM ``params`` name; with none named, any (its
        decoder then answers the params as a plain sidecar would).
        Raises: not_found, after the params' own errors (a plain sidecar decodes
        them before it looks the VM up)."""
        return self._owner(method, params, _names(method, params).vm_id, self._vm_owner, "VM")

    def session_owner(self, method: str, params: msgspec.Raw) -> WorkerLink:
        """As ``vm_owner``, for the session ``params`` name."""
        return self._owner(method, params, _names(method, params).session_id, self._session_owner, "session")

    def _owner(
        self, method: str, params: msgspec.Raw, name: str | None, owners: dict[str, WorkerLink], what: str
    ) -> WorkerLink:
        if name is None:
            return self.any_live()
        link = owners.get(name)
        if link is None:
            METHODS[method].params_decoder.decode(params)
            raise RpcError("not_found", f"no {what} {name!r}")
        return link

    def vm_link(self, vm_id: str) -> WorkerLink | None:
        """The worker running VM ``vm_id``, if the router placed it."""
        return self._vm_owner.get(vm_id)

    def live(self) -> list[WorkerLink]:
        return [link for link in self._links if link.alive]

    def any_live(self) -> WorkerLink:
        live = self.live()
        if not live:
            raise RpcError("unavailable", "every worker process has exited")
        return live[0]

    # -- the requests that are more than forwarding ------------------------------------
    async def create_vm(self, params: msgspec.Raw) -> msgspec.Raw:
        self.any_live()
        link = min(self.live(), key=lambda candidate: candidate.vm_count)
        link.vm_count += 1  # counted before the answer: concurrent creates spread out
        try:
            raw = await link.call("vm.create", params)
        except BaseException:
            link.vm_count -= 1
            raise
        self._vm_owner[METHODS["vm.create"].result_decoder.decode(raw).vm_id] = link
        return raw

    async def dispose_vm(self, params: msgspec.Raw) -> msgspec.Raw:
        vm_id = _names("vm.dispose", params).vm_id
        link = self.vm_owner("vm.dispose", params)
        if vm_id is not None and not link.alive:  # gone with its worker: nothing left to dispose
            self._forget_vm(vm_id)
            return msgspec.Raw(b"{}")
        try:
            raw = await link.call("vm.dispose", params)
        except ForwardedError as exc:
            if vm_id is not None and exc.error.data is not None and exc.error.data.kind == "not_found":
                self._forget_vm(vm_id)
            raise
        if vm_id is not None:
            self._forget_vm(vm_id)
        return raw

    def _forget_vm(self, vm_id: str) -> None:
        link = self._vm_owner.pop(vm_id, None)
        if link is not None:
            link.vm_count -= 1
        for session_id, owner_vm in list(self._session_vm.items()):
            if owner_vm == vm_id:
                self._forget_session(session_id)

    def _forget_session(self, session_id: str) -> None:
        self._session_owner.pop(session_id, None)
        self._session_vm.pop(session_id, None)

    async def ask_all(self, method: str, params: msgspec.Raw) -> list[msgspec.Raw]:
        """``method(params)`` on every live worker at once; their raw answers.
        Raises: the first worker's error (as one worker's would be: not a group)."""
        answers: list[msgspec.Raw] = []
        errors: list[Exception] = []

        async def ask(link: WorkerLink) -> None:
            try:
                answers.append(await link.call(method, params))
            except (ForwardedError, RpcError) as exc:
                errors.append(exc)

        async with trio.open_nursery() as nursery:
            for link in self.live():
                nursery.start_soon(ask, link)
        if errors:
            raise errors[0]
        return answers

    async def list_vms(self, params: msgspec.Raw) -> VmListResult:
        answers = await self.ask_all("vm.list", params)
        return VmListResult(vms=[vm for raw in answers for vm in _vm_list_decoder.decode(raw).vms])

    async def list_sessions(self, params: msgspec.Raw) -> msgspec.Raw | SessionListResult:
        """One VM's sessions from its worker; with no VM, every worker's."""
        if _names("session.list", params).vm_id is not None:
            return await self.vm_owner("session.list", params).call("session.list", params)
        answers = await self.ask_all("session.list", params)
        return SessionListResult(sessions=[s for raw in answers for s in _session_list_decoder.decode(raw).sessions])

    async def open_session(self, method: str, params: msgspec.Raw) -> msgspec.Raw:
        vm_id = _names(method, params).vm_id
        link = self.vm_owner(method, params)
        raw = await link.call(method, params)
        if vm_id is not None:
            session_id = METHODS[method].result_decoder.decode(raw).session_id
            self._session_owner[session_id] = link
            self._session_vm[session_id] = vm_id
        return raw

    async def close_session(self, params: msgspec.Raw) -> msgspec.Raw:
        session_id = _names("session.close", params).session_id
        raw = await self.session_owner("session.close", params).call("session.close", params)
        if session_id is not None:
            self._forget_session(session_id)
        return raw


def _forward_by_vm(method: str) -> Handler:
    async def forward(ctx: RequestContext, params: msgspec.Raw) -> msgspec.Raw:
        router: Router = ctx.vms  # type: ignore[assignment]
        return await router.vm_owner(method, params).call(method, params)

    return forward


def _forward_by_session(method: str) -> Handler:
    async def forward(ctx: RequestContext, params: msgspec.Raw) -> msgspec.Raw:
        router: Router = ctx.vms  # type: ignore[assignment]
        return await router.session_owner(method, params).call(method, params)

    return forward


def _open_session(method: str) -> Handler:
    async def open_(ctx: RequestContext, params: Any) -> msgspec.Raw:
        router: Router = ctx.vms  # type: ignore[assignment]
        return await router.open_session(method, params)

    return open_


_start_params = METHODS["preview.start"].params_decoder
_revoke_params = METHODS["preview.revoke"].params_decoder


async def _preview_start(ctx: RequestContext, params: msgspec.Raw) -> PreviewStartResult:
    router: Router = ctx.vms  # type: ignore[assignment]
    p: PreviewStartParams = _start_params.decode(params)
    return PreviewStartResult(url_base=await router.previews.start(p.host, p.port))


async def _preview_revoke(ctx: RequestContext, params: msgspec.Raw) -> msgspec.Raw:
    router: Router = ctx.vms  # type: ignore[assignment]
    p: PreviewRevokeParams = _revoke_params.decode(params)
    return await router.previews.revoke(p.token, params)


async def _software_list(ctx: RequestContext, params: msgspec.Raw) -> msgspec.Raw:
    router: Router = ctx.vms  # type: ignore[assignment]
    return await router.any_live().call("software.list", params)


def _routed_handlers() -> dict[str, Handler]:
    special: dict[str, Handler] = {
        "vm.create": lambda ctx, params: ctx.vms.create_vm(params),  # type: ignore[attr-defined]
        "vm.dispose": lambda ctx, params: ctx.vms.dispose_vm(params),  # type: ignore[attr-defined]
        "vm.list": lambda ctx, params: ctx.vms.list_vms(params),  # type: ignore[attr-defined]
        "session.list": lambda ctx, params: ctx.vms.list_sessions(params),  # type: ignore[attr-defined]
        "session.close": lambda ctx, params: ctx.vms.close_session(params),  # type: ignore[attr-defined]
        "software.list": _software_list,
        "preview.start": _preview_start,
        "preview.createUrl": lambda ctx, params: ctx.vms.previews.create_url(params),  # type: ignore[attr-defined]
        "preview.revoke": _preview_revoke,
    }
    table: dict[str, Handler] = {}
    for method in HANDLERS:
        fields = {f.name for f in msgspec.structs.fields(METHODS[method].params)}
        if method in special:
            table[method] = special[method]
        elif method in _SESSION_OPENERS:
            table[method] = _open_session(method)
        elif "vm_id" in fields:
            table[method] = _forward_by_vm(method)
        elif "session_id" in fields:
            table[method] = _forward_by_session(method)
        else:
            raise RuntimeError(f"no route for {method!r}: it names no VM nor session")
    return table


ROUTED_HANDLERS = _routed_handlers()
