"""The transcript validator itself: it must reject what the ACP schema rejects."""

from __future__ import annotations

import jsonschema
import pytest

from .acp_schema import AcpTranscript


def test_a_well_formed_exchange_validates():
    t = AcpTranscript()
    t.check("to_agent", {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": 1}})
    t.check("from_agent", {"jsonrpc": "2.0", "id": 0, "result": {"protocolVersion": 1}})
    t.check("from_agent", {"jsonrpc": "2.0", "method": "session/update", "params": {
        "sessionId": "s", "update": {"sessionUpdate": "agent_message_chunk", "content": {"type": "text", "text": "hi"}}}})
    assert t.checked == {"initialize": 2, "session/update": 1}


@pytest.mark.parametrize("message", [
    {"jsonrpc": "2.0", "method": "session/update", "params": {"update": {"sessionUpdate": "plan", "entries": []}}},
    {"jsonrpc": "2.0", "method": "session/update", "params": {"sessionId": "s", "update": {"sessionUpdate": "no_such_kind"}}},
    {"jsonrpc": "2.0", "id": 3, "method": "fs/read_text_file", "params": {"sessionId": "s"}},
])
def test_messages_outside_the_schema_are_rejected(message):
    with pytest.raises(jsonschema.ValidationError):
        AcpTranscript().check("from_agent", message)


def test_unknown_methods_and_unmatched_responses_are_rejected():
    with pytest.raises(AssertionError):
        AcpTranscript().check("from_agent", {"jsonrpc": "2.0", "id": 1, "method": "x/unknown", "params": {}})
    with pytest.raises(AssertionError):
        AcpTranscript().check("from_agent", {"jsonrpc": "2.0", "id": 7, "result": {}})
