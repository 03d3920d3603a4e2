"""The conformance suite, run through the Python client.

The cases live in ``cases/*.json`` in a language-neutral format (see README.md in this
directory); ``clients/typescript/test/conformance.test.ts`` runs the very same files
through the TypeScript client. Both runners implement the same small interpreter:
variables, ``$utf8``, subset matching with a few ``$`` operators, and events awaited
from a per-case buffer. Each case gets a fresh sidecar, so a case may break its
connection (a refused ``hello``) without affecting the next one.

Beyond each case's own expectations, every successful result and every event is
checked against the protocol types (decoded with the method's msgspec result decoder),
so a sidecar answering outside its own schema fails here.
"""

from __future__ import annotations

import base64
import json
import re
import sys
from pathlib import Path
from typing import Any

import msgspec
import pytest
import trio

from agentvm import AsyncClient, AsyncProcess, AsyncVm, RpcError, VmConfig
from agentvm_protocol import METHODS

CASES_DIR = Path(__file__).parent / "cases"
DEFAULT_EVENT_TIMEOUT_MS = 10_000
CASE_TIMEOUT_S = 120

_CASE_KEYS = {"name", "steps", "requires", "xfail", "description"}
_CALL_KEYS = {"call", "params", "expect", "save", "description"}
_AWAIT_KEYS = {"awaitEvent", "timeoutMs", "expect", "save", "collect", "description"}
_COLLECT_KEYS = {"match", "concat", "expect", "save"}
_USE_KEYS = {"use", "on", "args", "as", "expect", "save", "description"}
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_TYPES = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
    "null": lambda v: v is None,
}


class Mismatch(AssertionError):
    pass


class CaseError(Exception):
    """The case file itself is malformed."""


# --- loading ------------------------------------------------------------------------


def _load_cases() -> list[Any]:
    params = []
    for file in sorted(CASES_DIR.glob("*.json")):
        doc = json.loads(file.read_text(encoding="utf-8"))
        names = set()
        for case in doc["cases"]:
            unknown = set(case) - _CASE_KEYS
            assert not unknown, f"{file.name}: case {case.get('name')!r} has unknown keys {sorted(unknown)}"
            assert case["name"] not in names, f"{file.name}: duplicate case name {case['name']!r}"
            names.add(case["name"])
            requires = [*doc.get("requires", []), *case.get("requires", [])]
            marks = [pytest.mark.xfail(reason=case["xfail"], strict=False)] if "xfail" in case else []
            params.append(pytest.param(requires, case, id=f"{file.stem}: {case['name']}", marks=marks))
    return params


# --- values and matching ------------------------------------------------------------


def _resolve(value: Any, variables: dict[str, Any]) -> Any:
    """Substitute ``${var}`` and expand ``{"$utf8": text}`` everywhere in ``value``."""
    if isinstance(value, str):
        whole = _VAR.fullmatch(value)
        if whole:
            return _var(variables, whole.group(1))
        return _VAR.sub(lambda m: _scalar_text(_var(variables, m.group(1))), value)
    if isinstance(value, list):
        return [_resolve(v, variables) for v in value]
    if isinstance(value, dict):
        if set(value) == {"$utf8"}:
            return base64.b64encode(_resolve(value["$utf8"], variables).encode()).decode()
        return {k: _resolve(v, variables) for k, v in value.items()}
    return value


def _var(variables: dict[str, Any], name: str) -> Any:
    if name not in variables:
        raise CaseError(f"variable ${{{name}}} is used before it is saved")
    return variables[name]


def _scalar_text(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, str) else value


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return type(a) is type(b) and a == b


def _is_operator(expected: Any) -> bool:
    return isinstance(expected, dict) and bool(expected) and all(k.startswith("$") for k in expected)


def _matches(expected: Any, actual: Any) -> bool:
    try:
        _match(expected, actual, "$")
    except Mismatch:
        return False
    return True


