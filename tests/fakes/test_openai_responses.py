"""The fake OpenAI server speaks the API as OpenAI does: SSE event order and shapes
for streamed Responses turns, JSON for chat completions, errors with OpenAI's error
body, and a record of every request."""

from __future__ import annotations

import http.client
import json

import pytest

from tests.fakes.openai_responses import DEFAULT_API_KEY, FakeOpenAI, Turn, say, shell_call

AUTH = {"Authorization": f"Bearer {DEFAULT_API_KEY}", "Content-Type": "application/json"}


def post(api: FakeOpenAI, path: str, body: object, headers: dict[str, str] = AUTH) -> tuple[int, str, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=30)
    try:
        conn.request("POST", path, body=json.dumps(body), headers=headers)
        response = conn.getresponse()
        return response.status, response.getheader("content-type") or "", response.read()
    finally:
        conn.close()


def sse_events(raw: bytes) -> list[dict]:
    events = []
    for block in raw.decode().split("\n\n"):
        if not block.strip():
            continue
        kind, data = block.split("\n")
        assert kind.startswith("event: ") and data.startswith("data: ")
        event = json.loads(data[len("data: "):])
        assert event["type"] == kind[len("event: "):]
        events.append(event)
    return events


@pytest.fixture
def api(openai_api):
    return openai_api


def test_a_streamed_text_turn_arrives_as_responses_api_events_in_order(api):
    api.queue(say("Hel", "lo"))
    status, content_type, raw = post(api, "/v1/responses", {"model": "gpt-x", "input": "hi", "stream": True})
    assert status == 200 and content_type.startswith("text/event-stream")
    events = sse_events(raw)
    assert [e["type"] for e in events] == [
        "response.created", "response.in_progress", "response.output_item.added", "response.content_part.added",
        "response.output_text.delta", "response.output_text.delta", "response.output_text.done",
        "response.content_part.done", "response.output_item.done", "response.completed",
    ]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert [e["delta"] for e in events if e["type"] == "response.output_text.delta"] == ["Hel", "lo"]
    done = events[-1]["response"]
    assert done["status"] == "completed" and done["model"] == "gpt-x"
    assert done["output"] == [events[-2]["item"]]
    assert done["output"][0]["content"] == [{"type": "output_text", "text": "Hello", "annotations": []}]
    usage = done["usage"]
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"] > 0


def test_a_shell_call_is_a_function_call_item_with_codex_shell_arguments(api):
    api.queue(shell_call("call_7", "ls /", workdir="/work", text=("Listing.",)))
    _, _, raw = post(api, "/v1/responses", {"model": "m", "input": [], "stream": True})
    events = sse_events(raw)
    done_items = [e["item"] for e in events if e["type"] == "response.output_item.done"]
    assert [item["type"] for item in done_items] == ["message", "function_call"]
    call = done_items[1]
    assert (call["call_id"], call["name"]) == ("call_7", "shell")
    assert json.loads(call["arguments"]) == {"command": ["bash", "-lc", "ls /"], "workdir": "/work"}
    added = [e["item"] for e in events if e["type"] == "response.output_item.added"][1]
    assert added["status"] == "in_progress" and added["arguments"] == ""
    assert [e["arguments"] for e in events if e["type"] == "response.function_call_arguments.done"] == [call["arguments"]]


def test_requests_are_recorded_with_their_input_and_tool_outputs(api):
    api.queue(say("a"), say("b"))
    post(api, "/v1/responses", {"model": "m", "input": [{"role": "user", "content": "first"}], "stream": True})
    second = {"type": "function_call_output", "call_id": "call_1", "output": "exit 0"}
    post(api, "/v1/responses", {"model": "m", "stream": True, "input": [
        {"role": "user", "content": "first"}, {"role": "assistant", "content": [{"type": "output_text", "text": "a"}]}, second,
    ]})
    first, last = api.requests
    assert first.message_texts("user") == ["first"]
    assert last.message_texts("assistant") == ["a"]
    assert last.function_call_output("call_1") == "exit 0" and last.function_call_output("call_2") is None
    assert last.headers["authorization"] == f"Bearer {DEFAULT_API_KEY}"
    assert api.turns_left == 0


