"""Kernel strings as the wire carries them.

The kernel keeps names, paths, argv and environment as ``str`` holding undecodable
bytes as surrogate escapes (PEP 383), so a guest's bytes survive exactly. JSON cannot
carry those escapes: the wire shows each undecodable byte as U+FFFD and, only then,
adds the exact bytes in a companion ``...Bytes`` field (protocol/_fs.py, ProcessInfo).
"""

from __future__ import annotations

__all__ = ["wire_text", "wire_texts"]


def wire_text(text: str) -> tuple[str, bytes | None]:
    """The string for the wire, plus its exact bytes when it is not valid UTF-8."""
    try:
        text.encode("utf-8")
        return text, None
    except UnicodeEncodeError:
        raw = text.encode("utf-8", "surrogateescape")  # kernel strings hold only escaped bytes
        return raw.decode("utf-8", "replace"), raw


def wire_texts(texts: list[str]) -> tuple[list[str], list[bytes] | None]:
    """A list for the wire, plus every element's exact bytes when any is not UTF-8."""
    shown = [wire_text(t) for t in texts]
    if all(raw is None for _, raw in shown):
        return texts, None
    return [s for s, _ in shown], [t.encode("utf-8", "surrogateescape") for t in texts]
