"""The native host functions (native/agentvm_native.c): fd_write, fd_read, fd_fdstat_get,
args_*, environ_*, a plain program's fd_prestat_* and an exec's output.

They are called here exactly as wasmtime calls them: raw argument slots, and as
env the Python callback the linker gives them for everything they do not serve.
The guest's memory is a real wasm memory (inaccessible beyond its length, so a
copy outside it would crash the test process), and the answers are compared with
what the Python functions alone answer for the same arguments.
"""

from __future__ import annotations

import ctypes
import gc
import struct

import wasmtime
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wasmtime import _bindings as ffi

import agentvm_sidecar.wasm.host  # noqa: F401 -- registers host_net
from agentvm_sidecar import native
from agentvm_sidecar.kernel.descriptions import pipe_pair
from agentvm_sidecar.kernel.exec_stdio import OutputCapture
from agentvm_sidecar.kernel.fstypes import USER
from agentvm_sidecar.wasm.abi import HOST_FUNCTIONS, SIGNATURES, _raw_callback
from agentvm_sidecar.wasm.context import GuestContext, set_current_context
from agentvm_sidecar.wasm.engine import shared_engine
from agentvm_sidecar.wasm.plain_preopens import install_plain_preopens
from agentvm_sidecar.wasm.wasi import layouts as L

from .conftest import PRE0, PRE1, E, Guest

MODULE = "wasi_snapshot_preview1"
_Slots = ctypes.c_byte * 16
_fallbacks: dict[str, object] = {}


class Trapped(Exception):
    """The host function trapped (the guest is exiting; the reason is on its context)."""


def native_call(
    guest: Guest | GuestContext, name: str, *args: int, module: str = MODULE, params: str | None = None,
    publish: bool = True,
) -> int:
    """Call the C function of ``module.name`` (the signature with ``params``, by
    default the first registered) as the linker installs it; returns its result
    slot (errno, or an i32/i64 value). ``publish``: make the guest's context
    current for the call (else the caller has, and the call leaves it)."""
    hf = HOST_FUNCTIONS[(module, name)]
    if params is not None:
        hf = next(f for (m, n, p, _), f in SIGNATURES.items() if (m, n, p) == (module, name, params))
    key = f"{module}.{name}({hf.params})"
    fallback = _fallbacks.get(key)
    if fallback is None:
        fallback = _fallbacks[key] = _raw_callback(hf)
    fn = native.library().function_pointer(native.NATIVE_HOST_FUNCTIONS[(module, name, hf.params, hf.results)])
    slots = (_Slots * max(len(args), 1))()
    for i, arg in enumerate(args):
        struct.pack_into("<I", slots[i], 0, arg & 0xFFFFFFFF)
    call = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)(fn)
    if publish:
        set_current_context(guest.ctx if isinstance(guest, Guest) else guest)
    try:
        trap = call(ctypes.cast(fallback, ctypes.c_void_p), None, slots, len(args))
    finally:
        if publish:
            set_current_context(None)
    if trap:
        ffi.wasm_trap_delete(ctypes.cast(trap, ctypes.POINTER(ffi.wasm_trap_t)))
        raise Trapped
    return struct.unpack_from("<q" if hf.results == "I" else "<i", slots[0])[0]


def counts(name: str) -> tuple[int, int]:
    return native.call_counts()[name]


def pipe_fds(guest: Guest) -> tuple[int, int]:
    reader, writer = guest.kernel.make_pipe()
    return guest.proc.fds.install(reader), guest.proc.fds.install(writer)


def test_a_write_and_a_read_through_a_pipe_are_served_natively(guest: Guest) -> None:
    r, w = pipe_fds(guest)
    data = guest.put(b"hello, pipe")
    iovs, count = guest.iovecs(data, guest.put(b"!"))
    ret = guest.alloc(4)
    before = counts("fd_write")
    assert native_call(guest, "fd_write", w, iovs, count, ret) == 0
    assert guest.u32(ret) == 12
    assert counts("fd_write")[0] == before[0] + 1  # served by C, no fallback
    buf = guest.alloc(64)
    iovs, count = guest.iovecs((buf, 5), (buf + 5, 59))
    before = counts("fd_read")
    assert native_call(guest, "fd_read", r, iovs, count, ret) == 0
    assert guest.u32(ret) == 12 and guest.read(buf, 12) == b"hello, pipe!"
    assert counts("fd_read")[0] == before[0] + 1


