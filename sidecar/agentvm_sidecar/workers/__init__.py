"""VMs in worker processes: ``agentvm-sidecar --stdio --workers N``.

Why: one sidecar process runs its guests' host calls in Python, one thread at a time
(the GIL; wasm/scheduler.py), so a busy sidecar uses one core however many VMs run.
With ``--workers N`` the process the client spawned is a router (router.py): it
starts N worker sidecars, plain ``agentvm-sidecar --stdio`` processes (link.py), and
forwards each request to the worker owning the VM or session it names. VMs in
different workers run on different cores, and a worker that crashes takes only its
own VMs with it (their requests then answer ``unavailable``).

The cost is a second hop per request (the router decodes params, re-encodes them and
copies the answer back), so one VM's commands are a little slower than with no
workers; the default (no ``--workers``) keeps everything in one process.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from .router import ROUTED_HANDLERS, Router, WorkersFailed

__all__ = ["ROUTED_HANDLERS", "Router", "WorkerCommand", "WorkersFailed", "worker_command"]


@dataclass(frozen=True)
class WorkerCommand:
    """How many workers, and the argv that starts one."""

    count: int
    argv: tuple[str, ...]


def worker_command(count: int, options: list[str]) -> WorkerCommand:
    """``count`` workers started as this interpreter's sidecar module with
    ``options`` (the router's own options a worker needs: frame size, run slots...)."""
    return WorkerCommand(count, (sys.executable, "-m", "agentvm_sidecar", "--stdio", *options))
