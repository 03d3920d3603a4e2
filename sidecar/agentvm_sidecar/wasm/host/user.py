"""``host_user``: ids, groups, isatty and the account database (host_abi.md §5).

Ids come from the process's :class:`Cred` (guests run as uid/gid 1000, see
``kernel.fstypes.USER``). The kernel keeps one uid and one gid per process, so
real, effective and saved ids are the same value; ``setuid``/``setgid`` follow
Linux: root may set any id, anyone else only the id they already have (EPERM).

Supplementary groups: the primary gid plus every ``/etc/group`` entry that lists
the user's name (what ``initgroups`` gives a login), unless root replaced the
list with ``setgroups``. XX: a ``setgroups`` list is kept per process and not
inherited by children (the process record has no groups field yet).

Account records are lines of the VM's ``/etc/passwd`` and ``/etc/group`` read
through the VFS with the caller's credentials (malformed lines skipped), or the
default tree's records when the file cannot be read. Buffer protocol: ``ret_len``
is always written with the record length; ``cap < len`` is ERANGE with the buffer
untouched; an absent record is ENOENT.

``isatty`` answers 0 for every fd. XX: agentvm has no PTY yet; once it does, a
PTY slave (and its dups) must answer 1 (fact #17: a wrong 1 makes brush go
interactive on a pipe).
"""

from __future__ import annotations

import weakref

from ... import native
from ...kernel.errors import KernelError
from ...kernel.fstypes import Cred
from ...kernel.process import Process
from ...kernel.rootfs import GROUP, PASSWD
from ..abi import WASI_ERRNO, host_function
from ..context import GuestContext

__all__ = ["group_records", "passwd_records", "supplementary_groups"]

M = "host_user"

MAX_GROUPS = 64
MAX_NAME = 4096

_groups_override: weakref.WeakKeyDictionary[Process, tuple[int, ...]] = weakref.WeakKeyDictionary()


# -- the account database ----------------------------------------------------------------
def _read_db(ctx: GuestContext, path: str, default: bytes) -> list[str]:
    try:
        data = ctx.kernel.vfs.read_file(path, cred=ctx.proc.cred)
    except KernelError:
        data = default
    return [line.rstrip("\r") for line in data.decode("utf-8", "surrogateescape").split("\n")]


def passwd_records(ctx: GuestContext) -> list[tuple[str, int, int, str]]:
    """(name, uid, gid, record line) of every well-formed ``/etc/passwd`` line."""
    out = []
    for line in _read_db(ctx, "/etc/passwd", PASSWD):
        fields = line.split(":")
        if len(fields) == 7 and fields[0] and fields[2].isdigit() and fields[3].isdigit():
            out.append((fields[0], int(fields[2]), int(fields[3]), line))
    return out


def group_records(ctx: GuestContext) -> list[tuple[str, int, list[str], str]]:
    """(name, gid, members, record line) of every well-formed ``/etc/group`` line."""
    out = []
    for line in _read_db(ctx, "/etc/group", GROUP):
        fields = line.split(":")
        if len(fields) == 4 and fields[0] and fields[2].isdigit():
            members = [m for m in fields[3].split(",") if m]
            out.append((fields[0], int(fields[2]), members, line))
    return out


def supplementary_groups(ctx: GuestContext) -> list[int]:
    override = _groups_override.get(ctx.proc)
    if override is not None:
        return list(override)
    cred = ctx.proc.cred
    names = {name for name, uid, _, _ in passwd_records(ctx) if uid == cred.uid}
    groups = [cred.gid]
    for _, gid, members, _ in group_records(ctx):
        if gid not in groups and names.intersection(members):
            groups.append(gid)
    return groups


def _answer(ctx: GuestContext, record: str | None, buf: int, cap: int, ret_len: int) -> int:
    if record is None:
        return WASI_ERRNO["ENOENT"]
    data = record.encode("utf-8", "surrogateescape")
    ctx.set_u32(ret_len, len(data))
    if (cap & 0xFFFFFFFF) < len(data):
        return WASI_ERRNO["ERANGE"]
    ctx.write(buf, data)
    return 0


def _name(ctx: GuestContext, ptr: int, length: int) -> str | None:
    if length & 0xFFFFFFFF > MAX_NAME:
        return None
    return ctx.string(ptr, length)


# -- ids -------------------------------------------------------------------------------
@host_function(M, "getuid", "i")
def getuid(ctx: GuestContext, ret: int) -> None:
    ctx.set_u32(ret, ctx.proc.cred.uid)


@host_function(M, "geteuid", "i")
def geteuid(ctx: GuestContext, ret: int) -> None:
    ctx.set_u32(ret, ctx.proc.cred.uid)


@host_function(M, "getgid", "i")
def getgid(ctx: GuestContext, ret: int) -> None:
    ctx.set_u32(ret, ctx.proc.cred.gid)


@host_function(M, "getegid", "i")
def getegid(ctx: GuestContext, ret: int) -> None:
    ctx.set_u32(ret, ctx.proc.cred.gid)


