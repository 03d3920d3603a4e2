"""JSON Schema generation: schemas/ is derived from the Structs here, never edited.

``python -m agentvm_protocol.schema_gen DIR`` (``make schemas``) writes one file,
``agentvm-protocol.schema.json``: every method's params and result, every event and
the error data, as ``$defs`` shared by reference. A test regenerates it and fails when
the committed copy is stale.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

from ._errors import ErrorData
from ._methods import CLIENT_REQUESTS, EVENT_TYPES, METHODS
from ._version import PROTOCOL_VERSION

__all__ = ["SCHEMA_FILENAME", "build_schema", "render_schema"]

SCHEMA_FILENAME = "agentvm-protocol.schema.json"


def build_schema() -> dict[str, Any]:
    """The whole protocol as one JSON Schema document."""
    types: list[Any] = []
    for spec in [*METHODS.values(), *CLIENT_REQUESTS.values()]:
        types += [spec.params, spec.result]
    types += [*EVENT_TYPES, ErrorData]
    schemas, components = msgspec.json.schema_components(types, ref_template="#/$defs/{name}")
    refs = iter(schemas)
    methods = {name: {"params": next(refs), "result": next(refs)} for name in METHODS}
    client_requests = {name: {"params": next(refs), "result": next(refs)} for name in CLIENT_REQUESTS}
    events = [next(refs) for _ in EVENT_TYPES]
    error = next(refs)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "agentvm wire protocol",
        "description": "JSON-RPC 2.0 over NDJSON between agentvm clients and agentvm-sidecar.",
        "protocolVersion": PROTOCOL_VERSION,
        "methods": methods,
        "clientRequests": client_requests,
        "events": {"oneOf": events},
        "errorData": error,
        "$defs": dict(sorted(components.items())),
    }


def render_schema() -> str:
    """The schema file's exact text (stable key order, trailing newline)."""
    return json.dumps(build_schema(), indent=2, sort_keys=False) + "\n"