def test_a_configured_base_path_serves_responses_and_v1_still_does():
    with FakeOpenAI(base_path="/openai/v1").running() as api:
        api.queue(say("x"), say("y"))
        assert api.base_url.endswith("/openai/v1")
        assert post(api, "/openai/v1/responses", {"input": "q", "stream": True})[0] == 200
        assert post(api, "/v1/responses", {"input": "q", "stream": True})[0] == 200
        assert post(api, "/other/responses", {"input": "q"})[0] == 404
        assert [r.path for r in api.requests] == ["/openai/v1/responses", "/v1/responses", "/other/responses"]


def test_chat_completions_answer_one_json_object_with_tool_calls(api):
    api.queue(say("plain answer"), shell_call("call_2", "pwd"))
    status, _, raw = post(api, "/v1/chat/completions", {"model": "m", "messages": [{"role": "user", "content": "q"}]})
    answer = json.loads(raw)
    assert status == 200 and answer["object"] == "chat.completion"
    assert answer["choices"][0]["message"] == {"role": "assistant", "content": "plain answer"}
    assert answer["choices"][0]["finish_reason"] == "stop"
    answer = json.loads(post(api, "/v1/chat/completions", {"model": "m", "messages": []})[2])
    [call] = answer["choices"][0]["message"]["tool_calls"]
    assert call["id"] == "call_2" and call["function"]["name"] == "shell"
    assert answer["choices"][0]["finish_reason"] == "tool_calls"


def test_a_non_streamed_responses_request_gets_the_whole_response_object(api):
    api.queue(say("one ", "piece"))
    status, _, raw = post(api, "/v1/responses", {"model": "m", "input": "q"})
    answer = json.loads(raw)
    assert status == 200 and answer["object"] == "response" and answer["status"] == "completed"
    assert answer["output"][0]["content"][0]["text"] == "one piece"


@pytest.mark.parametrize(
    ("headers", "queued", "status", "code"),
    [({"Content-Type": "application/json"}, True, 401, "invalid_api_key"),
     (AUTH, False, 500, "server_error")],
    ids=["no-key", "nothing-scripted"],
)
def test_a_missing_key_or_an_unscripted_request_gets_an_openai_error(api, headers, queued, status, code):
    if queued:
        api.queue(say("never sent"))
    got, _, raw = post(api, "/v1/responses", {"input": "q", "stream": True}, headers)
    assert got == status and json.loads(raw)["error"]["code"] == code


def test_a_hanging_turn_streams_its_items_but_never_completes(api):
    api.queue(say("partial", hang=True))
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=30)
    conn.request("POST", "/v1/responses", body=json.dumps({"input": "q", "stream": True}), headers=AUTH)
    response = conn.getresponse()
    seen = b""
    while b"response.output_item.done" not in seen:
        seen += response.read1(65536)
    conn.sock.settimeout(0.5)
    with pytest.raises(TimeoutError):
        response.read1(65536)
    conn.close()
    assert b"response.completed" not in seen


def test_a_cut_turn_ends_the_stream_without_response_completed(api):
    api.queue(say("partial", cut=True))
    status, _, raw = post(api, "/v1/responses", {"input": "q", "stream": True})
    kinds = [e["type"] for e in sse_events(raw)]
    assert status == 200 and kinds[-1] == "response.output_item.done" and "response.completed" not in kinds


def test_an_incomplete_turn_ends_with_response_incomplete_and_its_reason(api):
    api.queue(Turn(items=say("so far").items, incomplete=True))
    events = sse_events(post(api, "/v1/responses", {"input": "q", "stream": True})[2])
    assert events[-1]["type"] == "response.incomplete"
    assert events[-1]["response"]["incomplete_details"] == {"reason": "max_output_tokens"}


def test_one_kept_alive_connection_serves_turn_after_turn(api):
    api.queue(say("first"), say("second"))
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=30)
    try:
        texts = []
        for _ in range(2):
            conn.request("POST", "/v1/responses", body=json.dumps({"input": "q", "stream": True}), headers=AUTH)
            events = sse_events(conn.getresponse().read())
            texts.append(events[-1]["response"]["output"][0]["content"][0]["text"])
    finally:
        conn.close()
    assert texts == ["first", "second"]
