"""The public client classes: :class:`AsyncClient` (trio) and :class:`Client` (blocking).

``Client`` is a facade, not a second implementation: it runs an ``AsyncClient`` on a
private trio loop in a background thread, which reads the sidecar's answers and
events. Its namespaces are generated (``_surface.py``) so they carry the async
methods' exact signatures, and run those very methods to their end on the caller's
thread over a connection whose ``call`` blocks (``Connection.call_blocking``: the
caller writes its request and sleeps until the reader task hands it the answer).
Everything else (handles, events) is forwarded with ``trio.from_thread.run``. Once
closed, every call raises :class:`SidecarError` (never trio's ``RunFinishedError``).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from types import TracebackType
from typing import Any, cast

import msgspec
import trio

from agentvm_protocol import Event, HelloResult, VmConfig

from ._connection import DEFAULT_HANDSHAKE_TIMEOUT_S, Connection, RequestHandler
from ._errors import SidecarError
from ._events import EventSubscription
from ._handles import AsyncVm
from ._surface import AsyncSurface, SyncSurface
from ._sync_handles import Vm
from ._tools import ToolHandler, ToolHandlers

__all__ = ["AsyncClient", "Client"]


class AsyncClient(AsyncSurface):
    """A connection to one ``agentvm-sidecar --stdio`` subprocess (trio).

    Use :meth:`connect`; leaving the block closes the sidecar's stdin, which disposes
    every VM, and waits for it to exit. Methods live in namespaces mirroring the wire:
    ``client.vm.create()``, ``client.fs.read_file(...)``, ``client.process.exec(...)``;
    :meth:`create_vm` returns a VM handle (``vm.fs.write``, ``vm.exec``, ``vm.spawn``).
    """

    def __init__(self, conn: Connection) -> None:
        super().__init__(conn)
        self._conn = conn
        self._tool_handlers = ToolHandlers()

    @classmethod
    @asynccontextmanager
    async def connect(
        cls,
        command: Sequence[str] | None = None,
        *,
        env: dict[str, str] | None = None,
        stderr: int | None = None,
        handshake_timeout: float = DEFAULT_HANDSHAKE_TIMEOUT_S,
    ) -> AsyncIterator[AsyncClient]:
        """Spawn the sidecar (``command`` defaults to ``$AGENTVM_SIDECAR`` or this Python
        running ``agentvm_sidecar --stdio``), do the handshake, yield a ready client.
        ``env`` is the sidecar's environment, ``stderr`` where its logs go (default:
        inherited).

        Raises:
            SidecarError: the sidecar failed to start, died, or did not answer
                ``hello`` within ``handshake_timeout`` seconds.
            VersionMismatchError: it speaks another protocol version.
        """
        async with Connection.open(command, env=env, stderr=stderr, handshake_timeout=handshake_timeout) as conn:
            yield cls(conn)

    @property
    def hello(self) -> HelloResult:
        """The sidecar's handshake answer (version, limits, methods)."""
        assert self._conn.hello is not None
        return self._conn.hello

    async def create_vm(self, config: VmConfig | None = None) -> AsyncVm:
        """Create a VM and return its handle (``async with`` disposes it)."""
        return AsyncVm(self, (await self.vm.create(config)).vm_id)

    async def call(self, method: str, params: msgspec.Struct) -> Any:
        """Call any wire method with its params Struct; returns its result Struct."""
        return await self._conn.call(method, params)

    async def call_raw(self, method: str, params: Any) -> Any:
        """Call a wire method with plain JSON params (camelCase); returns plain JSON."""
        return await self._conn.call_raw(method, params)

    @asynccontextmanager
    async def events(self) -> AsyncIterator[EventSubscription]:
        """Subscribe to ``event`` notifications (process output, exits...): ``async for
        event in subscription``. Subscribe before starting the work whose events you
        want: nothing is replayed. A subscription read slowly holds back only the
        output of the processes it watches (flow control), never other calls."""
        async with self._conn.subscribe() as subscription:
            yield subscription

    def on_request(self, method: str, handler: RequestHandler | None) -> None:
        """Answer requests the sidecar sends to the client (``method``) with ``await
        handler(params)`` (plain JSON in, JSON-able result out; raise ``RpcError`` to
        answer a specific error). ``None`` removes the handler; requests without one
        are answered ``method_not_found``."""
        self._conn.set_request_handler(method, handler)

    def on_tool(self, name: str, handler: ToolHandler | None) -> None:
        """Answer calls of host tool ``name`` (registered with ``tools.register``)
        with ``await handler(input, vm_id)``: ``input`` is the validated JSON input,
        the return value the output (checked against the tool's output schema).
        A guest cancelling the call cancels the handler. ``None`` removes it."""
        self._tool_handlers.set(name, handler)
        self._conn.set_request_handler("tools.invoke", self._tool_handlers.invoke if self._tool_handlers else None)


class _BlockingCalls:
    """The connection as the blocking namespaces see it: ``call`` blocks the
    caller's thread until the answer (``Client._call_blocking``)."""

    def __init__(self, client: Client) -> None:
        self._client = client

    async def call(self, method: str, params: msgspec.Struct) -> Any:
        return self._client._call_blocking(method, params)


