"""agentvm wire protocol: msgspec Structs, the method table and NDJSON JSON-RPC framing.

This package is the single source of truth for the wire; schemas/ is generated from it.
It never imports trio or does I/O.
"""

from __future__ import annotations

from ._base import Base, Empty
from ._errors import ERROR_CODES, ErrorData, ErrorKind, ErrorObject, error_kind_for_errno
from ._fetch import *  # noqa: F403
from ._fetch import __all__ as _fetch_all
from ._fs import *  # noqa: F403
from ._fs import __all__ as _fs_all
from ._handshake import HelloParams, HelloResult
from ._jsonrpc import (
    EOF,
    MAX_NESTING_DEPTH,
    NEED_DATA,
    BadFrame,
    Notification,
    Request,
    RequestId,
    Response,
    RpcConnection,
    encode_error,
    encode_notification,
    encode_request,
    encode_result,
    make_error,
)
from ._methods import CANCEL_METHOD, CLIENT_REQUESTS, EVENT_METHOD, EVENT_TYPES, METHODS, NOTIFIABLE_METHODS, Event, MethodSpec
from ._net import *  # noqa: F403
from ._net import __all__ as _net_all
from ._preview import *  # noqa: F403
from ._preview import __all__ as _preview_all
from ._process import *  # noqa: F403
from ._process import __all__ as _process_all
from ._schema import SCHEMA_FILENAME, build_schema, render_schema
from ._session import *  # noqa: F403
from ._session import __all__ as _session_all
from ._software import *  # noqa: F403
from ._software import __all__ as _software_all
from ._tools import *  # noqa: F403
from ._tools import __all__ as _tools_all
from ._version import DEFAULT_MAX_FRAME_BYTES, PROTOCOL_VERSION
from ._vm import *  # noqa: F403
from ._vm import __all__ as _vm_all

__all__ = [
    "BadFrame",
    "Base",
    "CANCEL_METHOD",
    "CLIENT_REQUESTS",
    "DEFAULT_MAX_FRAME_BYTES",
    "EOF",
    "ERROR_CODES",
    "EVENT_METHOD",
    "EVENT_TYPES",
    "Empty",
    "ErrorData",
    "ErrorKind",
    "ErrorObject",
    "Event",
    "HelloParams",
    "HelloResult",
    "MAX_NESTING_DEPTH",
    "METHODS",
    "NOTIFIABLE_METHODS",
    "MethodSpec",
    "NEED_DATA",
    "Notification",
    "PROTOCOL_VERSION",
    "Request",
    "RequestId",
    "Response",
    "RpcConnection",
    "SCHEMA_FILENAME",
    "build_schema",
    "encode_error",
    "encode_notification",
    "encode_request",
    "encode_result",
    "error_kind_for_errno",
    "make_error",
    "render_schema",
    *_fetch_all,
    *_fs_all,
    *_net_all,
    *_preview_all,
    *_process_all,
    *_tools_all,
    *_software_all,
    *_session_all,
    *_vm_all,
]
