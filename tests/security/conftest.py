"""The standing security suite: every attack a hostile guest or a buggy client tried.

Each attack test carries ``@pytest.mark.attack("one line saying what the attacker
does")``; ``make security-report`` runs this directory and rewrites the summary table
in docs/security.md from those markers (tests/security/report.py). A passing attack
test means the attack was denied.

While an attack runs, the ``canary`` fixture keeps a second VM in the same sidecar
busy with an ``fs.stat`` and a short exec, and at the end asserts that every probe
answered within ``CANARY_BOUND_S``: the guest is allowed to fail, not to starve its
neighbours or take the sidecar down. The bound is a liveness bound, generous for a
noisy 2-core machine (override with AGENTVM_CANARY_BOUND_S), not a benchmark.

Expensive variants are marked ``saturation`` and skipped unless AGENTVM_SATURATION=1
(tests/conftest.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import pytest
import trio

from agentvm import AsyncClient, SidecarError

CANARY_BOUND_S = float(os.environ.get("AGENTVM_CANARY_BOUND_S", "5"))
_PROBE_PAUSE_S = 0.2


@dataclass
class Canary:
    """A bystander VM and what its probes saw."""

    client: AsyncClient
    vm_id: str
    latencies: list[float] = field(default_factory=list)
    failure: BaseException | None = None

    async def probe_once(self) -> None:
        """One ``fs.stat`` and one short exec, timed together."""
        start = trio.current_time()
        await self.client.fs.stat(self.vm_id, "/")
        result = await self.client.process.exec(self.vm_id, argv=["echo", "alive"], timeout_ms=60_000)
        assert result.stdout == b"alive\n"
        self.latencies.append(trio.current_time() - start)

    async def probe_forever(self) -> None:
        try:
            while True:
                with trio.move_on_after(CANARY_BOUND_S * 4) as scope:
                    await self.probe_once()
                if scope.cancelled_caught:
                    self.latencies.append(float("inf"))
                await trio.sleep(_PROBE_PAUSE_S)
        except Exception as exc:  # recorded, asserted at teardown
            self.failure = exc

    @property
    def worst(self) -> float:
        return max(self.latencies, default=0.0)


@pytest.fixture
async def canary(client, request):
    """A second VM probed for the whole test; fails the test if a probe was slower
    than CANARY_BOUND_S or the sidecar died. Records ``sidecar_crashed`` for the
    report."""
    vm_id = (await client.vm.create()).vm_id
    bird = Canary(client, vm_id)
    await bird.probe_once()  # warm: the first exec may compile `echo`
    bird.latencies.clear()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(bird.probe_forever)
        yield bird
        nursery.cancel_scope.cancel()
    if bird.failure is None:  # one probe after the attack, whatever the timing was
        try:
            with trio.fail_after(CANARY_BOUND_S * 4):
                await bird.probe_once()
        except Exception as exc:
            bird.failure = exc
    record_crash(request, isinstance(bird.failure, SidecarError))
    assert bird.failure is None, f"canary VM failed during the attack: {bird.failure!r}"
    assert bird.worst <= CANARY_BOUND_S, f"canary VM answered after {bird.worst:.1f} s (bound {CANARY_BOUND_S} s)"


def record_crash(request: pytest.FixtureRequest, crashed: bool) -> None:
    """Tell the report (tests/security/report.py) whether the sidecar died."""
    request.node.user_properties.append(("sidecar_crashed", crashed))
