"""Wire Structs: exports complete, round trips exact, schemas/ fresh."""

from __future__ import annotations

import pathlib
import typing

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import agentvm_protocol
from agentvm_protocol import EVENT_TYPES, METHODS, SCHEMA_FILENAME, render_schema

ROOT = pathlib.Path(__file__).resolve().parents[2]
WIRE_TYPES = sorted(
    {t for spec in METHODS.values() for t in (spec.params, spec.result)} | set(EVENT_TYPES), key=lambda t: t.__name__
)


def test_every_wire_struct_is_exported():
    exported = set(agentvm_protocol.__all__)
    missing = [t.__name__ for t in WIRE_TYPES if t.__name__ not in exported]
    assert not missing


def test_wire_structs_follow_the_naming_rule():
    for name, spec in METHODS.items():
        if name == "hello":
            continue
        ns, verb = name.split(".")
        prefix = ns.capitalize() + verb[0].upper() + verb[1:]
        assert spec.params.__name__ == prefix + "Params", name


def test_committed_schema_matches_the_protocol():
    committed = (ROOT / "schemas" / SCHEMA_FILENAME).read_text(encoding="utf-8")
    assert committed == render_schema(), "schemas/ is stale: run `make schemas`"


def test_unknown_fields_are_rejected_with_their_location():
    with pytest.raises(msgspec.ValidationError, match="bogus"):
        msgspec.json.decode(b'{"vmId":"v","path":"/a","bogus":1}', type=agentvm_protocol.FsReadFileParams)


# Strings shaped like VM paths (leading "/", no NUL, short) satisfy every string
# constraint of the wire types (paths, ids, names), so few generated values are
# filtered out below; from_type alone would almost never produce a valid path.
st.register_type_strategy(
    str, st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40).map(lambda s: "/" + s)
)

# JSON Schemas are free-form JSON (``dict[str, Any]``), which from_type cannot
# build: tools get small JSON objects and names matching their pattern.
_json_objects = st.dictionaries(st.text(max_size=8), st.none() | st.booleans() | st.integers() | st.text(max_size=8), max_size=3)
st.register_type_strategy(
    agentvm_protocol.ToolSpec,
    st.builds(
        agentvm_protocol.ToolSpec,
        name=st.from_regex(r"\A[a-z_]{1,10}\Z"),
        input_schema=_json_objects,
        output_schema=st.none() | _json_objects,
        timeout_ms=st.integers(1, 10**6),
    ),
)



def _json_objects(tp: type) -> object:
    # ACP objects (dict[str, Any]) cross the wire as JSON; hypothesis cannot draw
    # typing.Any, so their values are drawn as JSON scalars. (Registering for dict
    # replaces hypothesis' own dict strategy, so other dicts are built here too.)
    key, value = typing.get_args(tp) or (str, typing.Any)
    values = st.none() | st.booleans() | st.integers() | st.text(max_size=8) if value is typing.Any else st.from_type(value)
    return st.dictionaries(st.from_type(key), values, max_size=3)


st.register_type_strategy(dict, _json_objects)


def _satisfies_constraints(tp: type, value: object) -> bool:
    # st.from_type ignores Meta constraints (min_length, pattern...); such values are
    # not valid messages, so they are filtered out rather than round-tripped.
    try:
        msgspec.convert(msgspec.to_builtins(value), tp)
    except msgspec.ValidationError:
        return False
    return True


@pytest.mark.parametrize("tp", WIRE_TYPES, ids=lambda t: t.__name__)
def test_encode_then_decode_is_identity(tp):
    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.from_type(tp).filter(lambda v: _satisfies_constraints(tp, v)))
    def roundtrip(value):
        # Normalised once first: hypothesis may fill default_factory fields with
        # msgspec's factory placeholder, which only decoding turns into a value.
        decoded = msgspec.json.decode(msgspec.json.encode(value), type=tp)
        assert msgspec.json.decode(msgspec.json.encode(decoded), type=tp) == decoded

    roundtrip()


def test_every_wire_type_is_documented_in_the_schema():
    # docstrings become schema descriptions and TypeScript doc comments
    schema = agentvm_protocol.build_schema()
    undocumented = [name for name, definition in schema["$defs"].items() if not definition.get("description")]
    assert undocumented == []
