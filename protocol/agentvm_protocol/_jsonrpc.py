"""JSON-RPC 2.0 over NDJSON, sans I/O.

Spec: https://www.jsonrpc.org/specification, one JSON object per ``\\n``-terminated
UTF-8 line. This module does no I/O at all, in the manner of h11: the owner feeds
bytes with :meth:`RpcConnection.receive_data` (``b""`` means end of input) and pulls
messages with :meth:`RpcConnection.next_event`, which returns a message,
:data:`NEED_DATA` or :data:`EOF`. Outgoing messages become lines via the ``encode_*``
functions. Both the sidecar and the Python client use it.

Invariant (fuzzed in tests): any byte string, fed whole or a byte at a time, produces
messages, :class:`BadFrame` events or NEED_DATA/EOF -- never an exception. That holds
for requests and responses alike: msgspec decodes nested JSON recursively (even the
parts it keeps as ``Raw`` or skips), so a 2 KB line of 1000 nested arrays would raise
``RecursionError``. Lines nested deeper than :data:`MAX_NESTING_DEPTH` are refused
before decoding as ``invalid_request`` (with the id when it precedes the deep part, as
our encoders write it), and any other decoder failure becomes a ``parse_error``.

Buffering is O(bytes): a scan offset remembers how far we already looked for a
newline, so a frame delivered one byte at a time is not rescanned from its start, and
a line longer than ``max_frame_bytes`` is dropped as it streams in (we never hold more
than one maximum frame), reported once as ``frame_too_large``.

Params and results stay ``msgspec.Raw`` until the method is known; the dispatcher
then decodes them with that method's prebuilt decoder.
"""

from __future__ import annotations

import operator
import re
from itertools import accumulate, count
from typing import Any, Final

import msgspec

from ._errors import ERROR_CODES, ErrorData, ErrorKind, ErrorObject
from ._version import DEFAULT_MAX_FRAME_BYTES

__all__ = [
    "EOF",
    "MAX_NESTING_DEPTH",
    "NEED_DATA",
    "BadFrame",
    "Notification",
    "Request",
    "RequestId",
    "Response",
    "RpcConnection",
    "encode_error",
    "encode_notification",
    "encode_request",
    "encode_result",
    "make_error",
]

RequestId = int | str

# Arrays and objects nested inside each other, the envelope counting as one. Every
# wire type is far shallower; arbitrary JSON relayed for guests (tool calls, ACP
# updates) gets 60 levels, well below where a recursive decoder runs out of stack.
MAX_NESTING_DEPTH: Final = 64


class _Sentinel:
    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


NEED_DATA: Final = _Sentinel("NEED_DATA")
EOF: Final = _Sentinel("EOF")


class Request(msgspec.Struct, frozen=True):
    id: RequestId
    method: str
    params: msgspec.Raw


class Notification(msgspec.Struct, frozen=True):
    method: str
    params: msgspec.Raw


class Response(msgspec.Struct, frozen=True):
    id: RequestId
    result: msgspec.Raw | None = None
    error: ErrorObject | None = None


class BadFrame(msgspec.Struct, frozen=True):
    """An incoming line that is not a usable JSON-RPC message. ``id`` is the request id
    when it could be read, so the error response can be addressed; otherwise None.
    ``excerpt`` is the start of the offending line (for error messages), when there is one."""

    error: ErrorObject
    id: RequestId | None = None
    excerpt: str = ""


class _Envelope(msgspec.Struct):
    jsonrpc: Any = msgspec.UNSET
    id: int | str | msgspec.UnsetType | None = msgspec.UNSET
    method: str | msgspec.UnsetType = msgspec.UNSET
    params: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    result: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    error: ErrorObject | msgspec.UnsetType = msgspec.UNSET


_envelope_decoder = msgspec.json.Decoder(_Envelope)
_encoder = msgspec.json.Encoder()
_EMPTY_PARAMS = msgspec.Raw(b"{}")
_EXCERPT_BYTES = 200


def make_error(kind: ErrorKind, message: str, **data: Any) -> ErrorObject:
    """Build an error object whose code follows from its kind."""
    return ErrorObject(code=ERROR_CODES[kind], message=message, data=ErrorData(kind=kind, **data))


