"""args/environ, clocks, random, sched_yield, proc_exit/proc_raise."""

from __future__ import annotations

import struct
import time

from agentvm_sidecar.kernel.process import ExitStatus

from .conftest import E, Guest


def _entries(g: Guest, sizes: str, get: str) -> list[bytes]:
    count_ptr, size_ptr = g.alloc(4), g.alloc(4)
    assert g.call(sizes, count_ptr, size_ptr) == 0
    count, size = g.u32(count_ptr), g.u32(size_ptr)
    array, buf = g.alloc(4 * count), g.alloc(size)
    assert g.call(get, array, buf) == 0
    blob = g.read(buf, size)
    pointers = struct.unpack(f"<{count}I", g.read(array, 4 * count))
    out = []
    for p in pointers:
        end = blob.index(b"\0", p - buf)
        out.append(blob[p - buf : end])
    assert sum(len(e) + 1 for e in out) == size
    return out


def test_args_keep_empty_and_non_ascii(kernel):
    g = Guest(kernel, argv=["/bin/ls", "", "héllo", "a b"])
    assert _entries(g, "args_sizes_get", "args_get") == [b"/bin/ls", b"", "héllo".encode(), b"a b"]


def test_environ_is_key_equals_value(kernel):
    g = Guest(kernel, env={"PATH": "/bin", "EMPTY": "", "X": "a=b"})
    assert _entries(g, "environ_sizes_get", "environ_get") == [b"PATH=/bin", b"EMPTY=", b"X=a=b"]


def test_empty_environment(kernel):
    g = Guest(kernel, env={})
    assert _entries(g, "environ_sizes_get", "environ_get") == []


def test_args_bad_pointer_is_efault(guest: Guest):
    assert guest.call("args_sizes_get", guest.mem_size - 2, 0) == E["EFAULT"]
    assert guest.call("args_get", 0xFFFFFFF0, 16) == E["EFAULT"]


def test_clocks(guest: Guest):
    ret = guest.alloc(8)
    assert guest.call("clock_time_get", 0, 1, ret) == 0
    assert abs(guest.u64(ret) - time.time_ns()) < 5_000_000_000
    assert guest.call("clock_time_get", 1, 1, ret) == 0
    a = guest.u64(ret)
    assert guest.call("clock_time_get", 1, 1, ret) == 0
    assert guest.u64(ret) >= a
    for clock in (2, 3):
        assert guest.call("clock_time_get", clock, 0, ret) == 0
    assert guest.call("clock_time_get", 4, 0, ret) == E["EINVAL"]
    assert guest.call("clock_res_get", 1, ret) == 0 and guest.u64(ret) >= 1
    assert guest.call("clock_res_get", 9, ret) == E["EINVAL"]
    assert guest.call("clock_time_get", 0, 0, guest.mem_size - 4) == E["EFAULT"]


def test_random_get(guest: Guest):
    buf = guest.alloc(64)
    assert guest.call("random_get", buf, 64) == 0
    first = guest.read(buf, 64)
    assert guest.call("random_get", buf, 64) == 0
    assert guest.read(buf, 64) != first
    assert guest.call("random_get", guest.mem_size - 8, 64) == E["EFAULT"]
    assert guest.call("random_get", buf, 0) == 0


def test_sched_yield(guest: Guest):
    assert guest.call("sched_yield") == 0


def test_proc_exit_masks_code(guest: Guest):
    assert guest.call_exit("proc_exit", 3) == ExitStatus(3)


def test_proc_exit_code_is_low_byte(guest: Guest):
    assert guest.call_exit("proc_exit", 0x1FF) == ExitStatus(0xFF)


def test_proc_exit_negative(guest: Guest):
    assert guest.call_exit("proc_exit", -1) == ExitStatus(255)


def test_proc_raise_is_enosys(guest: Guest):
    assert guest.call("proc_raise", 15) == E["ENOSYS"]


def test_sched_yield_ends_killed_process(guest: Guest):
    guest.proc.pending_kill = 9
    assert guest.call_exit("sched_yield") == ExitStatus(0, 9)
