# Long-running tool calls: jobs the guest polls.
#
# A job is a trio task in the VM's nursery, so it outlives the HTTP request that
# started it (and any client-side HTTP timeout); it ends when the client answers,
# when the tool's timeout passes, or when the guest cancels it (DELETE /jobs/<id>:
# its cancel scope is cancelled, which cancels the pending tools.invoke with
# $/cancelRequest).  Bounds: MAX_RUNNING jobs at once per VM (429 beyond), finished
# jobs kept JOB_TTL_S and at most MAX_KEPT of them (oldest forgotten first).

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import trio

from ..vm_tasks import VmTasks

__all__ = ["JOB_TTL_S", "MAX_KEPT", "MAX_RUNNING", "Job", "JobError", "Jobs"]

MAX_RUNNING = 32
MAX_KEPT = 256
JOB_TTL_S = 3600.0


class JobError(Exception):
    """Why a tool call failed: an HTTP status, a stable kind, a message, details."""

    def __init__(self, status: int, kind: str, message: str, errors: list[str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.errors = errors

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"kind": self.kind, "message": str(self)}
        if self.errors is not None:
            error["errors"] = self.errors
        return {"error": error}


@dataclass(eq=False)
class Job:
    job_id: str
    tool: str
    state: str = "running"  # running | succeeded | failed | cancelled
    output: Any = None
    error: JobError | None = None
    finished: trio.Event = field(default_factory=trio.Event)
    scope: trio.CancelScope = field(default_factory=trio.CancelScope)
    finished_at: float | None = None

    def view(self) -> dict[str, Any]:
        out: dict[str, Any] = {"jobId": self.job_id, "tool": self.tool, "state": self.state}
        if self.state == "succeeded":
            out["output"] = self.output
        if self.error is not None:
            out.update(self.error.body())
        return out


class Jobs:
    """One VM's jobs."""

    def __init__(self, tasks: VmTasks) -> None:
        self._tasks = tasks
        self._jobs: OrderedDict[str, Job] = OrderedDict()

    def _expire(self) -> None:
        now = time.monotonic()
        finished = [j for j in self._jobs.values() if j.finished_at is not None]
        for i, job in enumerate(finished):
            assert job.finished_at is not None
            if now - job.finished_at > JOB_TTL_S or len(finished) - i > MAX_KEPT:
                del self._jobs[job.job_id]

    def start(self, tool: str, run: Callable[[], Awaitable[Any]], on_end: Callable[[Job], None]) -> Job:
        """Start ``run()`` as a job. Raises: JobError 429 (too many running)."""
        self._expire()
        if sum(1 for j in self._jobs.values() if j.state == "running") >= MAX_RUNNING:
            raise JobError(429, "limit_exceeded", f"{MAX_RUNNING} jobs are running already")
        job = Job(job_id=f"job-{secrets.token_hex(8)}", tool=tool)
        self._jobs[job.job_id] = job
        self._tasks.start_soon(self._run, job, run, on_end)
        return job

    async def _run(self, job: Job, run: Callable[[], Awaitable[Any]], on_end: Callable[[Job], None]) -> None:
        try:
            with job.scope:
                job.output = await run()
                job.state = "succeeded"
            if job.scope.cancelled_caught:
                job.state = "cancelled"
        except JobError as exc:
            job.state, job.error = "failed", exc
        finally:
            job.finished_at = time.monotonic()
            job.finished.set()
            on_end(job)

    def get(self, job_id: str) -> Job | None:
        self._expire()
        return self._jobs.get(job_id)
