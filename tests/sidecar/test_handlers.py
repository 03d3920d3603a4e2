"""The sidecar serves exactly the protocol's method table."""

from __future__ import annotations

from agentvm_protocol import METHODS, NOTIFIABLE_METHODS
from agentvm_sidecar.api import HANDLERS


def test_every_protocol_method_but_hello_has_exactly_one_handler_and_no_handler_is_extra():
    # hello is the connection's handshake (rpc/connection.py), not a handler
    assert set(HANDLERS) == set(METHODS) - {"hello"}


def test_notifiable_methods_are_methods():
    assert set(NOTIFIABLE_METHODS) <= set(HANDLERS)
