"""A deterministic fake of the OpenAI HTTP API, for agents running in a VM.

What it serves (HTTP/1.1 through h11, on 127.0.0.1 at an ephemeral port):

- ``POST /v1/responses`` (and ``<base_path>/responses``) with ``"stream": true``:
  the next scripted :class:`Turn` as Server-Sent Events, in the order and shapes the
  OpenAI Responses API streams them: ``response.created``, ``response.in_progress``,
  then per output item ``response.output_item.added``, for a message
  ``response.content_part.added``, ``response.output_text.delta``...,
  ``response.output_text.done``, ``response.content_part.done``, for a function call
  ``response.function_call_arguments.delta`` / ``.done``, then
  ``response.output_item.done``; finally ``response.completed`` carrying the output
  items and the usage. Each event is ``event: <type>`` + ``data: <json>`` with a
  ``sequence_number``, as OpenAI sends them; the body is chunked (no
  Content-Length), so clients exercise their chunked decoding. Without ``stream``
  the same turn is answered as one ``response`` JSON object.
- ``POST /v1/chat/completions`` (and ``<base_path>/chat/completions``): the next
  turn as one non-streaming ``chat.completion`` object (``tool_calls`` for function
  calls), for agents simpler than Codex.

Codex's shell tool is a function named ``shell`` whose arguments are
``{"command": ["bash", "-lc", "..."], "workdir": ..., "timeout_ms": ...}``
(codex-rs/core/src/tools/spec.rs, ``create_shell_tool``); :func:`shell_call` builds
one. Codex answers it in its next request with an ``input`` item
``{"type": "function_call_output", "call_id", "output"}``;
:meth:`RecordedRequest.function_call_output` finds it.

Every request is recorded (:attr:`FakeOpenAI.requests`), whatever its path, so
tests assert what the agent sent: the model, the history in ``input``, the tool
outputs, the bearer key. Turns are consumed in order; when none is left the server
answers 500 with an OpenAI-style error body (a test that under-scripts fails loudly)
unless a ``default`` turn was given. A wrong or missing API key gets 401.

The server runs on its own thread with its own trio loop (:meth:`FakeOpenAI.running`),
so the same fake serves trio tests, blocking clients and bench/.

With ``ssl_context`` it serves HTTPS instead (``base_url`` says ``https://``), for
agents whose TLS the sidecar does (``net_tls_connect``).

Deliberately not here: websockets, ``/models`` (unknown paths get 404 and are still
recorded).
"""

from __future__ import annotations

import itertools
import json
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import h11
import trio

__all__ = [
    "DEFAULT_API_KEY",
    "FakeOpenAI",
    "FunctionCall",
    "Message",
    "RecordedRequest",
    "Turn",
    "say",
    "shell_call",
]

DEFAULT_API_KEY = "sk-fake-openai-key"
MAX_BODY_BYTES = 16 << 20
_RECEIVE_BYTES = 65536


@dataclass(frozen=True)
class Message:
    """An assistant message streamed as ``deltas`` (joined, they are its text)."""

    deltas: tuple[str, ...]

    @property
    def text(self) -> str:
        return "".join(self.deltas)


@dataclass(frozen=True)
class FunctionCall:
    """A function (tool) call item; ``arguments`` is the JSON text the model wrote."""

    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class Turn:
    """One scripted model answer.

    Attributes:
        items: the output items, in order.
        hang: after streaming the items, send nothing more (no ``response.completed``)
            until the client goes away: a model that stalls mid-answer.
        cut: end the HTTP response right after the items, without
            ``response.completed``: a stream the server dropped.
        incomplete: end with ``response.incomplete`` (reason ``max_output_tokens``)
            instead of ``response.completed``.
        status: a non-200 status answers with an OpenAI error body instead.
        delay: seconds to wait before each SSE event (lets a test watch the order).
    """

    items: tuple[Message | FunctionCall, ...] = ()
    hang: bool = False
    cut: bool = False
    incomplete: bool = False
    status: int = 200
    delay: float = 0.0


def say(*deltas: str, hang: bool = False, cut: bool = False, delay: float = 0.0) -> Turn:
    """A turn answering one message streamed as ``deltas``."""
    return Turn(items=(Message(tuple(deltas)),), hang=hang, cut=cut, delay=delay)


