"""poll_oneoff: clocks (relative, absolute), pipe readiness, hangup, kill."""

from __future__ import annotations

import struct
import threading
import time

from agentvm_sidecar.kernel.process import ExitStatus

from .conftest import PRE0, E, Guest

CLOCK, FD_READ, FD_WRITE = 0, 1, 2
HANGUP = 1


def clock_sub(userdata: int, timeout_ns: int, clock_id: int = 1, flags: int = 0) -> bytes:
    return struct.pack("<QB7xI4xQQH6x", userdata, CLOCK, clock_id, timeout_ns, 0, flags)


def fd_sub(userdata: int, tag: int, fd: int) -> bytes:
    return struct.pack("<QB7xI28x", userdata, tag, fd)


def poll(g: Guest, *subs: bytes) -> tuple[int, list[tuple[int, int, int, int, int]]]:
    raw = b"".join(subs)
    assert all(len(s) == 48 for s in subs)
    inp = g.alloc(len(raw), raw)
    out = g.alloc(32 * len(subs))
    ret = g.alloc(4)
    err = g.call("poll_oneoff", inp, out, len(subs), ret)
    if err:
        return err, []
    events = [struct.unpack_from("<QHB5xQH", g.read(out + 32 * i, 32)) for i in range(g.u32(ret))]
    return 0, events


def _pipe(g: Guest) -> tuple[int, int]:
    r, w = g.kernel.make_pipe()
    return g.proc.fds.install(r), g.proc.fds.install(w)


def test_zero_subscriptions_is_einval(guest: Guest):
    assert guest.call("poll_oneoff", guest.alloc(48), guest.alloc(32), 0, guest.alloc(4)) == E["EINVAL"]


def test_relative_clock_sleeps(guest: Guest):
    t0 = time.monotonic()
    err, events = poll(guest, clock_sub(42, 30_000_000))
    assert err == 0 and events == [(42, 0, CLOCK, 0, 0)]
    assert 0.025 <= time.monotonic() - t0 < 1.0


def test_absolute_clocks(guest: Guest):
    t0 = time.monotonic()
    err, events = poll(guest, clock_sub(1, time.time_ns() + 30_000_000, clock_id=0, flags=1))
    assert err == 0 and events == [(1, 0, CLOCK, 0, 0)]
    assert time.monotonic() - t0 >= 0.02
    err, events = poll(guest, clock_sub(2, time.monotonic_ns() - 1, flags=1))  # already past
    assert events == [(2, 0, CLOCK, 0, 0)]


def test_bad_clock_and_bad_fd_are_events(guest: Guest):
    err, events = poll(guest, clock_sub(5, 0, clock_id=99), fd_sub(6, FD_READ, 55), clock_sub(7, 10**12))
    assert err == 0
    assert sorted(events) == [(5, E["EINVAL"], CLOCK, 0, 0), (6, E["EBADF"], FD_READ, 0, 0)]


def test_unknown_tag_is_einval(guest: Guest):
    raw = struct.pack("<QB39x", 1, 9)
    assert poll(guest, raw)[0] == E["EINVAL"]


def test_pipe_read_readiness_data_and_hangup(guest: Guest):
    r, w = _pipe(guest)
    assert poll(guest, fd_sub(1, FD_READ, r), clock_sub(2, 10_000_000)) == (0, [(2, 0, CLOCK, 0, 0)])
    guest.write(w, b"abc")
    assert poll(guest, fd_sub(1, FD_READ, r), clock_sub(2, 10**12)) == (0, [(1, 0, FD_READ, 3, 0)])
    guest.read_fd(r, 10)
    guest.call("fd_close", w)
    _err, events = poll(guest, fd_sub(1, FD_READ, r))
    assert events == [(1, 0, FD_READ, 0, HANGUP)]


def test_pipe_write_readiness(guest: Guest):
    r, w = _pipe(guest)
    err, events = poll(guest, fd_sub(3, FD_WRITE, w))
    assert err == 0 and events[0][:3] == (3, 0, FD_WRITE) and events[0][3] > 0
    guest.call("fd_close", r)
    err, events = poll(guest, fd_sub(3, FD_WRITE, w))
    assert events == [(3, 0, FD_WRITE, 0, HANGUP)]


