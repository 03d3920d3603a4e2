"""Validate ACP messages against the vendored ACP v1 schema (schema/README.md).

The schema marks each method's request (or notification) and response definitions
with ``x-method``; :class:`AcpTranscript` checks every message of a sidecar's ACP
traffic against the definition for its method and direction: requests and
notifications by their params, responses by the method of the request they answer
(tracked by id, per direction), error responses against ``Error``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema

SCHEMA_PATH = Path(__file__).parent / "schema" / "schema.json"
_SCHEMA = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
_DEFS = _SCHEMA["$defs"]


def _by_method() -> tuple[dict[str, str], dict[str, str]]:
    params: dict[str, str] = {}
    results: dict[str, str] = {}
    for name, definition in _DEFS.items():
        method = definition.get("x-method")
        if method is None:
            continue
        (results if name.endswith("Response") else params)[method] = name
    return params, results


PARAMS_DEF, RESULT_DEF = _by_method()
_VALIDATORS: dict[str, jsonschema.protocols.Validator] = {}


def validate_def(name: str, value: Any) -> None:
    """Raise jsonschema.ValidationError unless ``value`` matches ``$defs[name]``."""
    validator = _VALIDATORS.get(name)
    if validator is None:
        schema = {"$schema": _SCHEMA["$schema"], "$ref": f"#/$defs/{name}", "$defs": _DEFS}
        validator = _VALIDATORS[name] = jsonschema.Draft202012Validator(schema)
    validator.validate(value)


class AcpTranscript:
    """Checks a stream of ``(direction, message)`` pairs, ``direction`` being
    ``to_agent`` or ``from_agent``. ``checked`` counts messages validated, by method."""

    def __init__(self) -> None:
        self._asked: dict[tuple[str, Any], str] = {}  # (asker direction, id) -> method
        self.checked: dict[str, int] = {}

    def check(self, direction: str, message: dict[str, Any]) -> None:
        assert message.get("jsonrpc") == "2.0", message
        if "method" in message:
            method = message["method"]
            assert method in PARAMS_DEF, f"{direction}: {method!r} is not an ACP v1 method"
            if "id" in message:
                self._asked[(direction, message["id"])] = method
            validate_def(PARAMS_DEF[method], message.get("params"))
        else:
            asker = "from_agent" if direction == "to_agent" else "to_agent"
            method = message.pop("_method", None) or self._asked.pop((asker, message["id"]), None)
            assert method is not None, f"{direction}: response to unknown id {message.get('id')!r}"
            if "error" in message:
                validate_def("Error", message["error"])
            else:
                validate_def(RESULT_DEF[method], message["result"])
        self.checked[method] = self.checked.get(method, 0) + 1


def check_sidecar_log(path: Path) -> dict[str, int]:
    """Validate every ``acp_message`` in a sidecar's debug log; returns the counts."""
    transcript = AcpTranscript()
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if '"acp_message"' not in line:
            continue
        entry = json.loads(line)
        if entry.get("event") == "acp_message":
            transcript.check(entry["direction"], entry["message"])
    return transcript.checked
