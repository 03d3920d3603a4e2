"""poll_oneoff: wait for clocks and fd readiness.

Subscriptions (48 bytes each) are clock timeouts (relative or ABSTIME, on any WASI
clock) or fd_read / fd_write readiness on any open description. The call returns as
soon as at least one subscription is satisfied, with one 32-byte event per satisfied
subscription (errors such as a bad fd count as satisfied). fd readiness comes from
``Description.ready``; the wait is woken by the descriptions' ``watch`` callbacks
and otherwise re-checks every 50 ms, so a killed process never stays here.

What a guest can make this cost is bounded and charged to it: at most
``MAX_SUBSCRIPTIONS`` per call (EINVAL beyond, as poll(2) past RLIMIT_NOFILE), so
parsing and the event buffer stay small; subscriptions are grouped by (description,
direction) once, so a re-check costs one readiness test per distinct description,
not per subscription; and every re-check happens on the guest's thread, whose CPU
time is its budget, which the wait loop checks itself (the epoch callback that
enforces it elsewhere only runs inside wasm).
"""

from __future__ import annotations

import threading
import time

from ...kernel.blocking import before_blocking
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
# Subscriptions one call may pass: every fd of a process in both directions plus
# clocks fits many times over (the default fd limit is 256 per process).
MAX_SUBSCRIPTIONS = 4096


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


class _FdGroup:
    """The fd subscriptions on one description in one direction."""

    __slots__ = ("desc", "for_write", "tag", "userdata")

    def __init__(self, desc: Description | None, tag: int) -> None:
        self.desc = desc  # None: a tagged preopen directory, always ready
        self.tag = tag
        self.for_write = tag == L.EVENTTYPE_FD_WRITE
        self.userdata: list[int] = []

    def events(self) -> list[bytes]:
        """One event per subscription when the description is ready, else none."""
        ready = (0, 0) if self.desc is None else _readiness(self.desc, self.for_write)
        if ready is None:
            return []
        return [L.pack_event(u, 0, self.tag, ready[0], ready[1]) for u in self.userdata]


@host_function(MODULE, "poll_oneoff", "iiii")
def poll_oneoff(ctx: GuestContext, in_ptr: int, out_ptr: int, nsubscriptions: int, ret_nevents: int) -> None:
    n = nsubscriptions & U32
    if n == 0:
        raise KernelError.einval(message="no subscriptions")
    if n > MAX_SUBSCRIPTIONS:
        raise KernelError.einval(message=f"more than {MAX_SUBSCRIPTIONS} subscriptions")
    raw = ctx.read(in_ptr, L.SUBSCRIPTION_SIZE * n)
    ctx.check(out_ptr, L.EVENT_SIZE * n)
    ctx.check(ret_nevents, 4)

    immediate: list[bytes] = []
    clocks: list[tuple[int, int]] = []  # (userdata, monotonic deadline ns)
    groups: dict[tuple[int, int], _FdGroup] = {}  # (id(description), tag) -> group
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
                    desc = None
                else:
                    desc = description(ctx, fd)
            except KernelError as exc:
                immediate.append(L.pack_event(userdata, wasi_errno(exc), tag))
                continue
            group = groups.get((id(desc), tag))
            if group is None:
                group = groups[(id(desc), tag)] = _FdGroup(desc, tag)
            group.userdata.append(userdata)
        else:
            raise KernelError.einval(message=f"unknown subscription type {tag}")
    del raw
    first_deadline = min((d for _, d in clocks), default=None)

    wake = threading.Event()
    watched = {id(g.desc): g.desc for g in groups.values() if g.desc is not None}
    for desc in watched.values():
        desc.watch(wake.set)
    # Host sockets cannot call watch callbacks: they are polled in short slices.
    slice_s = HOST_POLL_SLICE if any(d.needs_polling for d in watched.values()) else WAIT_SLICE_S
    try:
        while True:
            wake.clear()
            events = list(immediate)
            for group in groups.values():
                events.extend(group.events())
            now = time.monotonic_ns()
            if first_deadline is not None and first_deadline <= now:
                events.extend(L.pack_event(u, 0, L.EVENTTYPE_CLOCK) for u, deadline in clocks if deadline <= now)
            if events:
                ctx.write(out_ptr, b"".join(events))
                ctx.set_u32(ret_nevents, len(events))
                return
            ctx.check_signals()
            ctx.check_cpu()
            wait = slice_s
            if first_deadline is not None:
                wait = min(wait, (first_deadline - now) / 1e9)
            before_blocking()
            wake.wait(max(wait, 0.0))
    finally:
        for desc in watched.values():
            desc.unwatch(wake.set)