def test_wakes_when_another_thread_writes(guest: Guest):
    r, w = _pipe(guest)
    writer = guest.proc.fds.get(w)
    threading.Timer(0.1, lambda: writer.write(b"late")).start()
    t0 = time.monotonic()
    _err, events = poll(guest, fd_sub(9, FD_READ, r), clock_sub(2, 5_000_000_000))
    assert events == [(9, 0, FD_READ, 4, 0)]
    assert time.monotonic() - t0 < 2.0


def test_regular_files_and_preopens_are_always_ready(guest: Guest):
    fd = guest.open("f", oflags=1, rights=0x3FFFFFFF)
    guest.write(fd, b"12345")
    guest.call("fd_seek", fd, 1, 0, guest.alloc(8))
    _err, events = poll(guest, fd_sub(1, FD_READ, fd), fd_sub(2, FD_WRITE, fd), fd_sub(3, FD_READ, PRE0))
    assert sorted(events) == [(1, 0, FD_READ, 4, 0), (2, 0, FD_WRITE, 1, 0), (3, 0, FD_READ, 0, 0)]


def test_kill_ends_a_long_poll_promptly(guest: Guest):
    r, _w = _pipe(guest)
    threading.Timer(0.1, lambda: guest.kernel.processes.kill(0, guest.proc.pid, 9)).start()
    t0 = time.monotonic()
    raw = fd_sub(1, FD_READ, r) + clock_sub(2, 60_000_000_000)
    inp = guest.alloc(len(raw), raw)
    assert guest.call_exit("poll_oneoff", inp, guest.alloc(64), 2, guest.alloc(4)) == ExitStatus(0, 9)
    assert time.monotonic() - t0 < 1.0
    assert not guest.proc.fds.get(r).pipe._watchers  # unwatched on the way out


def test_bad_output_pointer(guest: Guest):
    inp = guest.alloc(48, clock_sub(1, 0))
    assert guest.call("poll_oneoff", inp, guest.mem_size - 16, 1, guest.alloc(4)) == E["EFAULT"]
    assert guest.call("poll_oneoff", guest.mem_size - 16, guest.alloc(32), 1, guest.alloc(4)) == E["EFAULT"]


def test_more_subscriptions_than_the_limit_is_einval(guest: Guest):
    from agentvm_sidecar.wasm.wasi.poll import MAX_SUBSCRIPTIONS

    # Checked before the subscriptions are read: a million of them would be 48 MB.
    assert guest.call("poll_oneoff", 0, 0, MAX_SUBSCRIPTIONS + 1, guest.alloc(4)) == E["EINVAL"]
    assert guest.call("poll_oneoff", 0, 0, 1 << 20, guest.alloc(4)) == E["EINVAL"]


def test_many_subscriptions_on_one_pipe_all_fire_together(guest: Guest):
    n = 2048  # as many as the test memory (256 KiB) holds with their events
    r, w = _pipe(guest)
    guest.write(w, b"x")
    raw = b"".join(fd_sub(i, FD_READ, r) for i in range(n))
    inp = guest.alloc(len(raw), raw)
    out = guest.alloc(32 * n)
    ret = guest.alloc(4)
    assert guest.call("poll_oneoff", inp, out, n, ret) == 0 and guest.u32(ret) == n
    events = [struct.unpack_from("<QHB5xQH", guest.read(out + 32 * i, 32)) for i in (0, n - 1)]
    assert events == [(0, 0, FD_READ, 1, 0), (n - 1, 0, FD_READ, 1, 0)]


def test_a_poll_stops_when_the_cpu_budget_is_spent(guest: Guest):
    r, _w = _pipe(guest)
    guest.ctx.cpu_deadline = time.thread_time()  # nothing left
    raw = fd_sub(1, FD_READ, r) + clock_sub(2, 60_000_000_000)
    inp = guest.alloc(len(raw), raw)
    guest.call_exit("poll_oneoff", inp, guest.alloc(64), 2, guest.alloc(4))
    assert guest.ctx.cpu_exceeded  # the runtime turns this into exit code 124
    assert not guest.proc.fds.get(r).pipe._watchers
