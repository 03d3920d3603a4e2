"""The standing security suite: every attack a hostile guest or a buggy client tried.

Each attack test carries ``@pytest.mark.attack("one line saying what the attacker
does")``; ``make security-report`` runs this directory and rewrites the summary table
in docs/security.md from those markers (tests/security/report.py). A passing attack
test means the attack was denied.

Every attack runs under the canary (tests/security/canary.py): a second VM in the
sidecar under attack is probed for the whole attack and must keep answering, and the
sidecar's memory growth is measured. Tests on a client use the ``canary`` fixture;
tests speaking the raw wire open ``guarding(...)`` themselves. An attack test that
ran without a canary fails (``_attacks_run_under_the_canary``).

Expensive variants are marked ``saturation`` and skipped unless AGENTVM_SATURATION=1
(tests/conftest.py).
"""

from __future__ import annotations

import pytest

from .canary import CANARY_PROPERTY, guarding


@pytest.fixture
async def canary(client, request):
    """A second VM in the client's sidecar, probed while the test runs; fails the
    test if a probe was slower than CANARY_BOUND_S or the sidecar died."""
    async with guarding(client.call_raw, client._conn._process.pid, request) as bird:
        yield bird


@pytest.fixture(autouse=True)
def _attacks_run_under_the_canary(request):
    """Set up before (so torn down after) the canary: an ``attack`` test must have
    been watched by one."""
    yield
    require_canary(request.node)


def require_canary(node: pytest.Item) -> None:
    """Fail ``node`` if it is an attack test that no canary watched."""
    if node.get_closest_marker("attack") is None:
        return
    if not any(name == CANARY_PROPERTY for name, _ in node.user_properties):
        pytest.fail("an attack test must run under the canary (tests/security/canary.py)")
