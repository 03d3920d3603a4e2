"""``agentvm-sidecar --stdio``: the command clients spawn."""

from __future__ import annotations

import argparse

import trio

from agentvm_protocol import DEFAULT_MAX_FRAME_BYTES

from .logs import configure_logging
from .server import serve_stdio


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="agentvm-sidecar", description="agentvm sidecar: VMs over JSON-RPC on stdio.")
    parser.add_argument("--stdio", action="store_true", required=True, help="speak NDJSON JSON-RPC on stdin/stdout")
    parser.add_argument("--log-level", default=None, help="debug, info, warning or error (default $AGENTVM_LOG_LEVEL or warning)")
    parser.add_argument("--max-frame-bytes", type=int, default=DEFAULT_MAX_FRAME_BYTES, help="largest accepted line")
    args = parser.parse_args(argv)
    configure_logging(args.log_level)
    trio.run(serve_stdio, args.max_frame_bytes)
    return 0
