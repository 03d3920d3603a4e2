"""NDJSON JSON-RPC framing (sans-I/O): bad input becomes BadFrame events, never a crash."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentvm_protocol import EOF, MAX_NESTING_DEPTH, NEED_DATA, BadFrame, Notification, Request, Response, RpcConnection


def drain(conn: RpcConnection) -> list[object]:
    out = []
    while True:
        ev = conn.next_event()
        if ev is NEED_DATA or ev is EOF:
            return out + [ev]
        out.append(ev)


def feed(data: bytes, *, chunk: int | None = None, limit: int = 1024) -> list[object]:
    conn = RpcConnection(limit)
    events: list[object] = []
    step = chunk or max(len(data), 1)
    for i in range(0, len(data), step):
        conn.receive_data(data[i : i + step])
        events += [e for e in drain(conn) if e is not NEED_DATA]
    conn.receive_data(b"")
    return events + drain(conn)


def kinds(events: list[object]) -> list[str]:
    return [e.error.data.kind for e in events if isinstance(e, BadFrame)]


def test_request_notification_and_response_are_classified():
    events = feed(
        b'{"jsonrpc":"2.0","id":1,"method":"m","params":{"a":1}}\n'
        b'{"jsonrpc":"2.0","method":"n"}\n'
        b'{"jsonrpc":"2.0","id":"x","result":{}}\n'
    )
    assert [type(e) for e in events] == [Request, Notification, Response, type(EOF)]
    assert bytes(events[0].params) == b'{"a":1}'


def test_malformed_json_is_a_parse_error_and_the_next_frame_still_parses():
    events = feed(b'{"jsonrpc":\n{"jsonrpc":"2.0","id":2,"method":"m"}\n')
    assert kinds(events) == ["parse_error"]
    assert isinstance(events[1], Request) and events[1].id == 2


def test_a_frame_with_malformed_members_is_answered_at_its_id():
    (bad, _eof) = feed(b'{"jsonrpc":"2.0","method":7,"id":"x"}\n')
    assert bad.error.data.kind == "invalid_request" and bad.id == "x"


def test_non_object_frames_are_invalid_requests():
    assert kinds(feed(b'[1,2]\n"s"\n3\nnull\n')) == ["invalid_request"] * 4


def test_wrong_jsonrpc_version_keeps_the_id_for_the_error_reply():
    (bad, _eof) = feed(b'{"jsonrpc":"1.0","id":7,"method":"m"}\n')
    assert bad.error.data.kind == "invalid_request" and bad.id == 7


def test_oversized_frame_is_reported_once_and_dropped_while_streaming():
    big = b'{"jsonrpc":"2.0","id":1,"method":"' + b"x" * 5000 + b'"}\n'
    events = feed(big + b'{"jsonrpc":"2.0","id":2,"method":"ok"}\n', chunk=100, limit=1024)
    assert kinds(events) == ["frame_too_large"]
    assert isinstance(events[1], Request) and events[1].method == "ok"


def test_oversized_frame_never_buffers_much_more_than_the_limit():
    conn = RpcConnection(1024)
    for _ in range(100):
        conn.receive_data(b"y" * 1000)
        drain(conn)
        assert len(conn._buf) <= 2048


def nested(depth: int, inner: bytes = b"1") -> bytes:
    return b"[" * depth + inner + b"]" * depth


@pytest.mark.parametrize(
    "frame",
    [
        b'{"jsonrpc":"2.0","id":7,"method":"m","params":' + nested(1000) + b"}",
        b'{"jsonrpc":"2.0","id":7,"result":' + nested(100_000) + b"}",
        b'{"jsonrpc":"2.0","id":7,"method":"m","params":{"a":' + b'{"b":' * 500 + b"1" + b"}" * 500 + b"}}",
    ],
    ids=["request_params", "response_result", "objects"],
)
def test_nesting_deeper_than_the_limit_is_an_invalid_request_carrying_the_id(frame):
    events = feed(frame + b'\n{"jsonrpc":"2.0","id":8,"method":"ok"}\n', limit=10_000_000)
    assert kinds(events) == ["invalid_request"] and events[0].id == 7
    assert isinstance(events[1], Request) and events[1].id == 8


def test_nesting_up_to_the_limit_decodes_and_brackets_inside_strings_do_not_count():
    depth_ok = b'{"jsonrpc":"2.0","id":1,"method":"m","params":' + nested(MAX_NESTING_DEPTH - 1) + b"}"
    in_string = b'{"jsonrpc":"2.0","id":2,"method":"m","params":{"s":"' + b"[{" * 5000 + b'\\"["}}'
    events = feed(depth_ok + b"\n" + in_string + b"\n", limit=100_000)
    assert [type(e) for e in events] == [Request, Request, type(EOF)]


def test_an_id_after_the_deep_part_is_not_guessed():
    (bad, _eof) = feed(b'{"jsonrpc":"2.0","params":' + nested(200) + b',"id":3,"method":"m"}\n', limit=100_000)
    assert bad.error.data.kind == "invalid_request" and bad.id is None


@settings(max_examples=300, deadline=None)
@given(st.recursive(st.integers() | st.text(max_size=3), lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=2), c, max_size=3), max_leaves=400))
def test_any_nested_json_is_either_decoded_or_refused_by_its_true_depth(value):
    import json

    (event, _eof) = feed(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "m", "params": value}).encode() + b"\n", limit=10**7)
    assert isinstance(event, Request) == (1 + json_depth(value) <= MAX_NESTING_DEPTH)


def json_depth(v: object) -> int:
    """Arrays and objects nested in ``v`` (a scalar is 0)."""
    children = v.values() if isinstance(v, dict) else v if isinstance(v, list) else ()
    return 1 + max((json_depth(c) for c in children), default=0) if isinstance(v, (dict, list)) else 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["list", "dict", "sibling"]), min_size=50, max_size=90))
def test_a_chain_of_containers_is_refused_exactly_when_deeper_than_the_limit(shape):
    import json

    value: object = "leaf"
    for kind in shape:
        value = [value] if kind == "list" else {"k": value} if kind == "dict" else [[], {"x": [1]}, value]
    (event, _eof) = feed(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "m", "params": value}).encode() + b"\n", limit=10**7)
    assert isinstance(event, Request) == (1 + json_depth(value) <= MAX_NESTING_DEPTH)


@pytest.mark.parametrize("depth", [MAX_NESTING_DEPTH - 1, MAX_NESTING_DEPTH])
def test_a_bushy_tree_is_measured_by_its_deepest_branch(depth):
    import json

    def tree(d: int) -> object:  # doubles near the leaves, so peeling leaves shrinks it fast
        return 1 if d == 0 else [tree(d - 1), tree(d - 1)] if d <= 12 else [tree(d - 1)]

    (event, _eof) = feed(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "m", "params": tree(depth)}).encode() + b"\n", limit=10**7)
    assert isinstance(event, Request) == (depth < MAX_NESTING_DEPTH)


@pytest.mark.parametrize("levels", [MAX_NESTING_DEPTH - 2, MAX_NESTING_DEPTH - 1])
def test_objects_holding_only_an_empty_array_count_as_two_levels_when_peeled(levels):
    import json

    # Many {"x": []} leaves keep the peeling going; each is two levels deep, so a
    # round that removed a whole {"x": []} would undercount the depth.
    value: object = {"x": []}
    for level in range(levels):
        leaves = [{"x": []} for _ in range(8)]
        value = [value, *leaves] if level % 2 else {"k": value, **{f"s{i}": leaf for i, leaf in enumerate(leaves)}}
    (event, _eof) = feed(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "m", "params": value}).encode() + b"\n", limit=10**7)
    assert isinstance(event, Request) == (1 + json_depth(value) <= MAX_NESTING_DEPTH)


def test_blank_lines_are_ignored():
    assert feed(b"\n\r\n  \n") == [EOF]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600), st.integers(min_value=1, max_value=50))
def test_any_bytes_whole_or_chunked_give_messages_or_bad_frames_never_an_exception(data, chunk):
    whole = feed(data, limit=256)
    pieces = feed(data, chunk=chunk, limit=256)
    assert whole[-1] is EOF and pieces[-1] is EOF
    allowed = (Request, Notification, Response, BadFrame)
    assert all(isinstance(e, allowed) for e in whole[:-1] + pieces[:-1])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=40), max_size=5), st.integers(min_value=1, max_value=30))
def test_valid_frames_split_anywhere_decode_identically(methods, chunk):
    import json

    data = b"".join(
        json.dumps({"jsonrpc": "2.0", "id": i, "method": m, "params": {}}).encode() + b"\n" for i, m in enumerate(methods)
    )
    whole = feed(data, limit=10_000)
    pieces = feed(data, chunk=chunk, limit=10_000)
    assert [(e.id, e.method) for e in whole[:-1]] == [(i, m) for i, m in enumerate(methods)]
    assert [(e.id, e.method) for e in pieces[:-1]] == [(e.id, e.method) for e in whole[:-1]]
