"""proc_exit and proc_raise."""

from __future__ import annotations

from ...kernel.process import ExitStatus
from ..abi import host_function
from ..context import GuestContext

MODULE = "wasi_snapshot_preview1"
_ENOSYS = 52


@host_function(MODULE, "proc_exit", "i", "")
def proc_exit(ctx: GuestContext, code: int) -> None:
    """Ends the program: the exit code is ``code & 0xff``, as POSIX wait reports it."""
    raise ctx.exit(ExitStatus(code & 0xFF))


@host_function(MODULE, "proc_raise", "i")
def proc_raise(ctx: GuestContext, sig: int) -> int:
    """Not supported (removed from later WASI; the agentOS guests use host_process.proc_kill)."""
    return _ENOSYS
