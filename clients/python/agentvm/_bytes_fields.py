"""The client's rule for binary fields: ``bytes`` in, or ``str`` as UTF-8; nothing else.

Why this exists: msgspec encodes a ``bytes`` field as base64, but a Struct constructor
does not check types, so a ``str`` left in a ``bytes`` field is sent as a JSON string
unchanged, and the sidecar then decodes that string *as base64*:
``write_file(vm, path, "hello+world=")`` used to write eight bytes of garbage. So every
params Struct passes through :func:`coerce_bytes_fields` before it is encoded, once, in
the connection (not in each forwarder): ``bytes``, ``bytearray`` and ``memoryview``
become ``bytes``, a ``str`` becomes its UTF-8 encoding, and anything else is a
``TypeError`` naming the field, raised before anything is sent.

Where the binary fields of a Struct type are is worked out once per type from
``msgspec.inspect`` (through nested Structs, lists, dicts, optional fields and tagged
unions) and cached; a type without binary fields costs one dict lookup.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import msgspec
from msgspec import inspect as mi

__all__ = ["BytesLike", "coerce_bytes_fields"]

BytesLike = bytes | bytearray | memoryview | str
"""What a binary field accepts from callers: bytes-like data, or text (sent as UTF-8)."""

_BINARY = (mi.BytesType, mi.ByteArrayType, mi.MemoryViewType)

# A converter takes (value, where) and returns the value to encode. None: the type holds
# no binary field, so values pass through untouched.
_Convert = Callable[[Any, str], Any]


def coerce_bytes_fields(params: Any, where: str = "params") -> Any:
    """``params`` with every binary field as ``bytes`` (``str`` encoded as UTF-8).

    Returns ``params`` itself when nothing changes; never mutates it.

    Raises:
        TypeError: a binary field holds something other than bytes-like data or
            ``str`` (the message names the field, e.g. ``params.files[1].data``).
    """
    if not isinstance(params, msgspec.Struct):
        return params
    convert = _struct_converter(type(params))
    return params if convert is None else convert(params, where)


def _to_bytes(value: Any, where: str) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"{where}: expected bytes or str (sent as UTF-8), got {type(value).__name__}")


_building: set[type] = set()


@cache
def _struct_converter(cls: type) -> _Convert | None:
    if cls in _building:  # a recursive type: look itself up once it is built
        return lambda value, where: (_struct_converter(cls) or (lambda v, w: v))(value, where)
    _building.add(cls)
    try:
        info = mi.type_info(cls)
        assert isinstance(info, mi.StructType)
        fields = [(f.name, conv) for f in info.fields if (conv := _converter(f.type)) is not None]
    finally:
        _building.discard(cls)
    if not fields:
        return None

    def convert(value: Any, where: str) -> Any:
        if not isinstance(value, cls):
            return value  # a wrong Struct is the sidecar's invalid_params to report
        changes = {}
        for name, conv in fields:
            old = getattr(value, name)
            new = conv(old, f"{where}.{name}")
            if new is not old:
                changes[name] = new
        return msgspec.structs.replace(value, **changes) if changes else value

    return convert


def _converter(t: mi.Type) -> _Convert | None:
    if isinstance(t, _BINARY):
        return _to_bytes
    if isinstance(t, mi.StructType):
        return _struct_converter(t.cls)
    if isinstance(t, (mi.ListType, mi.VarTupleType, mi.SetType, mi.FrozenSetType)):
        item = _converter(t.item_type)
        return None if item is None else _sequence(item)
    if isinstance(t, mi.DictType):
        value_conv = _converter(t.value_type)
        return None if value_conv is None else _mapping(value_conv)
    if isinstance(t, mi.UnionType):
        return _union(t.types)
    return None


def _sequence(item: _Convert) -> _Convert:
    def convert(value: Any, where: str) -> Any:
        if not isinstance(value, (list, tuple)):
            return value
        return [item(v, f"{where}[{i}]") for i, v in enumerate(value)]

    return convert


def _mapping(value_conv: _Convert) -> _Convert:
    def convert(value: Any, where: str) -> Any:
        if not isinstance(value, dict):
            return value
        return {k: value_conv(v, f"{where}[{k!r}]") for k, v in value.items()}

    return convert


def _union(members: tuple[mi.Type, ...]) -> _Convert | None:
    """``bytes | None`` converts non-None values; a union of Structs converts by the
    Struct class of the value."""
    binary = any(isinstance(m, _BINARY) for m in members)
    structs = {m.cls: conv for m in members if isinstance(m, mi.StructType) and (conv := _struct_converter(m.cls))}
    if not binary and not structs:
        return None

    def convert(value: Any, where: str) -> Any:
        if value is None:
            return None
        conv = structs.get(type(value))
        if conv is not None:
            return conv(value, where)
        if binary and not isinstance(value, msgspec.Struct):
            return _to_bytes(value, where)
        return value

    return convert
