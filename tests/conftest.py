"""Shared fixtures: a real sidecar subprocess driven through the Python client."""

from __future__ import annotations

import os
import sys

import pytest

from agentvm import AsyncClient
from tests.fakes.openai_responses import FakeOpenAI

SIDECAR = [sys.executable, "-m", "agentvm_sidecar", "--stdio", "--log-level", "warning"]


def pytest_collection_modifyitems(config, items):
    if os.environ.get("AGENTVM_SATURATION") == "1":
        return
    skip = pytest.mark.skip(reason="expensive saturation test: set AGENTVM_SATURATION=1")
    for item in items:
        if "saturation" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
async def client():
    """An AsyncClient connected to a fresh sidecar subprocess."""
    async with AsyncClient.connect(SIDECAR) as c:
        yield c


@pytest.fixture
async def vm_id(client):
    """A fresh VM in the client's sidecar."""
    return (await client.vm.create()).vm_id


@pytest.fixture
def openai_api():
    """A fake OpenAI API on 127.0.0.1 (tests/fakes/openai_responses.py): queue its
    turns with ``openai_api.queue(...)``, read what agents sent in ``.requests``."""
    with FakeOpenAI().running() as api:
        yield api
