"""Both clients expose every wire method in protocol/, and nothing else.

Python: every ``METHODS`` entry ``ns.verb`` (except ``hello``, which ``connect`` sends)
is an async method ``client.<ns>.<snake_verb>`` with a docstring, on both
``AsyncClient`` and the blocking ``Client``; and every public method of a namespace is
a wire method. TypeScript: its namespaces are generated from schemas/ at build time
(clients/typescript/scripts/generate.mjs) and test/parity.test.ts checks them against
the schema; here we check that the schema it is generated from lists exactly the
methods of protocol/, so a method added to protocol/ reaches both checks.
"""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

import pytest

from agentvm import AsyncClient, Client
from agentvm_protocol import METHODS, SCHEMA_FILENAME

CONNECTION_METHODS = {"hello"}
SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / SCHEMA_FILENAME
WIRE_METHODS = sorted(set(METHODS) - CONNECTION_METHODS)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _namespaces(methods: list[str]) -> set[str]:
    return {m.split(".", 1)[0] for m in methods}


def _async_client() -> AsyncClient:
    return AsyncClient(conn=None)  # type: ignore[arg-type] -- the namespaces only store it


@pytest.mark.parametrize("method", WIRE_METHODS)
def test_python_client_exposes_wire_method(method: str) -> None:
    ns, verb = method.split(".", 1)
    namespace = getattr(_async_client(), ns, None)
    assert namespace is not None, f"AsyncClient has no namespace {ns!r} for {method}"
    fn = getattr(namespace, _snake(verb), None)
    assert fn is not None, f"AsyncClient.{ns} has no method {_snake(verb)!r} for {method}"
    assert inspect.iscoroutinefunction(fn), f"AsyncClient.{ns}.{_snake(verb)} must be async"
    assert inspect.getdoc(fn), f"AsyncClient.{ns}.{_snake(verb)} needs a docstring"
    assert _snake(verb) in dir(_sync_namespace(ns)), f"Client.{ns} lacks {_snake(verb)}"


def _sync_namespace(ns: str) -> object:
    """What the blocking ``Client`` exposes as ``client.<ns>``."""
    client = Client.__new__(Client)
    Client.__init__(client, _async_client(), token=None)  # type: ignore[arg-type]
    return getattr(client, ns)


def test_python_client_has_no_method_outside_the_protocol() -> None:
    client = _async_client()
    expected = {f"{ns}.{_snake(verb)}" for ns, verb in (m.split(".", 1) for m in WIRE_METHODS)}
    exposed = set()
    for ns in vars(client):
        if ns.startswith("_"):
            continue
        namespace = getattr(client, ns)
        for name, _fn in inspect.getmembers(type(namespace), inspect.isfunction):
            if not name.startswith("_"):
                exposed.add(f"{ns}.{name}")
    extra = sorted(exposed - expected)
    assert not extra, f"client methods with no wire method in protocol/: {extra}"


def test_schema_lists_exactly_the_protocol_methods() -> None:
    """schemas/ feeds the TypeScript client's generated surface and parity test."""
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert list(schema["methods"]) == list(METHODS), "schemas/ is stale: run `make schemas`"


def test_the_generated_surface_is_current() -> None:
    """_surface.py (the typed blocking facade) is generated from _api.py."""
    from agentvm import _surface_gen

    fresh = _surface_gen.render(_surface_gen.API.read_text(encoding="utf-8"))
    assert _surface_gen.OUT.read_text(encoding="utf-8") == fresh, "stale: run `python -m agentvm._surface_gen`"


def _public_methods(cls: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(fn)
        for name, fn in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
    }


def _mirror_pairs() -> list[tuple[type, type]]:
    from agentvm import AsyncProcess, AsyncVm, AsyncVmFs, Process, Vm, VmFs

    client = _async_client()
    sync = Client.__new__(Client)
    Client.__init__(sync, client, token=None)  # type: ignore[arg-type]
    namespaces = [(type(getattr(client, ns)), type(getattr(sync, ns))) for ns in vars(client) if not ns.startswith("_")]
    return [*namespaces, (AsyncVm, Vm), (AsyncVmFs, VmFs), (AsyncProcess, Process)]


@pytest.mark.parametrize(("async_cls", "sync_cls"), _mirror_pairs(), ids=lambda c: c.__name__)
def test_blocking_twins_have_the_async_signatures(async_cls: type, sync_cls: type) -> None:
    async_methods, sync_methods = _public_methods(async_cls), _public_methods(sync_cls)
    assert set(sync_methods) == set(async_methods)
    for name, signature in async_methods.items():
        assert list(sync_methods[name].parameters.values()) == list(signature.parameters.values()), name
        assert inspect.getdoc(getattr(sync_cls, name)), f"{sync_cls.__name__}.{name} needs a docstring"
