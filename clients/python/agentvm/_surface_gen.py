"""Generate ``_surface.py``: the client's namespaces, async and blocking, from ``_api.py``.

``_api.py`` is written by hand (one typed async forwarder per wire method). Python's
type system cannot express "the same methods, but blocking", so the blocking twins
are generated source instead of a ``__getattr__`` proxy: each ``SyncFsApi.write_file``
has exactly the parameters, annotations, defaults and docstring of
``FsApi.write_file`` and runs it to its end on the caller's thread, over a
connection whose ``call`` blocks (``Connection.call_blocking``): every forwarder's
only await must be its last statement, ``return await self._conn.call(...)``, and
the generator refuses one that awaits more. ``AsyncSurface`` and
``SyncSurface`` hold one instance per namespace and are the base classes of
``AsyncClient`` and ``Client`` (the TypeScript client's ``ProtocolSurface`` plays
the same role).

Run ``python -m agentvm._surface_gen`` after changing ``_api.py`` (a namespace class
``FooApi`` becomes ``client.foo``); tests/clients/test_parity.py fails while the
committed file is stale.
"""

from __future__ import annotations

import ast
import pathlib
import sys

__all__ = ["render"]

HERE = pathlib.Path(__file__).resolve().parent
API = HERE / "_api.py"
OUT = HERE / "_surface.py"
_BASE = "_Namespace"


def _attribute(class_name: str) -> str:
    """``VmApi`` -> ``vm``, ``ProcessApi`` -> ``process``."""
    stem = class_name.removesuffix("Api")
    return stem[0].lower() + stem[1:]


_FIRST_PARTY = ("agentvm", "agentvm_protocol", "agentvm_sidecar")


def _imports(tree: ast.Module) -> list[str]:
    """The module-level imports of _api.py that annotations may name (the stdlib ones
    are this file's own), grouped and ordered as ruff's isort wants them. A relative
    import keeps only the names the signatures use (``_api``'s helpers, such as
    ``wire_path``, are not the blocking twins' business)."""
    outside: list[tuple[bool, str, str]] = []
    relative: list[tuple[str, str]] = [("_api", f"from ._api import {', '.join(sorted(_exported(tree)))}")]
    named = _signature_names(tree)
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level:
            kept = [alias for alias in node.names if (alias.asname or alias.name) in named]
            if kept:
                relative.append((node.module or "", ast.unparse(ast.ImportFrom(node.module, kept, node.level))))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            module = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
            top = (module or "").split(".")[0]
            if top in sys.stdlib_module_names or top == "__future__":
                continue
            outside.append((top in _FIRST_PARTY, module or "", ast.unparse(node)))
    lines: list[str] = []
    for first_party in (False, True):
        group = sorted((m, line) for fp, m, line in outside if fp == first_party)
        if group:
            lines += [line for _, line in group] + [""]
    return lines + [line for _, line in sorted(relative)]


def _signature_names(tree: ast.Module) -> set[str]:
    """Every name the async methods' annotations and defaults mention."""
    named: set[str] = set()
    for fn in ast.walk(tree):
        if isinstance(fn, ast.AsyncFunctionDef):
            args = fn.args
            parts = [a.annotation for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)]
            parts += [fn.returns, *args.defaults, *args.kw_defaults]
            for part in parts:
                if part is not None:
                    named.update(n.id for n in ast.walk(part) if isinstance(n, ast.Name))
    return named


def _exported(tree: ast.Module) -> list[str]:
    """``_api.__all__``: its namespace classes and the constants their defaults name."""
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return list(ast.literal_eval(node.value))
    raise SystemExit("_surface_gen: _api.py has no __all__")


