"""The secrets request filter and log redaction, driven directly (tools/secrets.py, logs.py)."""

from __future__ import annotations

import io
import json

import pytest
import structlog

from agentvm_protocol import SecretConfig
from agentvm_sidecar.kernel.errors import KernelError
from agentvm_sidecar.logs import configure_logging, get_logger
from agentvm_sidecar.tools import SecretRules
from agentvm_sidecar.tools.audit import AuditLog

VALUE = "sk-test-0123456789"
REQUEST = b"GET /v1 HTTP/1.1\r\nHost: api.test\r\nAuthorization: Bearer agentvm-secret:k\r\n\r\n"


def _rules() -> tuple[SecretRules, AuditLog]:
    audit = AuditLog("vm-test")
    config = SecretConfig(name="k", value=VALUE, hosts=["api.test", "*.api.test:443"], header="Authorization")
    return SecretRules.build([config], audit), audit


@pytest.mark.parametrize("chunk", [1, 7, 4096])
def test_two_keep_alive_requests_each_get_the_value_however_the_bytes_are_split(chunk):
    rules, audit = _rules()
    request_filter = rules.filter_for("api.test", 80)
    assert request_filter is not None
    stream = REQUEST + REQUEST.replace(b"/v1", b"/v2")
    out = b"".join(request_filter.outgoing(stream[i : i + chunk]) for i in range(0, len(stream), chunk))
    assert out.count(f"Bearer {VALUE}".encode()) == 2
    assert b"agentvm-secret" not in out
    assert audit.since(0) == []  # audited when the response comes
    responses = b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 403 No\r\nContent-Length: 0\r\n\r\n"
    for i in range(0, len(responses), chunk):
        request_filter.incoming(responses[i : i + chunk])
    assert [(e.status, e.secret) for e in audit.since(0)] == [("201", "k"), ("403", "k")]
    rules.close()


def test_a_request_whose_connection_closes_before_the_response_is_audited_no_response():
    rules, audit = _rules()
    request_filter = rules.filter_for("api.test", 80)
    assert request_filter is not None
    request_filter.outgoing(REQUEST)
    request_filter.closed()
    assert [e.status for e in audit.since(0)] == ["no_response"]
    rules.close()


def test_the_port_in_a_pattern_counts():
    rules, _ = _rules()
    assert rules.filter_for("x.api.test", 8443) is not None  # a filter that refuses, see below
    with pytest.raises(KernelError) as refused:
        rules.filter_for("x.api.test", 8443).outgoing(REQUEST)  # type: ignore[union-attr]
    assert refused.value.errno == "EACCES"
    assert f"Bearer {VALUE}".encode() in rules.filter_for("x.api.test", 443).outgoing(REQUEST)  # type: ignore[union-attr]
    rules.close()


def test_a_placeholder_split_across_sends_to_another_host_is_refused():
    rules, audit = _rules()
    request_filter = rules.filter_for("evil.test", 80)
    assert request_filter is not None
    request_filter.outgoing(b"POST / HTTP/1.1\r\nHost: evil.test\r\n\r\nagentvm-sec")
    with pytest.raises(KernelError) as refused:
        request_filter.outgoing(b"ret:k")
    assert refused.value.errno == "EACCES"
    assert [(e.target, e.status) for e in audit.since(0)] == [("evil.test", "refused")]
    rules.close()


def test_a_stream_that_is_not_http_to_a_secrets_host_is_refused():
    rules, _ = _rules()
    with pytest.raises(KernelError) as refused:
        rules.filter_for("api.test", 80).outgoing(b"\x16\x03\x01 not http\r\n\r\n")  # type: ignore[union-attr]
    assert refused.value.errno == "EPROTO"
    rules.close()


def test_a_secret_value_is_redacted_from_every_log_line(monkeypatch):
    captured = io.StringIO()
    monkeypatch.setattr("sys.stderr", captured)
    structlog.reset_defaults()
    configure_logging("info")
    rules, _ = _rules()
    try:
        get_logger("test").info("leak", value=VALUE, nested={"list": [f"Bearer {VALUE}"]})
        try:
            raise ValueError(f"bad {VALUE}")
        except ValueError:
            get_logger("test").exception("failed")
    finally:
        rules.close()
    get_logger("test").info("after_close", value=VALUE)  # only live VMs' values are redacted
    lines = [json.loads(line) for line in captured.getvalue().splitlines()]
    assert lines[0]["value"] == "[redacted]" and lines[0]["nested"] == {"list": ["Bearer [redacted]"]}
    assert VALUE not in lines[1]["exception"] and "[redacted]" in lines[1]["exception"]
    assert lines[2]["value"] == VALUE
    structlog.reset_defaults()