def _match(expected: Any, actual: Any, where: str) -> None:
    """Raise Mismatch unless ``actual`` matches ``expected`` (already resolved)."""
    if _is_operator(expected):
        for op, arg in expected.items():
            _operator(op, arg, actual, where)
    elif isinstance(expected, dict):
        if not isinstance(actual, dict):
            raise Mismatch(f"{where}: expected an object, got {actual!r}")
        for key, sub in expected.items():
            if _is_operator(sub) and "$absent" in sub:
                if sub["$absent"] and key in actual:
                    raise Mismatch(f"{where}.{key}: expected absent, got {actual[key]!r}")
                if not sub["$absent"] and key not in actual:
                    raise Mismatch(f"{where}.{key}: expected present")
                continue
            if key not in actual:
                raise Mismatch(f"{where}.{key}: missing (have {sorted(actual)})")
            _match(sub, actual[key], f"{where}.{key}")
    elif isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            raise Mismatch(f"{where}: expected a list of {len(expected)}, got {actual!r}")
        for i, (e, a) in enumerate(zip(expected, actual, strict=False)):
            _match(e, a, f"{where}[{i}]")
    elif not _same(expected, actual):
        raise Mismatch(f"{where}: expected {expected!r}, got {actual!r}")


def _operator(op: str, arg: Any, actual: Any, where: str) -> None:
    if op == "$type":
        if arg not in _TYPES:
            raise CaseError(f"unknown $type {arg!r}")
        if not _TYPES[arg](actual):
            raise Mismatch(f"{where}: expected a {arg}, got {actual!r}")
    elif op == "$contains":
        if not isinstance(actual, list):
            raise Mismatch(f"{where}: expected a list, got {actual!r}")
        for item in arg:
            if not any(_matches(item, a) for a in actual):
                raise Mismatch(f"{where}: no element matches {item!r} in {actual!r}")
    elif op == "$unordered":
        if not isinstance(actual, list) or len(actual) != len(arg):
            raise Mismatch(f"{where}: expected a list of {len(arg)} in any order, got {actual!r}")
        if not _permutation_matches(arg, actual):
            raise Mismatch(f"{where}: {actual!r} is not a permutation matching {arg!r}")
    elif op == "$not":
        if _matches(arg, actual):
            raise Mismatch(f"{where}: expected not to match {arg!r}, got {actual!r}")
    elif op == "$ne":
        if _same(arg, actual):
            raise Mismatch(f"{where}: expected anything but {arg!r}")
    elif op in ("$gte", "$lte"):
        if not _TYPES["number"](actual) or not (actual >= arg if op == "$gte" else actual <= arg):
            raise Mismatch(f"{where}: expected {op} {arg!r}, got {actual!r}")
    elif op == "$absent":
        raise CaseError(f"{where}: $absent is only valid as an object member")
    else:
        raise CaseError(f"{where}: unknown operator {op}")


def _permutation_matches(expected: list[Any], actual: list[Any]) -> bool:
    if not expected:
        return True
    first, rest = expected[0], expected[1:]
    return any(_matches(first, a) and _permutation_matches(rest, actual[:i] + actual[i + 1:]) for i, a in enumerate(actual))


def _lookup(value: Any, path: str) -> Any:
    for part in path.split(".") if path else []:
        if isinstance(value, list) and part.isdigit():
            value = value[int(part)]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            raise Mismatch(f"cannot save {path!r}: {part!r} not found in {value!r}")
    return value


def _save(saves: dict[str, str], source: Any, variables: dict[str, Any]) -> None:
    for name, path in saves.items():
        variables[name] = _lookup(source, path)


# --- running ------------------------------------------------------------------------


