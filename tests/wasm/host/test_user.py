"""host_user: ids, groups, isatty and the account database with its ERANGE protocol."""

from __future__ import annotations

from agentvm_sidecar.kernel.fstypes import ROOT, Cred

from .conftest import BAD_PTR, E, Guest

USER_RECORD = b"user:x:1000:1000:user:/home/user:/bin/sh"


def test_ids(guest: Guest) -> None:
    (ret,) = guest.out()
    for name in ("getuid", "geteuid", "getgid", "getegid"):
        assert guest.u(name, ret) == 0
        assert guest.u32(ret) == 1000
    assert guest.u("getuid", BAD_PTR) == E["EFAULT"]


def test_getgroups_protocol(guest: Guest, kernel) -> None:
    count, = guest.out()
    buf = guest.alloc(16, b"\xee" * 16)
    assert guest.u("getgroups", 0, buf, count) == 0
    assert guest.u32(count) == 1 and guest.read(buf, 4) == b"\xee" * 4  # size 0: count only
    assert guest.u("getgroups", 4, buf, count) == 0
    assert guest.u32(count) == 1 and guest.u32(buf) == 1000
    assert guest.u("getgroups", 65, buf, count) == E["E2BIG"]
    # membership listed in /etc/group counts as a supplementary group
    kernel.vfs.write_file("/etc/group", b"root:x:0:\nuser:x:1000:\nwheel:x:10:root,user\nbad line\n")
    assert guest.u("getgroups", 0, buf, count) == 0 and guest.u32(count) == 2
    assert guest.u("getgroups", 1, buf, count) == E["EINVAL"]
    assert guest.u("getgroups", 2, buf, count) == 0
    assert (guest.u32(buf), guest.u32(buf + 4)) == (1000, 10)


def test_setuid_setgid_rules(guest: Guest, kernel) -> None:
    assert guest.u("setuid", 1000) == 0  # own id: allowed
    assert guest.u("setuid", 0) == E["EPERM"]
    assert guest.u("setgid", 1000) == 0
    assert guest.u("setgid", 0) == E["EPERM"]
    assert guest.proc.cred == Cred(1000, 1000)
    root = Guest(kernel, cred=ROOT)
    assert root.u("setgid", 50) == 0
    assert root.u("setuid", 1000) == 0
    assert root.proc.cred == Cred(1000, 50)
    assert root.u("setuid", 0) == E["EPERM"]  # root dropped for good


def test_setgroups(guest: Guest, kernel) -> None:
    p, _ = guest.put((5).to_bytes(4, "little"))
    assert guest.u("setgroups", 1, p) == E["EPERM"]
    assert guest.u("setgroups", 65, p) == E["E2BIG"]
    root = Guest(kernel, cred=ROOT)
    groups, _ = root.put(b"".join(g.to_bytes(4, "little") for g in (7, 8, 9)))
    assert root.u("setgroups", 3, groups) == 0
    count, = root.out()
    buf = root.alloc(16)
    assert root.u("getgroups", 4, buf, count) == 0
    assert [root.u32(buf + 4 * i) for i in range(root.u32(count))] == [7, 8, 9]
    assert root.u("setgroups", 0, 0) == 0
    assert root.u("getgroups", 0, buf, count) == 0 and root.u32(count) == 0


def test_isatty_is_always_zero(guest: Guest) -> None:
    (ret,) = guest.out()
    for fd in (0, 1, 2, 99):
        assert guest.u("isatty", fd, ret) == 0
        assert guest.u32(ret) == 0


# -- account records -----------------------------------------------------------------------------
def lookup(g: Guest, name: str, key, cap: int = 4096) -> tuple[int, int, bytes]:
    buf = g.alloc(max(cap, 1), b"\xee" * max(cap, 1))
    (ret_len,) = g.out()
    if isinstance(key, str):
        p, n = g.put(key)
        err = g.u(name, p, n, buf, cap, ret_len)
    else:
        err = g.u(name, key, buf, cap, ret_len)
    length = g.u32(ret_len)
    return err, length, g.read(buf, min(length, max(cap, 1)))


def test_getpwuid_and_erange(guest: Guest) -> None:
    err, length, data = lookup(guest, "getpwuid", 1000)
    assert (err, length, data) == (0, len(USER_RECORD), USER_RECORD)
    err, length, data = lookup(guest, "getpwuid", 1000, cap=10)
    assert (err, length) == (E["ERANGE"], len(USER_RECORD))
    assert data == b"\xee" * 10  # the buffer is untouched
    assert lookup(guest, "getpwuid", 4242)[0] == E["ENOENT"]
    err, length, data = lookup(guest, "getpwuid", 0)
    assert data == b"root:x:0:0:root:/root:/bin/sh"


def test_enoent_writes_nothing(guest: Guest) -> None:
    buf = guest.alloc(8, b"\xee" * 8)
    (ret_len,) = guest.out()
    assert guest.u("getpwuid", 4242, buf, 8, ret_len) == E["ENOENT"]
    assert guest.read(ret_len, 4) == b"\xab" * 4


def test_getpwnam_and_ent(guest: Guest) -> None:
    assert lookup(guest, "getpwnam", "user")[2] == USER_RECORD
    assert lookup(guest, "getpwnam", "nobody")[0] == E["ENOENT"]
    assert lookup(guest, "getpwnam", "x" * 4097)[0] == E["ENAMETOOLONG"]
    records = []
    for i in range(10):
        err, _, data = lookup(guest, "getpwent", i)
        if err:
            assert err == E["ENOENT"]
            break
        records.append(data)
    assert records == [b"root:x:0:0:root:/root:/bin/sh", USER_RECORD]


def test_group_lookups(guest: Guest, kernel) -> None:
    assert lookup(guest, "getgrgid", 1000)[2] == b"user:x:1000:"
    assert lookup(guest, "getgrnam", "root")[2] == b"root:x:0:"
    assert lookup(guest, "getgrnam", "nope")[0] == E["ENOENT"]
    assert lookup(guest, "getgrent", 1)[2] == b"user:x:1000:"
    assert lookup(guest, "getgrent", 2)[0] == E["ENOENT"]
    err, length, _ = lookup(guest, "getgrgid", 0, cap=0)
    assert (err, length) == (E["ERANGE"], len(b"root:x:0:"))


def test_database_is_the_vm_file(guest: Guest, kernel) -> None:
    kernel.vfs.write_file(
        "/etc/passwd",
        b"root:x:0:0:root:/root:/bin/sh\r\nmalformed\nbob:x:x:1:::\nalice:x:1001:100:Alice:/home/a:/bin/sh\n",
    )
    assert lookup(guest, "getpwuid", 1001)[2] == b"alice:x:1001:100:Alice:/home/a:/bin/sh"
    assert lookup(guest, "getpwent", 0)[2] == b"root:x:0:0:root:/root:/bin/sh"
    assert lookup(guest, "getpwent", 1)[2] == b"alice:x:1001:100:Alice:/home/a:/bin/sh"
    assert lookup(guest, "getpwent", 2)[0] == E["ENOENT"]
    assert lookup(guest, "getpwuid", 1000)[0] == E["ENOENT"]
    kernel.vfs.unlink("/etc/passwd")  # unreadable database: the default records
    assert lookup(guest, "getpwuid", 1000)[2] == USER_RECORD
