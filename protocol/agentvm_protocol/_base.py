"""The one base class every wire Struct inherits from.

Every message on the wire is a msgspec Struct deriving from :class:`Base`, so the
encoding rules are decided once, here:

- ``rename="camel"``: Python fields are snake_case, the wire is camelCase, as JSON-RPC
  peers in TypeScript expect. Field names never need hand-written aliases.
- ``forbid_unknown_fields=True``: a misspelt parameter is an ``invalid_params`` error
  naming the field, not a silently ignored option.
- ``omit_defaults=True``: optional fields left at their default are not sent, which keeps
  frames small and lets both sides add optional fields without noise.
- ``kw_only=True``: constructors read like the wire (``FsReadFileParams(vm_id=..., path=...)``)
  and field order never becomes part of the API.
"""

from __future__ import annotations

import msgspec

__all__ = ["Base", "Empty"]


class Base(msgspec.Struct, rename="camel", forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    """Shared encoding options for every wire message."""


class Empty(Base):
    """A result or params object with no fields."""