def test_a_watched_pipe_takes_writes_through_python_so_its_watchers_hear(guest: Guest) -> None:
    # While a pipe has watchers (a trio reader, poll_oneoff) every write goes
    # through Python, which calls them; unwatched, writes stay in C and wake nobody;
    # a close always calls them.
    reader, writer = pipe_pair(1024, 4096)
    w = guest.proc.fds.install(writer)
    calls: list[str] = []
    watcher = lambda: calls.append("watcher")  # noqa: E731
    ret = guest.alloc(4)

    def native(n: int) -> bool:
        """Write n bytes; whether C served it (this process's count: other tests'
        leftover threads move the sidecar-wide counters)."""
        before = guest.proc.fds.native.served("fd_write")
        assert native_call(guest, "fd_write", w, *guest.iovecs(guest.put(b"x" * n)), ret) == 0
        assert guest.u32(ret) == n
        return guest.proc.fds.native.served("fd_write") == before + 1

    assert native(100) and calls == []
    reader.watch(watcher)
    assert not native(10) and calls == ["watcher"]
    reader.unwatch(watcher)
    calls.clear()
    assert native(10) and calls == []
    assert reader.read(4096) == b"x" * 120
    reader.watch(watcher)
    guest.proc.fds.close(w)
    assert calls == ["watcher"] and reader.ready(False)  # end of file
    reader.unwatch(watcher)


def test_memory_grown_on_the_guest_thread_is_native_at_once(kernel) -> None:  # type: ignore[no-untyped-def]
    # memory.grow runs on the guest's own thread: the memory creator tells C the
    # new length there (avm_thread_grown), so the first write from a buffer in
    # the new pages is native too, not a fallback that re-reads the length.
    store = wasmtime.Store(shared_engine())
    module = wasmtime.Module(shared_engine(), wasmtime.wat2wasm('(module (memory (export "memory") 1))'))
    memory = wasmtime.Instance(store, module, []).exports(store)["memory"]
    assert isinstance(memory, wasmtime.Memory)
    proc = kernel.processes.create(ppid=0, argv=["prog"], env={}, cwd="/", fds=kernel.new_fd_table(), cred=USER)
    ctx = GuestContext(kernel, proc, store)
    ctx.memory = memory
    reader, writer = kernel.make_pipe()
    w = proc.fds.install(writer)
    set_current_context(ctx)
    try:
        memory.grow(store, 1)
        base = ctypes.cast(memory.data_ptr(store), ctypes.c_void_p).value or 0
        ctypes.memmove(base + 65536, b"grown", 5)  # not through ctx: Python keeps the old length
        ctypes.memmove(base + 16, struct.pack("<II", 65536, 5), 8)
        before = proc.fds.native.served("fd_write")
        assert native_call(ctx, "fd_write", w, 16, 1, 32, publish=False) == 0
        assert proc.fds.native.served("fd_write") == before + 1
    finally:
        set_current_context(None)
    assert reader.read(64) == b"grown"


def test_an_empty_pipe_falls_back_to_python(guest: Guest) -> None:
    r, _w = pipe_fds(guest)
    assert guest.call("fd_fdstat_set_flags", r, L.FDFLAGS_NONBLOCK) == 0
    buf = guest.alloc(8)
    iovs, count = guest.iovecs((buf, 8))
    ret = guest.alloc(4)
    before = counts("fd_read")
    assert native_call(guest, "fd_read", r, iovs, count, ret) == E["EAGAIN"]
    assert counts("fd_read")[1] == before[1] + 1


def test_a_pipe_without_reader_still_raises_sigpipe(guest: Guest) -> None:
    r, w = pipe_fds(guest)
    guest.proc.fds.close(r)
    iovs, count = guest.iovecs(guest.put(b"x"))
    try:
        native_call(guest, "fd_write", w, iovs, count, guest.alloc(4))
    except Trapped:
        pass
    assert guest.ctx.exit_status is not None and guest.ctx.exit_status.signal == 13