class _EventBuffer:
    """Every event of the case's connection, in arrival order, until consumed."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self._changed = trio.Event()

    async def pump(self, channel: Any) -> None:
        async for event in channel:
            self.events.append(msgspec.to_builtins(event))
            self._changed.set()
            self._changed = trio.Event()

    async def take(self, matcher: Any, timeout_ms: int) -> int:
        """Index of the first buffered event matching ``matcher``, waiting for it."""
        with trio.move_on_after(timeout_ms / 1000):
            while True:
                for i, event in enumerate(self.events):
                    if _matches(matcher, event):
                        return i
                await self._changed.wait()
        raise Mismatch(f"no event matching {matcher!r} within {timeout_ms} ms; received {self.events!r}")


def _error_json(exc: RpcError) -> dict[str, Any]:
    error = msgspec.to_builtins(exc.error)
    return {"code": error["code"], "message": error["message"], **(error.get("data") or {})}


def _check_result_type(method: str, result: Any, where: str) -> None:
    spec = METHODS.get(method)
    if spec is None:
        return
    try:
        spec.result_decoder.decode(msgspec.json.encode(result))
    except msgspec.ValidationError as exc:
        raise Mismatch(f"{where}: result of {method} does not match the protocol: {exc}") from None


async def _call_step(client: AsyncClient, step: dict[str, Any], variables: dict[str, Any], where: str) -> None:
    method = step["call"]
    params = _resolve(step.get("params", {}), variables)
    expect = step.get("expect", {})
    if set(expect) - {"result", "error"} or len(expect) > 1:
        raise CaseError(f"{where}: expect takes exactly one of result, error")
    try:
        result = await client.call_raw(method, params)
    except RpcError as exc:
        error = _error_json(exc)
        if "error" not in expect:
            raise Mismatch(f"{where}: {method} failed: {error!r}") from None
        _match(_resolve(expect["error"], variables), error, f"{where} error")
        _save(step.get("save", {}), error, variables)
        return
    if "error" in expect:
        raise Mismatch(f"{where}: {method} succeeded with {result!r}, expected error {expect['error']!r}")
    _check_result_type(method, result, where)
    if "result" in expect:
        _match(_resolve(expect["result"], variables), result, f"{where} result")
    _save(step.get("save", {}), result, variables)


async def _await_step(buffer: _EventBuffer, step: dict[str, Any], variables: dict[str, Any], where: str) -> None:
    matcher = _resolve(step["awaitEvent"], variables)
    index = await buffer.take(matcher, step.get("timeoutMs", DEFAULT_EVENT_TIMEOUT_MS))
    event = buffer.events[index]
    earlier = buffer.events[:index]
    consumed = {index}
    for n, collector in enumerate(step.get("collect", [])):
        if set(collector) - _COLLECT_KEYS or "match" not in collector or "concat" not in collector:
            raise CaseError(f"{where}: collect[{n}] needs match and concat (and optionally expect, save)")
        match = _resolve(collector["match"], variables)
        chunks = []
        for i, candidate in enumerate(earlier):
            if i not in consumed and _matches(match, candidate):
                consumed.add(i)
                chunks.append(base64.b64decode(candidate[collector["concat"]]))
        joined = base64.b64encode(b"".join(chunks)).decode()
        if "expect" in collector:
            _match(_resolve(collector["expect"], variables), joined, f"{where} collect[{n}] ({_utf8_or_raw(joined)})")
        if "save" in collector:
            variables[collector["save"]] = joined
    buffer.events[:] = [e for i, e in enumerate(buffer.events) if i not in consumed]
    if "expect" in step:
        _match(_resolve(step["expect"], variables), event, f"{where} event")
    _save(step.get("save", {}), event, variables)


def _utf8_or_raw(b64: str) -> str:
    raw = base64.b64decode(b64)
    try:
        return f"utf8 {raw.decode()!r}"
    except UnicodeDecodeError:
        return f"bytes {raw!r}"


# --- `use` steps: the handle API (create_vm, vm.fs, vm.exec, vm.spawn, process.*) ------


def _arg_bytes(value: Any) -> Any:
    """A binary argument: base64 on the case's side; ``{"$text": s}`` passes the string
    itself (the str rule), ``{"$value": v}`` passes any JSON value unchanged."""
    if isinstance(value, dict) and set(value) == {"$text"}:
        return value["$text"]
    if isinstance(value, dict) and set(value) == {"$value"}:
        return value["$value"]
    return base64.b64decode(value)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def _process_output(proc: AsyncProcess) -> dict[str, Any]:
    out = {"stdout": bytearray(), "stderr": bytearray()}
    async for chunk in proc:
        out[chunk.stream] += chunk.data
    status = await proc.wait()
    return {"stdout": _b64(out["stdout"]), "stderr": _b64(out["stderr"]), **msgspec.to_builtins(status)}


async def _use(client: AsyncClient, op: str, target: Any, a: dict[str, Any]) -> tuple[Any, Any]:
    """Run one handle operation; returns (wire-shaped JSON result, new handle or None)."""
    if op == "createVm":
        config = msgspec.convert(a["config"], VmConfig) if "config" in a else None
        vm = await client.create_vm(config)
        return {"vmId": vm.vm_id}, vm
    if op == "vm.fs.write":
        await target.fs.write(a["path"], _arg_bytes(a["data"]))
        return None, None
    if op == "vm.fs.read":
        return _b64(await target.fs.read(a["path"])), None
    if op == "vm.exec":
        result = await target.exec(
            a.get("command"), argv=a.get("argv"), stdin=_arg_bytes(a["stdin"]) if "stdin" in a else b"",
            max_output_bytes=a.get("maxOutputBytes", 16 * 1024 * 1024), env=a.get("env"),
        )
        return msgspec.to_builtins(result), None
    if op == "vm.spawn":
        proc = await target.spawn(a.get("command"), argv=a.get("argv"))
        return {"pid": proc.pid}, proc
    if op == "vm.dispose":
        await target.dispose()
        return None, None
    if op == "process.output":
        return await _process_output(target), None
    if op == "process.wait":
        return msgspec.to_builtins(await target.wait()), None
    if op == "process.writeStdin":
        await target.write_stdin(_arg_bytes(a["data"]))
        return None, None
    if op == "process.closeStdin":
        await target.close_stdin()
        return None, None
    if op == "process.kill":
        await target.kill(a.get("signal", "SIGTERM"))
        return None, None
    raise CaseError(f"unknown use operation {op!r}")


async def _use_step(
    client: AsyncClient, handles: dict[str, AsyncVm | AsyncProcess], step: dict[str, Any], variables: dict[str, Any], where: str
) -> None:
    expect = step.get("expect", {})
    target = None
    if "on" in step:
        if step["on"] not in handles:
            raise CaseError(f"{where}: no handle named {step['on']!r}")
        target = handles[step["on"]]
    try:
        result, handle = await _use(client, step["use"], target, _resolve(step.get("args", {}), variables))
    except (RpcError, TypeError) as exc:
        error = _error_json(exc) if isinstance(exc, RpcError) else {"kind": "client_type_error", "message": str(exc)}
        if "error" not in expect:
            raise Mismatch(f"{where}: {step['use']} failed: {error!r}") from None
        _match(_resolve(expect["error"], variables), error, f"{where} error")
        return
    if "error" in expect:
        raise Mismatch(f"{where}: {step['use']} succeeded with {result!r}, expected error {expect['error']!r}")
    if "as" in step:
        handles[step["as"]] = handle
    if "result" in expect:
        _match(_resolve(expect["result"], variables), result, f"{where} result")
    _save(step.get("save", {}), result, variables)


async def _run_case(client: AsyncClient, buffer: _EventBuffer, case: dict[str, Any]) -> None:
    variables: dict[str, Any] = {}
    handles: dict[str, Any] = {}
    for n, step in enumerate(case["steps"]):
        where = f"step {n + 1}"
        if "call" in step:
            if set(step) - _CALL_KEYS:
                raise CaseError(f"{where}: unknown keys {sorted(set(step) - _CALL_KEYS)}")
            await _call_step(client, step, variables, f"{where} ({step['call']})")
        elif "awaitEvent" in step:
            if set(step) - _AWAIT_KEYS:
                raise CaseError(f"{where}: unknown keys {sorted(set(step) - _AWAIT_KEYS)}")
            await _await_step(buffer, step, variables, f"{where} (awaitEvent)")
        elif "use" in step:
            if set(step) - _USE_KEYS:
                raise CaseError(f"{where}: unknown keys {sorted(set(step) - _USE_KEYS)}")
            await _use_step(client, handles, step, variables, f"{where} ({step['use']})")
        else:
            raise CaseError(f"{where}: a step needs `call`, `awaitEvent` or `use`")


# The router (sidecar/agentvm_sidecar/workers/) must answer every case as one process does.
@pytest.mark.parametrize("workers", [0, 2], ids=["one process", "2 workers"])
@pytest.mark.parametrize(("requires", "case"), _load_cases())
async def test_conformance(requires: list[str], case: dict[str, Any], workers: int) -> None:
    with trio.fail_after(CASE_TIMEOUT_S):
        await _run_with_sidecar(requires, case, workers)


async def _run_with_sidecar(requires: list[str], case: dict[str, Any], workers: int) -> None:
    command = [sys.executable, "-m", "agentvm_sidecar", "--stdio", "--workers", str(workers)] if workers else None
    async with AsyncClient.connect(command) as client:
        missing = [m for m in requires if m not in client.hello.methods]
        if missing:
            pytest.skip(f"sidecar does not serve {', '.join(missing)} yet")
        buffer = _EventBuffer()
        async with client.events() as channel, trio.open_nursery() as nursery:
            nursery.start_soon(buffer.pump, channel)
            await _run_case(client, buffer, case)
            nursery.cancel_scope.cancel()


def test_every_served_method_is_exercised_by_some_case() -> None:
    """The suite grows with the protocol: a method in protocol/ that no case calls fails here."""
    called: set[str] = set()
    for file in CASES_DIR.glob("*.json"):
        for case in json.loads(file.read_text(encoding="utf-8"))["cases"]:
            called.update(step["call"] for step in case["steps"] if "call" in step)
    missing = sorted(set(METHODS) - called)
    assert not missing, f"no conformance case calls {missing}; add one to tests/conformance/cases/"


