"""Job bounds (tools/jobs.py): running jobs are capped, finished ones expire."""

from __future__ import annotations

import pytest
import trio

from agentvm_sidecar.tools import jobs as jobs_module
from agentvm_sidecar.tools.jobs import MAX_RUNNING, JobError, Jobs


async def test_more_running_jobs_than_the_cap_are_refused_with_429():
    async with trio.open_nursery() as nursery:
        jobs = Jobs(nursery)
        started = [jobs.start("t", trio.sleep_forever, lambda job: None) for _ in range(MAX_RUNNING)]
        with pytest.raises(JobError) as refused:
            jobs.start("t", trio.sleep_forever, lambda job: None)
        assert refused.value.status == 429
        started[0].scope.cancel()
        await started[0].finished.wait()
        assert started[0].state == "cancelled"
        jobs.start("t", trio.sleep_forever, lambda job: None)  # room again
        nursery.cancel_scope.cancel()


async def test_a_finished_job_is_forgotten_after_its_ttl(monkeypatch):
    async def answer():
        await trio.lowlevel.checkpoint()
        return 42

    async with trio.open_nursery() as nursery:
        jobs = Jobs(nursery)
        job = jobs.start("t", answer, lambda job: None)
        await job.finished.wait()
        assert jobs.get(job.job_id).view() == {"jobId": job.job_id, "tool": "t", "state": "succeeded", "output": 42}
        monkeypatch.setattr(jobs_module, "JOB_TTL_S", -1.0)
        assert jobs.get(job.job_id) is None
