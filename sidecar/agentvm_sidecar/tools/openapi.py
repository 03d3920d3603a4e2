"""The OpenAPI 3.1 document and README of a VM's tools, as the guest reads them
(``GET /openapi.json``, ``/etc/agentvm/tools/``)."""

from __future__ import annotations

from typing import Any

from agentvm_protocol import ToolSpec

__all__ = ["openapi_document", "readme_text"]

_ERROR = {"$ref": "#/components/schemas/Error"}
_JOB = {"$ref": "#/components/schemas/Job"}


def _json(schema: Any, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _operation(tool: ToolSpec) -> dict[str, Any]:
    responses: dict[str, Any] = {
        "400": _json(_ERROR, "The input does not match the input schema (error.errors lists why)."),
        "401": _json(_ERROR, "Missing or wrong bearer token."),
    }
    if tool.long_running:
        responses["202"] = _json(
            {"type": "object", "properties": {"jobId": {"type": "string"}}, "required": ["jobId"]},
            "Started: poll GET /jobs/{jobId}.",
        )
    else:
        responses["200"] = _json(tool.output_schema or {}, "The tool's output.")
        responses["504"] = _json(_ERROR, f"No answer within {tool.timeout_ms} ms.")
    return {
        "operationId": tool.name,
        "summary": tool.description.split("\n", 1)[0],
        "description": tool.description,
        "requestBody": {"required": True, "content": {"application/json": {"schema": tool.input_schema}}},
        "responses": responses,
        "x-long-running": tool.long_running,
        "x-timeout-ms": tool.timeout_ms,
    }


def openapi_document(tools: list[ToolSpec], base_url: str) -> dict[str, Any]:
    """OpenAPI 3.1 for ``tools`` served at ``base_url``."""
    paths: dict[str, Any] = {f"/tools/{t.name}": {"post": _operation(t)} for t in tools}
    job_param = [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}]
    paths["/jobs/{id}"] = {
        "get": {
            "operationId": "getJob",
            "summary": "A long-running call's state; ?wait=N (seconds, at most 60) waits until it ends.",
            "parameters": [*job_param, {"name": "wait", "in": "query", "schema": {"type": "number", "maximum": 60}}],
            "responses": {"200": _json(_JOB, "The job."), "404": _json(_ERROR, "No such job (or expired).")},
        },
        "delete": {
            "operationId": "cancelJob",
            "summary": "Cancel a running job.",
            "parameters": job_param,
            "responses": {"200": _json(_JOB, "The job, cancelled."), "404": _json(_ERROR, "No such job.")},
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "agentvm host tools", "version": "1"},
        "servers": [{"url": base_url}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "$AGENTVM_TOOLS_TOKEN"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": {
                        "error": {
                            "type": "object",
                            "properties": {
                                "kind": {"type": "string"},
                                "message": {"type": "string"},
                                "errors": {"type": "array", "items": {"type": "string"}},
                            },
                        }
                    },
                },
                "Job": {
                    "type": "object",
                    "properties": {
                        "jobId": {"type": "string"},
                        "tool": {"type": "string"},
                        "state": {"enum": ["running", "succeeded", "failed", "cancelled"]},
                        "output": {},
                        "error": {"type": "object"},
                    },
                    "required": ["jobId", "tool", "state"],
                },
            },
        },
    }


def readme_text(tools: list[ToolSpec], base_url: str) -> str:
    """A short usage text an agent can read."""
    lines = [
        "# Host tools",
        "",
        f"Operations that run outside this VM, served at {base_url} (HTTP, JSON).",
        "Every request needs the header `Authorization: Bearer $AGENTVM_TOOLS_TOKEN`.",
        "",
        f"- Full description: `GET {base_url}/openapi.json` (also /etc/agentvm/tools/openapi.json).",
        f"- Call a tool: `POST {base_url}/tools/<name>` with a JSON body matching its input schema.",
        "  400 lists validation errors; 200 carries the output.",
        "- Long-running tools answer `202 {\"jobId\": ...}`: poll `GET /jobs/<id>`, wait with",
        "  `GET /jobs/<id>?wait=30`, cancel with `DELETE /jobs/<id>`.",
        "",
        "## Tools",
        "",
    ]
    for tool in tools:
        kind = " (long-running)" if tool.long_running else ""
        summary = tool.description.split("\n", 1)[0]
        lines.append(f"- `{tool.name}`{kind}: {summary}")
    if not tools:
        lines.append("(none registered)")
    return "\n".join(lines) + "\n"