class Client(SyncSurface):
    """Blocking facade over :class:`AsyncClient`; same namespaces and methods.

    ``client = Client.connect()`` starts the sidecar; ``client.close()`` (or leaving
    ``with Client.connect() as client:``) stops it, disposing every VM.
    """

    def __init__(self, aclient: AsyncClient, token: trio.lowlevel.TrioToken) -> None:
        # the forwarders use nothing of their connection but `call` (_surface_gen checks it)
        super().__init__(AsyncSurface(cast(Connection, _BlockingCalls(self))))
        self._aclient = aclient
        self._token = token
        self._closed = False
        self._stop: Callable[[], None] = lambda: None
        self._thread: threading.Thread | None = None

    @classmethod
    def connect(
        cls,
        command: Sequence[str] | None = None,
        *,
        env: dict[str, str] | None = None,
        stderr: int | None = None,
        handshake_timeout: float = DEFAULT_HANDSHAKE_TIMEOUT_S,
    ) -> Client:
        """Start the sidecar on a background trio loop and return a ready client; see
        :meth:`AsyncClient.connect`. Close it with :meth:`close` or a ``with`` block."""
        ready: dict[str, Any] = {}
        started = threading.Event()

        async def main() -> None:
            try:
                async with AsyncClient.connect(
                    command, env=env, stderr=stderr, handshake_timeout=handshake_timeout
                ) as aclient:
                    stop_event = trio.Event()
                    ready["client"] = cls(aclient, trio.lowlevel.current_trio_token())
                    ready["stop"] = stop_event
                    started.set()
                    await stop_event.wait()
            except BaseException as exc:
                ready["error"] = exc
                started.set()
                if not isinstance(exc, Exception):
                    raise

        thread = threading.Thread(target=trio.run, args=(main,), name="agentvm-client", daemon=True)
        thread.start()
        started.wait()
        if "error" in ready:
            thread.join()
            raise ready["error"]
        client: Client = ready["client"]
        client._thread = thread
        client._stop = ready["stop"].set
        return client

    def close(self) -> None:
        """Close the sidecar's stdin (it disposes every VM and exits) and wait for it.
        Idempotent; later calls on this client raise :class:`SidecarError`."""
        if self._closed:
            return
        self._closed = True
        try:
            trio.from_thread.run_sync(self._stop, trio_token=self._token)
        except trio.RunFinishedError:
            pass  # the loop already ended (the sidecar died)
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def create_vm(self, config: VmConfig | None = None) -> Vm:
        """Create a VM and return its handle (``with`` disposes it)."""
        return Vm(self._run(functools.partial(self._aclient.create_vm, config)), self._run, self.process)

    def _call_blocking(self, method: str, params: msgspec.Struct) -> Any:
        if self._closed:
            raise SidecarError("exited", "client is closed")
        conn = self._aclient._conn
        return conn.call_blocking(method, params, lambda line: self._run(functools.partial(conn.write_line, line)))

    def _run(self, fn: Callable[[], Awaitable[Any]]) -> Any:
        if self._closed:
            raise SidecarError("exited", "client is closed")
        try:
            return trio.from_thread.run(fn, trio_token=self._token)
        except trio.RunFinishedError:
            raise SidecarError("exited", "the client's event loop has ended (the sidecar went away)") from None

    @property
    def hello(self) -> HelloResult:
        """The sidecar's handshake answer."""
        return self._aclient.hello

    def call(self, method: str, params: msgspec.Struct) -> Any:
        """Blocking :meth:`AsyncClient.call`."""
        return self._run(functools.partial(self._aclient.call, method, params))

    def call_raw(self, method: str, params: Any) -> Any:
        """Blocking :meth:`AsyncClient.call_raw`."""
        return self._run(functools.partial(self._aclient.call_raw, method, params))

    @contextmanager
    def events(self) -> Iterator[Iterator[Event]]:
        """Subscribe to events; yields a blocking iterator that ends when the
        sidecar goes away. Subscribe before starting the work you want to watch."""
        subscription = self._aclient.events()
        channel = self._run(subscription.__aenter__)

        def receive_all() -> Iterator[Event]:
            while True:
                try:
                    yield self._run(channel.receive)
                except (trio.EndOfChannel, trio.ClosedResourceError):
                    return

        try:
            yield receive_all()
        finally:
            self._run(functools.partial(subscription.__aexit__, None, None, None))

    def on_request(self, method: str, handler: Callable[[Any], Any] | None) -> None:
        """Answer requests the sidecar sends to the client (``method``) with
        ``handler(params)``, a blocking function run on a worker thread (raise
        ``RpcError`` to answer a specific error); ``None`` removes it."""
        if handler is None:
            self._aclient.on_request(method, None)
            return

        async def run_in_thread(params: Any) -> Any:
            return await trio.to_thread.run_sync(handler, params)

        self._aclient.on_request(method, run_in_thread)

    def on_tool(self, name: str, handler: Callable[[Any, str], Any] | None) -> None:
        """Answer calls of host tool ``name`` with ``handler(input, vm_id)``, a
        blocking function run on a worker thread; ``None`` removes it."""
        if handler is None:
            self._aclient.on_tool(name, None)
            return

        async def run_in_thread(value: Any, vm_id: str) -> Any:
            return await trio.to_thread.run_sync(handler, value, vm_id)

        self._aclient.on_tool(name, run_in_thread)