@host_function(M, "getgroups", "iii")
def getgroups(ctx: GuestContext, size: int, groups_ptr: int, ret_count: int) -> int | None:
    """size 0: count only; size < count: EINVAL; size > 64: E2BIG."""
    size &= 0xFFFFFFFF
    ctx.check(ret_count, 4)
    groups = supplementary_groups(ctx)
    if size == 0:
        ctx.set_u32(ret_count, len(groups))
        return None
    if size > MAX_GROUPS:
        return WASI_ERRNO["E2BIG"]
    if size < len(groups):
        return WASI_ERRNO["EINVAL"]
    ctx.write(groups_ptr, b"".join(g.to_bytes(4, "little") for g in groups))
    ctx.set_u32(ret_count, len(groups))
    return None


@host_function(M, "setuid", "i")
def setuid(ctx: GuestContext, uid: int) -> int | None:
    uid &= 0xFFFFFFFF
    cred = ctx.proc.cred
    if uid == 0xFFFFFFFF:
        return WASI_ERRNO["EINVAL"]
    if cred.uid != 0 and uid != cred.uid:
        return WASI_ERRNO["EPERM"]
    ctx.proc.cred = Cred(uid, cred.gid)
    native.stats_changed_here()  # its memoized stats were answered for the old cred
    return None


@host_function(M, "setgid", "i")
def setgid(ctx: GuestContext, gid: int) -> int | None:
    gid &= 0xFFFFFFFF
    cred = ctx.proc.cred
    if gid == 0xFFFFFFFF:
        return WASI_ERRNO["EINVAL"]
    if cred.uid != 0 and gid != cred.gid:
        return WASI_ERRNO["EPERM"]
    ctx.proc.cred = Cred(cred.uid, gid)
    native.stats_changed_here()  # its memoized stats were answered for the old cred
    return None


@host_function(M, "setgroups", "ii")
def setgroups(ctx: GuestContext, count: int, groups_ptr: int) -> int | None:
    count &= 0xFFFFFFFF
    if count > MAX_GROUPS:
        return WASI_ERRNO["E2BIG"]
    if ctx.proc.cred.uid != 0:
        return WASI_ERRNO["EPERM"]
    raw = ctx.read(groups_ptr, 4 * count)
    _groups_override[ctx.proc] = tuple(int.from_bytes(raw[i : i + 4], "little") for i in range(0, len(raw), 4))
    return None


@host_function(M, "isatty", "ii")
def isatty(ctx: GuestContext, fd: int, ret: int) -> None:
    """0 for every fd: agentvm has no terminals yet (see module docstring)."""
    ctx.set_u32(ret, 0)


# -- passwd ----------------------------------------------------------------------------
@host_function(M, "getpwuid", "iiii")
def getpwuid(ctx: GuestContext, uid: int, buf: int, cap: int, ret_len: int) -> int:
    uid &= 0xFFFFFFFF
    record = next((line for _, u, _, line in passwd_records(ctx) if u == uid), None)
    return _answer(ctx, record, buf, cap, ret_len)


@host_function(M, "getpwnam", "iiiii")
def getpwnam(ctx: GuestContext, name_ptr: int, name_len: int, buf: int, cap: int, ret_len: int) -> int:
    name = _name(ctx, name_ptr, name_len)
    if name is None:
        return WASI_ERRNO["ENAMETOOLONG"]
    record = next((line for n, _, _, line in passwd_records(ctx) if n == name), None)
    return _answer(ctx, record, buf, cap, ret_len)


@host_function(M, "getpwent", "iiii")
def getpwent(ctx: GuestContext, index: int, buf: int, cap: int, ret_len: int) -> int:
    records = passwd_records(ctx)
    index &= 0xFFFFFFFF
    return _answer(ctx, records[index][3] if index < len(records) else None, buf, cap, ret_len)


# -- group -----------------------------------------------------------------------------
@host_function(M, "getgrgid", "iiii")
def getgrgid(ctx: GuestContext, gid: int, buf: int, cap: int, ret_len: int) -> int:
    gid &= 0xFFFFFFFF
    record = next((line for _, g, _, line in group_records(ctx) if g == gid), None)
    return _answer(ctx, record, buf, cap, ret_len)


@host_function(M, "getgrnam", "iiiii")
def getgrnam(ctx: GuestContext, name_ptr: int, name_len: int, buf: int, cap: int, ret_len: int) -> int:
    name = _name(ctx, name_ptr, name_len)
    if name is None:
        return WASI_ERRNO["ENAMETOOLONG"]
    record = next((line for n, _, _, line in group_records(ctx) if n == name), None)
    return _answer(ctx, record, buf, cap, ret_len)


@host_function(M, "getgrent", "iiii")
def getgrent(ctx: GuestContext, index: int, buf: int, cap: int, ret_len: int) -> int:
    records = group_records(ctx)
    index &= 0xFFFFFFFF
    return _answer(ctx, records[index][3] if index < len(records) else None, buf, cap, ret_len)
