"""poll_oneoff: wait for clocks and fd readiness.

Subscriptions (48 bytes each) are clock timeouts (relative or ABSTIME, on any WASI
clock) or fd_read / fd_write readiness on any open description. The call returns as
soon as at least one subscription is satisfied, with one 32-byte event per satisfied
subscription (errors such as a bad fd count as satisfied). fd readiness comes from
``Description.ready``; the wait is woken by the descriptions' ``watch`` callbacks
and otherwise re-checks every 50 ms, so a killed process never stays here.
"""

from __future__ import annotations

import threading
import time

from ...kernel.descriptions import Description, FileDescription
from ...kernel.errors import KernelError
from ...kernel.fstypes import FileKind
from ...net.outbound import HOST_POLL_SLICE
from ..abi import host_function, wasi_errno
from ..context import GuestContext
from . import layouts as L
from .clock_random import now_ns
from .common import U32, description, is_tagged, preopen_or_ebadf

MODULE = "wasi_snapshot_preview1"
WAIT_SLICE_S = 0.05
_EINVAL = 28


def _deadline(clock_id: int, timeout: int, flags: int) -> int:
    """The subscription's deadline on the monotonic clock (ns). Raises: EINVAL."""
    now_clock = now_ns(clock_id)  # validates the clock id
    now_mono = time.monotonic_ns()
    if flags & L.SUBCLOCKFLAGS_ABSTIME:
        return now_mono + max(0, timeout - now_clock)
    return now_mono + timeout


def _pipe_state(desc: Description) -> tuple[int, bool] | None:
    """(buffered bytes, other end closed) for a pipe end, None for anything else."""
    pipe = getattr(desc, "pipe", None)
    if pipe is None:
        return None
    hangup = pipe.hung_up(for_write=desc.writable)
    return pipe.buffered(), hangup


def _readiness(desc: Description, for_write: bool) -> tuple[int, int] | None:
    """(nbytes, eventrwflags) when ready, else None."""
    if not desc.ready(for_write):
        return None
    state = _pipe_state(desc)
    if state is not None:
        buffered, hangup = state
        flags = L.EVENTRWFLAGS_FD_READWRITE_HANGUP if hangup else 0
        if for_write:
            capacity = getattr(getattr(desc, "pipe", None), "capacity", 0)
            return (0 if hangup else max(capacity - buffered, 1)), flags
        return buffered, flags
    if not for_write and isinstance(desc, FileDescription) and desc.kind is FileKind.REGULAR:
        try:
            return max(desc.stat().size - desc.tell(), 0), 0
        except KernelError:
            return 0, 0
    return 1, 0


@host_function(MODULE, "poll_oneoff", "iiii")
def poll_oneoff(ctx: GuestContext, in_ptr: int, out_ptr: int, nsubscriptions: int, ret_nevents: int) -> None:
    n = nsubscriptions & U32
    if n == 0:
        raise KernelError.einval(message="no subscriptions")
    raw = ctx.read(in_ptr, L.SUBSCRIPTION_SIZE * n)
    ctx.check(out_ptr, L.EVENT_SIZE * n)
    ctx.check(ret_nevents, 4)

    immediate: list[bytes] = []
    clocks: list[tuple[int, int]] = []  # (userdata, monotonic deadline ns)
    fds: list[tuple[int, int, Description | None]] = []  # (userdata, type, description)
    for i in range(n):
        userdata, tag, fields = L.unpack_subscription(raw, i * L.SUBSCRIPTION_SIZE)
        if tag == L.EVENTTYPE_CLOCK:
            clock_id, timeout, _precision, flags = fields
            try:
                clocks.append((userdata, _deadline(clock_id, timeout, flags)))
            except KernelError as exc:
                immediate.append(L.pack_event(userdata, wasi_errno(exc), tag))
        elif tag in (L.EVENTTYPE_FD_READ, L.EVENTTYPE_FD_WRITE):
            fd = fields[0]
            try:
                if is_tagged(fd):
                    preopen_or_ebadf(ctx, fd)
                    fds.append((userdata, tag, None))  # a directory: always "ready"
                else:
                    fds.append((userdata, tag, description(ctx, fd)))
            except KernelError as exc:
                immediate.append(L.pack_event(userdata, wasi_errno(exc), tag))
        else:
            raise KernelError.einval(message=f"unknown subscription type {tag}")

    wake = threading.Event()
    watched = {id(d): d for _, _, d in fds if d is not None}
    for desc in watched.values():
        desc.watch(wake.set)
    try:
        while True:
            wake.clear()
            events = list(immediate)
            for userdata, tag, desc in fds:
                ready = (0, 0) if desc is None else _readiness(desc, tag == L.EVENTTYPE_FD_WRITE)
                if ready is not None:
                    events.append(L.pack_event(userdata, 0, tag, ready[0], ready[1]))
            now = time.monotonic_ns()
            events.extend(L.pack_event(u, 0, L.EVENTTYPE_CLOCK) for u, deadline in clocks if deadline <= now)
            if events:
                ctx.write(out_ptr, b"".join(events))
                ctx.set_u32(ret_nevents, len(events))
                return
            ctx.check_signals()
            wait = HOST_POLL_SLICE if any(d.needs_polling for d in watched.values()) else WAIT_SLICE_S
            if clocks:
                wait = min(wait, (min(d for _, d in clocks) - now) / 1e9)
            wake.wait(max(wait, 0.0))
    finally:
        for desc in watched.values():
            desc.unwatch(wake.set)