class RpcConnection:
    """Turns a byte stream into JSON-RPC messages, enforcing a maximum frame size."""

    def __init__(self, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> None:
        self.max_frame_bytes = max_frame_bytes
        self._buf = bytearray()
        self._scanned = 0  # bytes of _buf known to contain no newline
        self._discarding = False  # inside an oversized line, dropping until its newline
        self._eof = False

    def receive_data(self, data: bytes) -> None:
        """Feed bytes read from the peer; ``b""`` marks end of input."""
        if not data:
            self._eof = True
            return
        if self._eof:
            raise RuntimeError("receive_data after end of input")
        self._buf += data

    def next_event(self) -> Request | Notification | Response | BadFrame | _Sentinel:
        """The next complete message, or NEED_DATA / EOF. Never raises on bad input."""
        while True:
            newline = self._buf.find(b"\n", self._scanned)
            if newline < 0:
                if self._discarding or len(self._buf) > self.max_frame_bytes:
                    return self._drop_oversized_prefix()
                self._scanned = len(self._buf)
                if self._eof:
                    if self._buf:
                        line = bytes(self._buf)
                        self._buf.clear()
                        self._scanned = 0
                        return self._parse(line)
                    return EOF
                return NEED_DATA
            line = bytes(self._buf[:newline])
            del self._buf[: newline + 1]
            self._scanned = 0
            if self._discarding:
                self._discarding = False
                continue
            if len(line) > self.max_frame_bytes:
                return _too_large(self.max_frame_bytes)
            if line.strip():
                return self._parse(line)

    def _drop_oversized_prefix(self) -> BadFrame | _Sentinel:
        self._buf.clear()
        self._scanned = 0
        if self._discarding:
            return EOF if self._eof else NEED_DATA
        self._discarding = not self._eof
        return _too_large(self.max_frame_bytes)

    @staticmethod
    def _parse(line: bytes) -> Request | Notification | Response | BadFrame:
        bad = RpcConnection._parse_message(line)
        if isinstance(bad, BadFrame):
            return msgspec.structs.replace(bad, excerpt=line[:_EXCERPT_BYTES].decode("utf-8", "replace"))
        return bad

    @staticmethod
    def _parse_message(line: bytes) -> Request | Notification | Response | BadFrame:
        if _nested_too_deep(line):
            message = f"frame nests arrays/objects deeper than {MAX_NESTING_DEPTH} levels"
            return BadFrame(error=make_error("invalid_request", message), id=_leading_id(line))
        try:
            env = _envelope_decoder.decode(line)
        except msgspec.ValidationError as exc:  # JSON, but not an envelope: answer its id if it has one
            return BadFrame(error=make_error("invalid_request", f"bad frame: {exc}"), id=_any_id(line))
        except msgspec.DecodeError as exc:
            return BadFrame(error=make_error("parse_error", f"bad frame: {exc}"))
        except Exception as exc:  # RecursionError on a malformed deep line, anything else: never raise
            return BadFrame(error=make_error("parse_error", f"bad frame: {type(exc).__name__}"))
        msg_id = None if env.id is msgspec.UNSET else env.id
        if env.jsonrpc != "2.0":
            return BadFrame(error=make_error("invalid_request", 'jsonrpc must be "2.0"'), id=msg_id)
        if env.method is not msgspec.UNSET:
            params = _EMPTY_PARAMS if env.params is msgspec.UNSET else env.params
            if env.id is msgspec.UNSET:
                return Notification(method=env.method, params=params)
            if env.id is None:
                return BadFrame(error=make_error("invalid_request", "request id must not be null"))
            return Request(id=env.id, method=env.method, params=params)
        if isinstance(msg_id, (int, str)) and (env.result is not msgspec.UNSET or env.error is not msgspec.UNSET):
            result = None if env.result is msgspec.UNSET else env.result
            error = None if env.error is msgspec.UNSET else env.error
            return Response(id=msg_id, result=result, error=error)
        return BadFrame(error=make_error("invalid_request", "neither a request nor a response"), id=msg_id)


_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_OBJECTS_AS_ARRAYS = bytes.maketrans(b"{}", b"[]")  # only the depth matters
_OPEN_AS_TWO = bytes.maketrans(b"[]", b"\x02\x00")
# An "id" member of the top-level object that comes before any nested value.
_LEADING_ID = re.compile(rb'\A\s*\{(?:[^"\[\]{}]|"[^"\\]*(?:\\.[^"\\]*)*")*?"id"\s*:\s*(-?\d+|"[^"\\]*(?:\\.[^"\\]*)*")')
_id_decoder = msgspec.json.Decoder(int | str)


def _nested_too_deep(line: bytes) -> bool:
    """Whether ``line`` nests arrays/objects deeper than MAX_NESTING_DEPTH, in
    O(bytes) and mostly in C: nearly every frame has fewer brackets than the limit;
    otherwise strings are cut out, leaf containers peeled off (at most MAX_NESTING_DEPTH
    passes, while each removes a quarter), and the running depth of what remains is
    scanned, stopping at the first level too deep. Worst case, a 64 MiB frame made only
    of brackets (a client's own doing): several seconds for that connection."""
    limit = MAX_NESTING_DEPTH
    if line.count(b"[") + line.count(b"{") <= limit:
        return False
    brackets = _JSON_STRING.sub(b"", line).translate(_OBJECTS_AS_ARRAYS, _NOT_BRACKETS)
    while len(brackets) > 2 * limit:
        # Removing every empty container lowers the deepest point by exactly one
        # (one pass: containers emptied by this pass stay for the next).
        peeled = brackets.replace(b"[]", b"")
        if len(peeled) > len(brackets) * 3 // 4:
            break  # a pass costs about a fifth of the scan below: stop when it saves less
        brackets = peeled
        limit -= 1
        if limit < 0:
            return True
    if len(brackets) <= 2 * limit:
        return False
    # depth after n brackets = 2 * opens so far - n
    for depth in map(operator.sub, accumulate(brackets.translate(_OPEN_AS_TWO)), count(1)):
        if depth > limit:
            return True
        if depth < 0:
            return False  # unbalanced: the decoder reports the parse error
    return False


class _IdOnly(msgspec.Struct):
    id: Any = None


_id_only_decoder = msgspec.json.Decoder(_IdOnly)


def _any_id(line: bytes) -> RequestId | None:
    """The id of a JSON object whose other members are malformed, if it is one."""
    try:
        found = _id_only_decoder.decode(line).id
    except msgspec.DecodeError:
        return None
    return found if isinstance(found, (int, str)) and not isinstance(found, bool) else None


def _leading_id(line: bytes) -> RequestId | None:
    """The request id of a line refused before decoding, when it can be read."""
    match = _LEADING_ID.match(line)
    if match is None:
        return None
    try:
        return _id_decoder.decode(match.group(1))
    except msgspec.DecodeError:
        return None


def _too_large(limit: int) -> BadFrame:
    return BadFrame(error=make_error("frame_too_large", f"frame exceeds maxFrameBytes ({limit})"))


class _OutRequest(msgspec.Struct):
    id: RequestId
    method: str
    params: Any
    jsonrpc: str = "2.0"


class _OutNotification(msgspec.Struct):
    method: str
    params: Any
    jsonrpc: str = "2.0"


class _OutResult(msgspec.Struct):
    id: RequestId
    result: Any
    jsonrpc: str = "2.0"


class _OutError(msgspec.Struct):
    id: RequestId | None
    error: ErrorObject
    jsonrpc: str = "2.0"


def _line(msg: msgspec.Struct) -> bytes:
    return _encoder.encode(msg) + b"\n"


def encode_request(id: RequestId, method: str, params: Any) -> bytes:
    """One NDJSON line carrying a request."""
    return _line(_OutRequest(id=id, method=method, params=params))


def encode_notification(method: str, params: Any) -> bytes:
    """One NDJSON line carrying a notification."""
    return _line(_OutNotification(method=method, params=params))


def encode_result(id: RequestId, result: Any) -> bytes:
    """One NDJSON line carrying a successful response."""
    return _line(_OutResult(id=id, result=result))


def encode_error(id: RequestId | None, error: ErrorObject) -> bytes:
    """One NDJSON line carrying an error response (``id`` None when unknown)."""
    return _line(_OutError(id=id, error=error))