def test_fdstat_follows_set_flags_and_a_dropped_right_stops_native_writes(guest: Guest) -> None:
    _r, w = pipe_fds(guest)
    ret = guest.alloc(24)
    assert native_call(guest, "fd_fdstat_get", w, ret) == 0  # Python answers and publishes
    before = counts("fd_fdstat_get")
    assert guest.call("fd_fdstat_set_flags", w, L.FDFLAGS_NONBLOCK) == 0
    assert native_call(guest, "fd_fdstat_get", w, ret) == 0
    assert counts("fd_fdstat_get")[0] == before[0] + 1
    assert struct.unpack_from("<H", guest.read(ret + 2, 2))[0] & L.FDFLAGS_NONBLOCK
    assert guest.call("fd_fdstat_set_rights", w, 0, 0) == 0  # drop fd_write
    iovs, count = guest.iovecs(guest.put(b"x"))
    assert native_call(guest, "fd_write", w, iovs, count, guest.alloc(4)) == E["ENOTCAPABLE"]


def test_a_file_fdstat_is_served_natively_once_published_and_follows_set_flags(guest: Guest) -> None:
    fd = guest.open("f", oflags=L.OFLAGS_CREAT, rights=L.RIGHT_FD_READ | L.RIGHT_FD_WRITE)
    ret = guest.alloc(24)
    assert native_call(guest, "fd_fdstat_get", fd, ret) == 0
    python_answer = guest.read(ret, 24)
    before = counts("fd_fdstat_get")
    assert native_call(guest, "fd_fdstat_get", fd, ret) == 0
    assert guest.read(ret, 24) == python_answer and counts("fd_fdstat_get")[0] == before[0] + 1
    assert guest.call("fd_fdstat_set_flags", fd, L.FDFLAGS_APPEND) == 0
    assert native_call(guest, "fd_fdstat_get", fd, ret) == 0
    assert struct.unpack_from("<H", guest.read(ret + 2, 2))[0] & L.FDFLAGS_APPEND
    iovs, count = guest.iovecs(guest.put(b"x"))
    before = counts("fd_write")
    assert native_call(guest, "fd_write", fd, iovs, count, guest.alloc(4)) == 0  # a file: Python writes it
    assert counts("fd_write")[1] == before[1] + 1


def test_once_a_program_asked_a_file_s_fdstat_every_open_publishes_it(guest: Guest) -> None:
    # The agentOS libc asks fd_fdstat_get after each open: after the first, C answers.
    ret = guest.alloc(24)
    first = guest.open("f", oflags=L.OFLAGS_CREAT, rights=L.RIGHT_FD_READ | L.RIGHT_FD_WRITE, fdflags=L.FDFLAGS_APPEND)
    second = guest.open("f", rights=L.RIGHT_FD_READ)
    assert native_call(guest, "fd_fdstat_get", first, ret) == 0  # not the fd just opened: no sign
    assert not guest.ctx.fdstat_after_open
    first = guest.open("f", rights=L.RIGHT_FD_READ | L.RIGHT_FD_WRITE, fdflags=L.FDFLAGS_APPEND)
    guest.call("fd_close", second)
    before = counts("fd_fdstat_get")
    assert native_call(guest, "fd_fdstat_get", first, ret) == 0
    assert counts("fd_fdstat_get")[1] == before[1] + 1  # not published yet: Python
    for fdflags in (0, L.FDFLAGS_APPEND):
        fd = guest.open("f", rights=L.RIGHT_FD_READ, fdflags=fdflags)
        before = counts("fd_fdstat_get")
        assert native_call(guest, "fd_fdstat_get", fd, ret) == 0
        assert counts("fd_fdstat_get")[0] == before[0] + 1  # published by the open
        native_answer = guest.read(ret, 24)
        assert guest.call("fd_fdstat_get", fd, ret) == 0
        assert guest.read(ret, 24) == native_answer


def test_tagged_preopens_get_python_s_fdstat_natively_and_no_fd_beyond_them(guest: Guest) -> None:
    ret = guest.alloc(24)
    assert guest.call("fd_fdstat_get", PRE0, ret) == 0  # Python answers (and publishes it)
    python_answer = guest.read(ret, 24)
    for fd in (PRE0, PRE1):  # the guest's two preopens: its cwd and /
        guest.ctx.write(ret, bytes(24))
        before = counts("fd_fdstat_get")
        assert native_call(guest, "fd_fdstat_get", fd, ret) == 0
        assert guest.read(ret, 24) == python_answer and counts("fd_fdstat_get")[0] == before[0] + 1
    for fd in (PRE1 + 1, PRE0 - 1, PRE0 & ~0x40000000):  # past the last, before the first, untagged
        before = counts("fd_fdstat_get")
        assert native_call(guest, "fd_fdstat_get", fd, ret) == E["EBADF"]
        assert counts("fd_fdstat_get")[1] == before[1] + 1  # Python decided


