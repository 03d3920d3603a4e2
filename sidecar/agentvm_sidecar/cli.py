"""``agentvm-sidecar --stdio``: the command clients spawn; ``agentvm-sidecar setup``: the
one-time setup of an installed sidecar (software/setup.py)."""

from __future__ import annotations

import argparse
import gc
import os
import sys

import trio

from agentvm_protocol import DEFAULT_MAX_FRAME_BYTES

from .logs import configure_logging
from .native import library
from .server import PreviewFailed, serve_stdio
from .wasm.scheduler import set_run_slots
from .workers import WorkerCommand, WorkersFailed, worker_command

WORKERS_ENV = "AGENTVM_WORKERS"
MAX_WORKERS = 64


def main(argv: list[str] | None = None) -> int:
    args_in = sys.argv[1:] if argv is None else argv
    if args_in[:1] == ["setup"]:
        from .software.setup import main as setup_main

        return setup_main(args_in[1:])
    parser = argparse.ArgumentParser(
        prog="agentvm-sidecar",
        description="agentvm sidecar: VMs over JSON-RPC on stdio. `agentvm-sidecar setup` fetches and builds "
        "the guest software once after installation.",
    )
    parser.add_argument("--stdio", action="store_true", required=True, help="speak NDJSON JSON-RPC on stdin/stdout")
    parser.add_argument("--log-level", default=None, help="debug, info, warning or error (default $AGENTVM_LOG_LEVEL or warning)")
    parser.add_argument("--max-frame-bytes", type=int, default=DEFAULT_MAX_FRAME_BYTES, help="largest accepted line")
    parser.add_argument(
        "--preview", type=_host_port, default=None, metavar="HOST:PORT", help="serve preview URLs on this address (port 0: any free port)"
    )
    parser.add_argument(
        "--run-slots", type=int, default=None, metavar="N",
        help="guest threads running at once, sidecar-wide; 0: no limit (default $AGENTVM_RUN_SLOTS or 1)",
    )
    parser.add_argument(
        "--workers", type=int, default=None, metavar="N",
        help="run the VMs in N worker processes, so VMs use every core (default $AGENTVM_WORKERS or none: one process)",
    )
    args = parser.parse_args(args_in)
    workers = _workers(parser, args)
    configure_logging(args.log_level)
    library()  # compiled now on a machine where `agentvm-sidecar setup` never ran (native/build.py)
    if args.run_slots is not None:
        set_run_slots(args.run_slots)
    # Everything imported so far lives as long as the process: out of the collector's
    # reach, a full collection scans only what serving allocates. Without this the
    # first one (17-24 ms, measured) fell in the first request that crossed its threshold.
    gc.collect()
    gc.freeze()
    failed: list[str] = []
    try:
        trio.run(serve_stdio, args.max_frame_bytes, args.preview, workers)
    except* (WorkersFailed, PreviewFailed) as group:
        failed = [str(exc) for exc in _leaves(group)]
    if failed:
        print(f"agentvm-sidecar: {'; '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    """The exceptions of ``group`` and of the groups nested in it (trio nests one
    per nursery the exception left)."""
    return [leaf for exc in group.exceptions for leaf in (_leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc])]


def _workers(parser: argparse.ArgumentParser, args: argparse.Namespace) -> WorkerCommand | None:
    """The workers ``--workers`` (or $AGENTVM_WORKERS) asks for; None for one process.
    Exits with a usage error for a bad count."""
    count = args.workers
    if count is None:
        configured = os.environ.get(WORKERS_ENV, "")
        if configured and not configured.isdigit():
            parser.error(f"${WORKERS_ENV} must be a number, not {configured!r}")
        count = int(configured) if configured else 0
    if count < 0 or count > MAX_WORKERS:
        parser.error(f"--workers must be 0 to {MAX_WORKERS}")
    if count == 0:
        return None
    options = ["--max-frame-bytes", str(args.max_frame_bytes), "--workers", "0"]
    if args.log_level is not None:
        options += ["--log-level", args.log_level]
    if args.run_slots is not None:
        options += ["--run-slots", str(args.run_slots)]
    return worker_command(count, options)


def _host_port(text: str) -> tuple[str, int]:
    """``127.0.0.1:8080`` or ``[::1]:0`` -> (host, port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host.removeprefix("[").removesuffix("]"), int(port)
