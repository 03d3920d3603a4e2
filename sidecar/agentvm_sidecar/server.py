"""The stdio server: one connection on stdin/stdout, until end of input or SIGTERM.

Either way the shutdown is the same and clean: in-flight requests are cancelled, every
VM is disposed (its processes killed, files closed), and the process exits 0.
"""

from __future__ import annotations

import signal
from collections.abc import Awaitable, Callable

import trio

from agentvm_protocol import DEFAULT_MAX_FRAME_BYTES

from .logs import get_logger
from .net.preview import PreviewServer
from .rpc.connection import Connection
from .rpc.errors import RpcError
from .vms import VmRegistry
from .workers import ROUTED_HANDLERS, Router, WorkerCommand

__all__ = ["PreviewFailed", "serve_stdio", "serve_streams"]

log = get_logger("server")


class PreviewFailed(RuntimeError):
    """The preview server ``--preview`` asks for could not start (the sidecar then
    serves nothing)."""


async def _start_preview(start: Callable[[str, int], Awaitable[str]], preview: tuple[str, int]) -> None:
    try:
        await start(*preview)
    except RpcError as exc:
        raise PreviewFailed(f"--preview: {exc}") from None


async def serve_streams(
    receive: trio.abc.ReceiveStream,
    send: trio.abc.SendStream,
    *,
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
    preview: tuple[str, int] | None = None,
    workers: WorkerCommand | None = None,
) -> None:
    """Serve one connection over a pair of byte streams until its input ends; with
    ``preview`` (host, port), start the preview server there first; with
    ``workers``, run the VMs in that many worker sidecars (workers/)."""
    if workers is not None:
        async with Router.started(workers.count, workers.argv, max_frame_bytes) as router:
            if preview is not None:
                await _start_preview(router.previews.start, preview)
            connection = Connection(router, max_frame_bytes=max_frame_bytes, handlers=ROUTED_HANDLERS, raw_params=True)
            router.connection = connection
            await connection.serve(receive, send)
        return
    async with trio.open_nursery() as nursery:
        vms = VmRegistry(nursery)
        previews = PreviewServer.for_vms(vms, nursery)
        try:
            if preview is not None:
                await _start_preview(previews.start, preview)
            await Connection(vms, max_frame_bytes=max_frame_bytes, previews=previews).serve(receive, send)
        finally:
            with trio.CancelScope(shield=True):
                await vms.dispose_all()
            nursery.cancel_scope.cancel()


async def serve_stdio(
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES, preview: tuple[str, int] | None = None, workers: WorkerCommand | None = None
) -> None:
    """Serve the protocol on fds 0/1; return on EOF or SIGTERM after disposing every VM."""
    stdin = trio.lowlevel.FdStream(0)
    stdout = trio.lowlevel.FdStream(1)
    log.info("sidecar_started", max_frame_bytes=max_frame_bytes, workers=workers.count if workers else 0)
    with trio.open_signal_receiver(signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:

            async def stop_on_sigterm() -> None:
                async for _ in signals:
                    log.info("sigterm")
                    nursery.cancel_scope.cancel()
                    return

            async def serve() -> None:
                await serve_streams(stdin, stdout, max_frame_bytes=max_frame_bytes, preview=preview, workers=workers)
                nursery.cancel_scope.cancel()

            nursery.start_soon(stop_on_sigterm)
            nursery.start_soon(serve)
    log.info("sidecar_stopped")