def test_the_libc_socket_probe_is_answered_natively_for_a_mirrored_fd_only(guest: Guest) -> None:
    _r, w = pipe_fds(guest)
    buf = guest.alloc(8)
    ret = guest.alloc(4)
    before = counts("net_send")
    assert native_call(guest, "net_send", w, buf, 8, 0, ret, module="host_net") == E["EBADF"]
    assert counts("net_send")[0] == before[0] + 1
    before = counts("net_recv")
    assert native_call(guest, "net_recv", 77, buf, 8, 0, ret, module="host_net") == E["EBADF"]  # no such fd
    assert counts("net_recv")[1] == before[1] + 1  # Python decided


def test_a_closed_fd_is_no_longer_served(guest: Guest) -> None:
    _r, w = pipe_fds(guest)
    guest.proc.fds.close(w)
    iovs, count = guest.iovecs(guest.put(b"x"))
    assert native_call(guest, "fd_write", w, iovs, count, guest.alloc(4)) == E["EBADF"]


# -- hostile arguments ----------------------------------------------------------------
def _pointer() -> st.SearchStrategy[int]:
    size = 4 * 65536  # conftest.PAGES pages
    return st.one_of(
        st.integers(0, size),
        st.sampled_from([size - 8, size - 4, size - 1, size, size + 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFFFFF8]),
        st.integers(0, 0xFFFFFFFF),
    )


def _length() -> st.SearchStrategy[int]:
    return st.one_of(st.integers(0, 64), st.sampled_from([0xFFFFFFFF, 0x80000000, 0x7FFFFFFF, 4 * 65536]),
                     st.integers(0, 0xFFFFFFFF))


_iovecs = st.lists(st.tuples(_pointer(), _length()), max_size=12)
_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _in_memory(guest: Guest, ptr: int, size: int) -> bool:
    return ptr + size <= guest.mem_size


def _place_iovecs(guest: Guest, iovecs: list[tuple[int, int]], where: int | None) -> tuple[int, int]:
    raw = b"".join(struct.pack("<II", p, n) for p, n in iovecs)
    if where is None or not _in_memory(guest, where, len(raw)):
        return (guest.alloc(len(raw), raw) if where is None else where), len(iovecs)
    guest.ctx.write(where, raw)
    return where, len(iovecs)


@_SETTINGS
@given(iovecs=_iovecs, iovs_at=st.one_of(st.none(), _pointer()), ret=_pointer(),
       count_extra=st.sampled_from([0, 0, 1, 2000, 1 << 20, 0x1FFFFFFF, 0xFFFFFFFF]))
def test_hostile_iovecs_for_fd_write_get_efault_or_the_python_answer(
    guest: Guest, iovecs: list[tuple[int, int]], iovs_at: int | None, ret: int, count_extra: int
) -> None:
    r, w = pipe_fds(guest)
    guest.proc.fds.get(w).nonblocking = True  # a huge valid write fills the pipe, never blocks
    mark = guest._next
    try:
        iovs, count = _place_iovecs(guest, iovecs, iovs_at)
        count = (count + count_extra) & 0xFFFFFFFF
        entries = []
        valid = _in_memory(guest, ret, 4) and _in_memory(guest, iovs, 8 * count)
        if valid:
            entries = [struct.unpack("<II", guest.read(iovs + 8 * i, 8)) for i in range(count)]
            # as wasi/fd_ops.py's gather: an empty buffer is never looked at
            valid = all(not n or _in_memory(guest, p, n) for p, n in entries)
        expected = b"".join(guest.read(p, n) for p, n in entries if n) if valid else b""
        errno = native_call(guest, "fd_write", w, iovs, count, ret)
        if not valid:
            assert errno == E["EFAULT"]
            assert guest.proc.fds.get(r).pipe.buffered() == 0
            return
        capacity = guest.kernel.limits.pipe_buffer_bytes
        if not expected:
            assert errno == 0 and guest.u32(ret) == 0
            return
        assert errno == 0
        assert guest.u32(ret) == min(len(expected), capacity)
        assert guest.proc.fds.get(r).read(len(expected)) == expected[:capacity]
    finally:
        guest.proc.fds.close(r)
        guest.proc.fds.close(w)
        guest._next = mark


