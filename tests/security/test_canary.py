"""The suite's own safeguards: an attack test without a canary fails, and the
canary notices a sidecar that stops answering."""

from __future__ import annotations

import pytest
import trio

from .canary import CANARY_PROPERTY, CRASH_PROPERTY, guarding
from .conftest import require_canary


def test_an_attack_test_that_no_canary_watched_fails(request):
    request.node.add_marker(pytest.mark.attack("pretend"))
    with pytest.raises(pytest.fail.Exception):
        require_canary(request.node)
    request.node.user_properties.append((CANARY_PROPERTY, True))
    require_canary(request.node)  # watched: fine


async def test_the_canary_fails_a_test_whose_sidecar_stops_answering(client, request):
    with pytest.raises(AssertionError, match="canary VM"):
        async with guarding(client.call_raw, client._conn._process.pid, request):
            client._conn._process.send_signal(19)  # SIGSTOP: alive, but answers nothing
            await trio.sleep(0.5)
    client._conn._process.send_signal(18)  # SIGCONT
    assert (CRASH_PROPERTY, False) in request.node.user_properties