def _is_direct(fn: ast.AsyncFunctionDef) -> bool:
    """Whether ``fn``'s only await is its last statement, ``return await
    self._conn.call(...)``: such a method can run to its end on the blocking
    client's own thread (``call_directly``), touching no trio."""
    *before, last = [s for s in fn.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    if any(isinstance(n, (ast.Await, ast.AsyncFor, ast.AsyncWith)) for s in before for n in ast.walk(s)):
        return False
    return (
        isinstance(last, ast.Return) and isinstance(last.value, ast.Await) and isinstance(last.value.value, ast.Call)
        and ast.unparse(last.value.value.func) == "self._conn.call"
        and not any(isinstance(n, ast.Await) for arg in last.value.value.args for n in ast.walk(arg))
    )


def _signature_and_call(fn: ast.AsyncFunctionDef) -> tuple[str, str]:
    args = fn.args
    params, call = [], []
    positional = args.posonlyargs + args.args
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    for arg, default in zip(positional, defaults, strict=True):
        params.append(_param(arg, default))
        if arg.arg != "self":
            call.append(arg.arg)
    if args.vararg or args.kwarg:
        raise SystemExit(f"_surface_gen: {fn.name} takes *args/**kwargs; forwarders have explicit parameters")
    if args.kwonlyargs:
        params.append("*")
    for arg, default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        params.append(_param(arg, default))
        call.append(f"{arg.arg}={arg.arg}")
    returns = f" -> {ast.unparse(fn.returns)}" if fn.returns else ""
    return f"def {fn.name}({', '.join(params)}){returns}:", ", ".join(call)


def _param(arg: ast.arg, default: ast.expr | None) -> str:
    text = arg.arg
    if arg.annotation is not None:
        text += f": {ast.unparse(arg.annotation)}"
        if default is not None:
            text += f" = {ast.unparse(default)}"
    elif default is not None:
        text += f"={ast.unparse(default)}"
    return text


def _docstring(text: str, indent: str) -> list[str]:
    lines = text.replace('"""', '\\"\\"\\"').splitlines()
    body = [f'{indent}"""{lines[0]}'] + [f"{indent}{line}" if line else "" for line in lines[1:]]
    body[-1] += '"""'
    return body


def render(source: str) -> str:
    """The text of ``_surface.py`` for ``_api.py``'s ``source``."""
    tree = ast.parse(source)
    namespaces = [
        node for node in tree.body
        if isinstance(node, ast.ClassDef) and any(isinstance(b, ast.Name) and b.id == _BASE for b in node.bases)
    ]
    out = [
        "# GENERATED by `python -m agentvm._surface_gen` from _api.py. Do not edit.",
        '"""The client surfaces: one attribute per wire namespace, async (``AsyncSurface``)',
        'and blocking (``SyncSurface``, whose methods mirror the async ones exactly)."""',
        "",
        "from __future__ import annotations",
        "",
        "import functools",
        "from collections.abc import Awaitable, Callable",
        "from typing import TYPE_CHECKING, Any",
        "",
        *_imports(tree),
        "",
        "if TYPE_CHECKING:",
        "    from ._connection import Connection",
        "",
        "__all__ = [" + ", ".join(f'"{name}"' for name in sorted(["AsyncSurface", "SyncSurface", "call_directly", *("Sync" + n.name for n in namespaces)])) + "]",
        "",
        "",
        "",
        "def call_directly(fn: Callable[[], Awaitable[Any]]) -> Any:",
        '    """Run ``fn()`` to its end on this thread: a method whose only await is its',
        "    connection's ``call``, on a namespace whose connection blocks instead",
        '    (``Client``: ``Connection.call_blocking``)."""',
        "    coroutine = fn().__await__()",
        "    try:",
        "        coroutine.send(None)",
        "    except StopIteration as done:",
        "        return done.value",
        "    coroutine.close()",
        '    raise RuntimeError(f"{fn} waited for the event loop")',
    ]
    for ns in namespaces:
        doc = ast.get_docstring(ns) or ""
        out += ["", "", f"class Sync{ns.name}:"]
        out += _docstring(f"Blocking twin of :class:`{ns.name}`: {doc}", "    ")
        out += [
            "",
            f"    def __init__(self, direct: {ns.name}) -> None:",
            "        self._direct = direct",
        ]
        for fn in ns.body:
            if not isinstance(fn, ast.AsyncFunctionDef) or fn.name.startswith("_"):
                continue
            header, call = _signature_and_call(fn)
            out += ["", f"    {header}"]
            out += _docstring(ast.get_docstring(fn) or f"Blocking ``{fn.name}``.", "        ")
            if not _is_direct(fn):
                raise SystemExit(
                    f"_surface_gen: {ns.name}.{fn.name} awaits more than its `return await self._conn.call(...)`;"
                    " its blocking twin cannot run it on the caller's thread"
                )
            out.append(f"        return call_directly(functools.partial(self._direct.{fn.name}{', ' + call if call else ''}))")
    out += ["", "", "class AsyncSurface:", '    """One attribute per wire namespace (``client.vm``, ``client.fs``...)."""', ""]
    out += [f"    {_attribute(ns.name)}: {ns.name}" for ns in namespaces]
    out += ["", "    def __init__(self, conn: Connection) -> None:"]
    out += [f"        self.{_attribute(ns.name)} = {ns.name}(conn)" for ns in namespaces]
    out += [
        "", "", "class SyncSurface:",
        '    """The blocking namespaces, each running its async twin to its end on the',
        "    caller's thread, on ``direct``: namespaces over a connection whose ``call``",
        '    blocks (each async method\'s only await is that call)."""',
        "",
    ]
    out += [f"    {_attribute(ns.name)}: Sync{ns.name}" for ns in namespaces]
    out += ["", "    def __init__(self, direct: AsyncSurface) -> None:"]
    out += [f"        self.{_attribute(ns.name)} = Sync{ns.name}(direct.{_attribute(ns.name)})" for ns in namespaces]
    return "\n".join(out) + "\n"


def main() -> None:
    OUT.write_text(render(API.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"wrote {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
