"""``host_tty``: terminal input and raw mode for interactive brush (host_abi.md §6).

XX: agentvm has no PTY layer yet. Every fd is "not a terminal" (``host_user.isatty``
answers 0), so brush stays non-interactive and never reaches these in practice:
``read`` reports 0 bytes (its "timeout/EOF" answer; it has no errno channel) and
``set_raw_mode`` answers Linux ENOTTY (25, what agentOS' runner returns here — not
the WASI number). With a PTY: read from the process's controlling terminal with
the given timeout (0xFFFFFFFF = block) and switch its line discipline.
"""

from __future__ import annotations

from ..abi import host_function
from ..context import GuestContext

__all__: list[str] = []

M = "host_tty"

LINUX_ENOTTY = 25


@host_function(M, "read", "iii", "i", returns_errno=False)
def read(ctx: GuestContext, buf_ptr: int, buf_len: int, timeout_ms: int) -> int:
    """Bytes of terminal input read into ``buf_ptr``; 0 = timeout/EOF/no terminal."""
    return 0


@host_function(M, "set_raw_mode", "i")
def set_raw_mode(ctx: GuestContext, enabled: int) -> int:
    return LINUX_ENOTTY