@_SETTINGS
@given(iovecs=_iovecs, ret=_pointer(), buffered=st.integers(0, 300))
def test_hostile_iovecs_for_fd_read_get_efault_or_the_python_answer(
    guest: Guest, iovecs: list[tuple[int, int]], ret: int, buffered: int
) -> None:
    r, w = pipe_fds(guest)
    mark = guest._next
    try:
        data = bytes(range(256)) * 2
        guest.proc.fds.get(w).write(data[:buffered])
        guest.proc.fds.close(w)  # an empty pipe reads as end of file, never blocks
        iovs, count = _place_iovecs(guest, iovecs, None)
        memory = bytearray(guest.read(0, guest.mem_size))
        errno = native_call(guest, "fd_read", r, iovs, count, ret)
        valid = _in_memory(guest, ret, 4) and all(_in_memory(guest, p, n) for p, n in iovecs)
        if not valid:
            assert errno == E["EFAULT"]
            assert guest.proc.fds.get(r).pipe.buffered() == buffered  # nothing consumed
            return
        assert errno == 0
        n = min(buffered, sum(length for _, length in iovecs))
        done = 0
        for p, length in iovecs:  # what the guest's memory must look like: scatter, then *nread
            take = min(length, n - done)
            memory[p : p + take] = data[done : done + take]
            done += take
        memory[ret : ret + 4] = struct.pack("<I", n)
        assert guest.read(0, guest.mem_size) == bytes(memory)
    finally:
        guest.proc.fds.close(r)
        guest._next = mark


@_SETTINGS
@given(ret=_pointer())
def test_hostile_fdstat_pointers_get_efault(guest: Guest, ret: int) -> None:
    r, w = pipe_fds(guest)
    try:
        native_call(guest, "fd_fdstat_get", w, guest.alloc(24))  # publish
        errno = native_call(guest, "fd_fdstat_get", w, ret)
        assert errno == (0 if _in_memory(guest, ret, 24) else E["EFAULT"])
    finally:
        guest.proc.fds.close(r)
        guest.proc.fds.close(w)


# -- lifetimes -------------------------------------------------------------------------
def test_pipes_are_freed_in_c_once_every_holder_is_gone(guest: Guest) -> None:
    lib = native.library()
    gc.collect()
    live = lib.avm_live_pipes()
    fds = guest.proc.fds
    for _ in range(200):
        r, w = pipe_fds(guest)
        dup = fds.dup(w)
        child = fds.copy()
        fds.dup2(r, 40)  # a mirrored fd number
        fds.dup2(w, 100)  # beyond the mirror: Python only
        fds.dup2(w, 41)
        fds.renumber(40, 41)  # 41 was the writer, now the reader; 40 closed
        for fd in (r, w, dup, 41, 100):
            fds.close(fd)
        child.close_all()
    del child
    gc.collect()
    assert lib.avm_live_pipes() == live


def test_a_mirror_keeps_its_pipe_alive_until_the_fd_table_goes(kernel) -> None:  # type: ignore[no-untyped-def]
    lib = native.library()
    gc.collect()
    live = lib.avm_live_pipes()
    table = kernel.new_fd_table()
    reader, writer = kernel.make_pipe()
    table.install(reader)
    table.install(writer)
    del reader, writer
    gc.collect()
    assert lib.avm_live_pipes() == live + 1
    table.close_all()
    del table
    gc.collect()
    assert lib.avm_live_pipes() == live


def test_every_native_function_has_a_registered_python_twin_of_its_signature() -> None:
    for key in native.NATIVE_HOST_FUNCTIONS:
        assert key in SIGNATURES


def _strings_via(guest: Guest, sizes: str, get: str, call) -> tuple[int, list[bytes]]:  # type: ignore[no-untyped-def]
    """(count, entries) a program reads through ``sizes`` then ``get``, each made with ``call``."""
    count_ptr, size_ptr = guest.alloc(4), guest.alloc(4)
    assert call(guest, sizes, count_ptr, size_ptr) == 0
    count, size = guest.u32(count_ptr), guest.u32(size_ptr)
    array, buf = guest.alloc(4 * count), guest.alloc(size)
    assert call(guest, get, array, buf) == 0
    entries = []
    for i in range(count):
        start = guest.u32(array + 4 * i)
        end = guest.read(start, buf + size - start).index(b"\0")
        entries.append(guest.read(start, end))
    return count, entries