def shell_call(call_id: str, script: str, *, workdir: str | None = None, timeout_ms: int | None = None,
               text: tuple[str, ...] = ()) -> Turn:
    """A turn calling Codex's ``shell`` tool with ``["bash", "-lc", script]``,
    optionally preceded by a message streamed as ``text``."""
    arguments: dict[str, Any] = {"command": ["bash", "-lc", script]}
    if workdir is not None:
        arguments["workdir"] = workdir
    if timeout_ms is not None:
        arguments["timeout_ms"] = timeout_ms
    call = FunctionCall(call_id=call_id, name="shell", arguments=json.dumps(arguments))
    return Turn(items=((Message(text),) if text else ()) + (call,))


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    """Lower-cased names; a repeated header keeps its last value."""
    body: bytes

    @property
    def json(self) -> Any:
        """The body decoded as JSON (None when it is not JSON)."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def input_items(self) -> list[dict[str, Any]]:
        """The Responses API ``input`` as a list of items (a string input is one
        user message)."""
        body = self.json if isinstance(self.json, dict) else {}
        value = body.get("input", [])
        if isinstance(value, str):
            return [{"type": "message", "role": "user", "content": value}]
        return [item for item in value if isinstance(item, dict)]

    def message_texts(self, role: str) -> list[str]:
        """The text of each ``input`` message of ``role`` (string content, or its
        ``input_text``/``output_text`` parts joined)."""
        texts = []
        for item in self.input_items():
            if item.get("role") != role or item.get("type", "message") != "message":
                continue
            content = item.get("content")
            if isinstance(content, str):
                texts.append(content)
            elif isinstance(content, list):
                texts.append("".join(part.get("text", "") for part in content if isinstance(part, dict)))
        return texts

    def function_call_output(self, call_id: str) -> str | None:
        """The ``output`` of the ``function_call_output`` item answering ``call_id``."""
        for item in self.input_items():
            if item.get("type") == "function_call_output" and item.get("call_id") == call_id:
                output = item.get("output")
                return output if isinstance(output, str) else json.dumps(output)
        return None


@dataclass
class _Script:
    turns: list[Turn] = field(default_factory=list)
    default: Turn | None = None


class FakeOpenAI:
    """The fake server (see the module header). Use :meth:`running`::

        with FakeOpenAI().running() as api:
            api.queue(say("Hello", " world"))
            ... point the agent at api.base_url with api.api_key ...
            assert api.requests[0].json["stream"] is True
    """

    def __init__(self, *, base_path: str = "/v1", api_key: str | None = DEFAULT_API_KEY, model: str = "gpt-fake",
                 default: Turn | None = None, ssl_context: ssl.SSLContext | None = None) -> None:
        self.ssl_context = ssl_context
        self.base_path = "/" + base_path.strip("/") if base_path.strip("/") else ""
        self.api_key = api_key
        self.model = model
        self.port = 0
        self._script = _Script(default=default)
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._responses_paths = {"/v1/responses", f"{self.base_path}/responses"}
        self._chat_paths = {"/v1/chat/completions", f"{self.base_path}/chat/completions"}

    # -- the test's side ------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port><base_path>`` (what OPENAI_BASE_URL takes)."""
        return self.url_via("127.0.0.1")

    def url_via(self, host: str) -> str:
        """The base URL with ``host`` for the address (a VM reaches the host's
        127.0.0.1 through a DNS override, e.g. ``api.test``)."""
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{host}:{self.port}{self.base_path}"

    def queue(self, *turns: Turn) -> None:
        """Append turns; each request to a model endpoint consumes the next one."""
        with self._lock:
            self._script.turns.extend(turns)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in order (a copy)."""
        with self._lock:
            return list(self._requests)

    def model_requests(self) -> list[RecordedRequest]:
        """The requests to the Responses and chat completions endpoints."""
        return [r for r in self.requests if r.path in self._responses_paths | self._chat_paths]

    @property
    def turns_left(self) -> int:
        """How many queued turns no request has consumed yet."""
        with self._lock:
            return len(self._script.turns)

    @contextmanager
    def running(self) -> Iterator[FakeOpenAI]:
        """Serve on a thread until the block ends (then every connection is dropped)."""
        started = threading.Event()
        state: dict[str, Any] = {}

        async def main() -> None:
            listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
            self.port = listeners[0].socket.getsockname()[1]
            async with trio.open_nursery() as nursery:
                state["token"] = trio.lowlevel.current_trio_token()
                state["scope"] = nursery.cancel_scope
                started.set()
                await trio.serve_listeners(self._serve_connection, listeners, handler_nursery=nursery)

        thread = threading.Thread(target=lambda: trio.run(main), name="fake-openai", daemon=True)
        thread.start()
        if not started.wait(30):
            raise RuntimeError("the fake OpenAI server did not start")
        try:
            yield self
        finally:
            state["token"].run_sync_soon(state["scope"].cancel)  # from any thread, trio's own included
            thread.join(30)

    # -- the server's side ----------------------------------------------------------------
    def _next_turn(self) -> Turn | None:
        with self._lock:
            if self._script.turns:
                return self._script.turns.pop(0)
            return self._script.default

    async def _serve_connection(self, stream: trio.abc.Stream) -> None:
        if self.ssl_context is not None:
            stream = trio.SSLStream(stream, self.ssl_context, server_side=True)
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_BODY_BYTES)
        try:
            while True:
                request, body = await _read_request(conn, stream)
                if request is None:
                    return
                recorded = RecordedRequest(
                    method=request.method.decode(),
                    path=request.target.decode().split("?", 1)[0],
                    headers={name.decode().lower(): value.decode("latin-1") for name, value in request.headers},
                    body=body,
                )
                with self._lock:
                    self._requests.append(recorded)
                await self._answer(conn, stream, recorded)
                if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                    return
                conn.start_next_cycle()
        except (h11.ProtocolError, trio.BrokenResourceError, trio.ClosedResourceError, ssl.SSLError):
            return
        finally:
            await stream.aclose()

    async def _answer(self, conn: h11.Connection, stream: trio.abc.Stream, request: RecordedRequest) -> None:
        endpoint = "responses" if request.path in self._responses_paths else "chat" if request.path in self._chat_paths else None
        if endpoint is None:
            return await _send_json(conn, stream, 404, _error(f"no route for {request.method} {request.path}", "not_found"))
        if request.method != "POST":
            return await _send_json(conn, stream, 405, _error(f"{request.path} takes POST", "method_not_allowed"))
        if self.api_key is not None and request.headers.get("authorization") != f"Bearer {self.api_key}":
            return await _send_json(conn, stream, 401, _error("Incorrect API key provided", "invalid_api_key"))
        body = request.json
        if not isinstance(body, dict):
            return await _send_json(conn, stream, 400, _error("the body is not a JSON object", "invalid_request_error"))
        turn = self._next_turn()
        if turn is None:
            return await _send_json(conn, stream, 500, _error("the fake OpenAI server has no scripted turn left", "server_error"))
        if turn.status != 200:
            return await _send_json(conn, stream, turn.status, _error(f"scripted failure {turn.status}", "server_error"))
        builder = _ResponseBuilder(self, body, request, turn)
        if endpoint == "chat":
            if body.get("stream"):
                return await _send_json(conn, stream, 400, _error("the fake serves chat completions without stream", "invalid_request_error"))
            return await _send_json(conn, stream, 200, builder.chat_completion())
        if not body.get("stream"):
            return await _send_json(conn, stream, 200, builder.response("completed", builder.output_items()))
        await stream.send_all(conn.send(h11.Response(status_code=200, headers=[
            ("content-type", "text/event-stream; charset=utf-8"), ("cache-control", "no-cache")])))
        for event in builder.events():
            if turn.delay:
                await trio.sleep(turn.delay)
            await stream.send_all(conn.send(h11.Data(data=_sse(event))))
        if turn.hang:
            while await stream.receive_some(_RECEIVE_BYTES):  # until the client goes away
                pass
            raise trio.BrokenResourceError("the client left a hanging turn")
        await stream.send_all(conn.send(h11.EndOfMessage()))


class _ResponseBuilder:
    """The OpenAI objects for one turn, numbered like the API numbers them."""

    def __init__(self, fake: FakeOpenAI, body: dict[str, Any], request: RecordedRequest, turn: Turn) -> None:
        n = next(fake._ids)
        self.response_id = f"resp_{n:04d}"
        self.item_ids = [f"{'msg' if isinstance(item, Message) else 'fc'}_{n:04d}_{i}" for i, item in enumerate(turn.items)]
        self.model = body.get("model") if isinstance(body.get("model"), str) else fake.model
        self.turn = turn
        self.input_tokens = max(1, len(request.body) // 4)
        self.output_tokens = sum(_tokens(item) for item in turn.items)
        self._sequence = itertools.count()

    def usage(self) -> dict[str, Any]:
        return {
            "input_tokens": self.input_tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": self.output_tokens,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": self.input_tokens + self.output_tokens,
        }

    def response(self, status: str, output: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "id": self.response_id,
            "object": "response",
            "created_at": 1700000000,
            "status": status,
            "model": self.model,
            "output": output,
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "usage": self.usage() if status != "in_progress" else None,
        }

    def item(self, index: int, done: bool) -> dict[str, Any]:
        item, item_id = self.turn.items[index], self.item_ids[index]
        status = "completed" if done else "in_progress"
        if isinstance(item, Message):
            content = [{"type": "output_text", "text": item.text, "annotations": []}] if done else []
            return {"id": item_id, "type": "message", "status": status, "role": "assistant", "content": content}
        return {"id": item_id, "type": "function_call", "status": status, "call_id": item.call_id, "name": item.name,
                "arguments": item.arguments if done else ""}

    def output_items(self) -> list[dict[str, Any]]:
        return [self.item(i, done=True) for i in range(len(self.turn.items))]

    def _event(self, kind: str, **fields: Any) -> dict[str, Any]:
        return {"type": kind, "sequence_number": next(self._sequence), **fields}

    def events(self) -> Iterator[dict[str, Any]]:
        """The SSE events of a streamed turn, ``response.completed`` last (left out
        when the turn hangs or is cut)."""
        yield self._event("response.created", response=self.response("in_progress", []))
        yield self._event("response.in_progress", response=self.response("in_progress", []))
        for index, item in enumerate(self.turn.items):
            item_id = self.item_ids[index]
            yield self._event("response.output_item.added", output_index=index, item=self.item(index, done=False))
            if isinstance(item, Message):
                where = {"item_id": item_id, "output_index": index, "content_index": 0}
                yield self._event("response.content_part.added", **where,
                                  part={"type": "output_text", "text": "", "annotations": []})
                for delta in item.deltas:
                    yield self._event("response.output_text.delta", **where, delta=delta, logprobs=[])
                yield self._event("response.output_text.done", **where, text=item.text, logprobs=[])
                yield self._event("response.content_part.done", **where,
                                  part={"type": "output_text", "text": item.text, "annotations": []})
            else:
                where = {"item_id": item_id, "output_index": index}
                yield self._event("response.function_call_arguments.delta", **where, delta=item.arguments)
                yield self._event("response.function_call_arguments.done", **where, arguments=item.arguments)
            yield self._event("response.output_item.done", output_index=index, item=self.item(index, done=True))
        if self.turn.incomplete:
            response = self.response("incomplete", self.output_items())
            yield self._event("response.incomplete", response={**response, "incomplete_details": {"reason": "max_output_tokens"}})
        elif not (self.turn.hang or self.turn.cut):
            yield self._event("response.completed", response=self.response("completed", self.output_items()))

    def chat_completion(self) -> dict[str, Any]:
        text = "".join(item.text for item in self.turn.items if isinstance(item, Message))
        calls = [
            {"id": item.call_id, "type": "function", "function": {"name": item.name, "arguments": item.arguments}}
            for item in self.turn.items if isinstance(item, FunctionCall)
        ]
        message: dict[str, Any] = {"role": "assistant", "content": text or None}
        if calls:
            message["tool_calls"] = calls
        return {
            "id": self.response_id.replace("resp_", "chatcmpl-"),
            "object": "chat.completion",
            "created": 1700000000,
            "model": self.model,
            "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if calls else "stop"}],
            "usage": {"prompt_tokens": self.input_tokens, "completion_tokens": self.output_tokens,
                      "total_tokens": self.input_tokens + self.output_tokens},
        }


def _tokens(item: Message | FunctionCall) -> int:
    text = item.text if isinstance(item, Message) else item.arguments
    return max(1, len(text) // 4)


def _sse(event: dict[str, Any]) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event, separators=(',', ':'))}\n\n".encode()


def _error(message: str, code: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": code, "param": None, "code": code}}


async def _read_request(conn: h11.Connection, stream: trio.abc.Stream) -> tuple[h11.Request | None, bytes]:
    """The next request and its whole body; (None, b"") when the client is done."""
    request: h11.Request | None = None
    body = bytearray()
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(await stream.receive_some(_RECEIVE_BYTES))
        elif isinstance(event, h11.Request):
            request = event
        elif isinstance(event, h11.Data):
            body += event.data
            if len(body) > MAX_BODY_BYTES:
                raise h11.RemoteProtocolError("request body too large")
        elif isinstance(event, h11.EndOfMessage):
            return request, bytes(body)
        elif isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
            return None, b""


async def _send_json(conn: h11.Connection, stream: trio.abc.Stream, status: int, value: Any) -> None:
    data = json.dumps(value).encode()
    headers = [("content-type", "application/json"), ("content-length", str(len(data)))]
    await stream.send_all(conn.send(h11.Response(status_code=status, headers=headers)))
    await stream.send_all(conn.send(h11.Data(data=data)))
    await stream.send_all(conn.send(h11.EndOfMessage()))
