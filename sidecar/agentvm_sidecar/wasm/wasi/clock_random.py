"""Clocks, randomness and sched_yield.

Clock ids: 0 realtime (wall clock), 1 monotonic, 2/3 process/thread CPU time; both
CPU clocks report the guest thread's CPU time (each process runs on its own thread,
and the host's process CPU time would count every guest of the sidecar).
"""

from __future__ import annotations

import os
import time

from ...kernel.errors import KernelError
from ..abi import host_function
from ..context import GuestContext
from .layouts import (
    CLOCK_MONOTONIC,
    CLOCK_PROCESS_CPUTIME_ID,
    CLOCK_REALTIME,
    CLOCK_THREAD_CPUTIME_ID,
)

MODULE = "wasi_snapshot_preview1"
_RANDOM_CHUNK = 1 << 20


def now_ns(clock_id: int) -> int:
    """Current value of a WASI clock in ns. Raises: EINVAL (unknown clock)."""
    if clock_id == CLOCK_REALTIME:
        return time.time_ns()
    if clock_id == CLOCK_MONOTONIC:
        return time.monotonic_ns()
    if clock_id in (CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID):
        return time.thread_time_ns()
    raise KernelError.einval(message=f"unknown clock {clock_id}")


def _resolution_ns(clock_id: int) -> int:
    name = {CLOCK_REALTIME: "time", CLOCK_MONOTONIC: "monotonic"}.get(clock_id, "thread_time")
    if clock_id not in (CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID):
        raise KernelError.einval(message=f"unknown clock {clock_id}")
    return max(1, round(time.get_clock_info(name).resolution * 1e9))


@host_function(MODULE, "clock_res_get", "ii")
def clock_res_get(ctx: GuestContext, clock_id: int, ret_ptr: int) -> None:
    ctx.check(ret_ptr, 8)
    ctx.set_u64(ret_ptr, _resolution_ns(clock_id & 0xFFFFFFFF))


@host_function(MODULE, "clock_time_get", "iIi")
def clock_time_get(ctx: GuestContext, clock_id: int, precision: int, ret_ptr: int) -> None:
    ctx.check(ret_ptr, 8)
    ctx.set_u64(ret_ptr, now_ns(clock_id & 0xFFFFFFFF))


@host_function(MODULE, "random_get", "ii")
def random_get(ctx: GuestContext, buf_ptr: int, length: int) -> None:
    buf_ptr &= 0xFFFFFFFF
    length &= 0xFFFFFFFF
    ctx.check(buf_ptr, length)
    for offset in range(0, length, _RANDOM_CHUNK):
        ctx.write(buf_ptr + offset, os.urandom(min(_RANDOM_CHUNK, length - offset)))


@host_function(MODULE, "sched_yield", "")
def sched_yield(ctx: GuestContext) -> None:
    ctx.seat.release()  # to the first guest waiting for a run slot; this one queues on return
    time.sleep(0)
    ctx.check_signals()