def _python_call(guest: Guest, name: str, *args: int) -> int:
    set_current_context(guest.ctx)
    try:
        return HOST_FUNCTIONS[(MODULE, name)].fn(guest.ctx, *args) or 0
    finally:
        set_current_context(None)


def test_argv_and_environment_are_served_natively_as_python_answers(kernel) -> None:  # type: ignore[no-untyped-def]
    guest = Guest(kernel, argv=["sh", "-c", "echo héllo", ""], env={"HOME": "/home/user", "EMPTY": "", "A": "b=c"})
    for sizes, get, expected in (
        ("args_sizes_get", "args_get", [b"sh", b"-c", "echo héllo".encode(), b""]),
        ("environ_sizes_get", "environ_get", [b"HOME=/home/user", b"EMPTY=", b"A=b=c"]),
    ):
        before = counts(get)
        assert _strings_via(guest, sizes, get, native_call) == (len(expected), expected)
        assert counts(get)[0] == before[0] + 1  # served by C
        assert _strings_via(guest, sizes, get, _python_call) == (len(expected), expected)
        assert native_call(guest, get, guest.mem_size - 2, guest.alloc(64)) == E["EFAULT"]  # Python says so


def test_a_bad_pointer_or_an_entry_with_a_nul_goes_to_python(kernel) -> None:  # type: ignore[no-untyped-def]
    guest = Guest(kernel, argv=["prog", "a\0b"])
    before = counts("args_sizes_get")
    assert native_call(guest, "args_sizes_get", guest.mem_size, guest.alloc(4)) == E["EFAULT"]
    count, entries = _strings_via(guest, "args_sizes_get", "args_get", native_call)
    assert count == 2 and entries[0] == b"prog" and entries[1] == b"a"  # the entry as C would see it ends at its NUL
    assert counts("args_sizes_get")[1] >= before[1] + 2  # Python answered both


def test_a_plain_program_s_preopen_scan_is_served_natively_as_python_answers(kernel) -> None:  # type: ignore[no-untyped-def]
    guest = Guest(kernel, cwd="/")
    guest.ctx.plain_wasi = True
    install_plain_preopens(guest.ctx)  # before its memory is published, as the runtime does
    (fd, (name, _)), = guest.ctx.plain_preopens.items()
    ret, buf = guest.alloc(8), guest.alloc(16)
    answers = []
    for call in (native_call, _python_call):
        before = counts("fd_prestat_get")
        assert call(guest, "fd_prestat_get", fd, ret) == 0
        assert call(guest, "fd_prestat_dir_name", fd, buf, 16) == 0
        answers.append((guest.read(ret, 8), guest.read(buf, len(name))))
        if call is native_call:
            assert counts("fd_prestat_get")[0] == before[0] + 1  # served by C
    assert answers[0] == answers[1] == (struct.pack("<B3xI", 0, len(name)), name.encode())
    # what is no preopen (the scan's end), and a name buffer too short, are Python's answers
    assert native_call(guest, "fd_prestat_get", fd + 1, ret) == E["EBADF"]
    assert native_call(guest, "fd_prestat_dir_name", fd, buf, 0) == E["ENAMETOOLONG"]


def test_an_exec_output_takes_writes_natively_into_the_buffer_python_writes_to(guest: Guest) -> None:
    out = OutputCapture(8, lambda: None)
    fd = guest.proc.fds.install(out)
    ret = guest.alloc(4)
    before = counts("fd_write")
    assert native_call(guest, "fd_write", fd, *guest.iovecs(guest.put(b"abc"), guest.put(b"de")), ret) == 0
    assert guest.u32(ret) == 5 and counts("fd_write")[0] == before[0] + 1  # served by C
    out.write(b"f")  # Python's write (a fallback) lands in the same buffer, in order
    assert native_call(guest, "fd_write", fd, *guest.iovecs(guest.put(b"ghijk")), ret) == 0
    assert guest.u32(ret) == 5  # all of it "written": what does not fit is counted, not kept
    assert out.output() == (b"abcdefgh", True)
