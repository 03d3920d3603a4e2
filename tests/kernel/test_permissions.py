"""rwx permission checks for the guest user (uid 1000) versus root."""

from __future__ import annotations

from _kernel_helpers import raises_errno

from agentvm_sidecar.kernel import ROOT, USER, Cred, Vfs
from agentvm_sidecar.kernel import OpenFlags as O


def test_user_cannot_create_in_a_root_owned_0755_directory(vfs: Vfs) -> None:
    with raises_errno("EACCES"):
        vfs.write_file("/etc/evil", b"x", cred=USER)
    with raises_errno("EACCES"):
        vfs.mkdir("/usr/bin/d", cred=USER)
    vfs.write_file("/etc/ok", b"x", cred=ROOT)
    assert vfs.read_file("/etc/ok", cred=USER) == b"x"


def test_user_cannot_write_a_root_owned_0644_file_but_root_can(vfs: Vfs) -> None:
    with raises_errno("EACCES"):
        vfs.open("/etc/passwd", O.WRITE, cred=USER)
    with raises_errno("EACCES"):
        vfs.unlink("/etc/passwd", cred=USER)
    vfs.open("/etc/passwd", O.WRITE, cred=ROOT).close()


def test_user_owns_home_and_can_work_there(vfs: Vfs) -> None:
    vfs.write_file("/home/user/notes", b"n", cred=USER)
    st = vfs.stat("/home/user/notes")
    assert (st.uid, st.gid) == (1000, 1000)
    vfs.mkdir("/home/user/proj", cred=USER)
    vfs.rename("/home/user/notes", "/home/user/proj/notes", cred=USER)
    vfs.remove_tree("/home/user/proj", cred=USER)


def test_unreadable_file_and_unsearchable_directory_raise_eacces(vfs: Vfs) -> None:
    vfs.mkdir("/home/user/private", 0o700)  # created by root, owned by root
    vfs.write_file("/home/user/private/f", b"s")
    vfs.write_file("/tmp/secret", b"s", mode=0o600)
    with raises_errno("EACCES"):
        vfs.read_file("/tmp/secret", cred=USER)
    with raises_errno("EACCES"):
        vfs.stat("/home/user/private/f", cred=USER)
    with raises_errno("EACCES"):
        vfs.readdir("/home/user/private", cred=USER)
    assert vfs.read_file("/home/user/private/f") == b"s"


def test_group_bits_apply_to_matching_gid(vfs: Vfs) -> None:
    vfs.write_file("/tmp/g", b"g", mode=0o640)
    vfs.chmod("/tmp/g", 0o640)
    other = Cred(2000, 0)  # gid 0 matches the root-owned file's group
    assert vfs.read_file("/tmp/g", cred=other) == b"g"
    with raises_errno("EACCES"):
        vfs.read_file("/tmp/g", cred=USER)


def test_only_the_owner_may_chmod_or_set_explicit_times(vfs: Vfs) -> None:
    vfs.write_file("/tmp/f", b"")
    with raises_errno("EPERM"):
        vfs.chmod("/tmp/f", 0o777, cred=USER)
    with raises_errno("EPERM"):
        vfs.utimes("/tmp/f", 1, 1, cred=USER)
    vfs.write_file("/tmp/mine", b"", cred=USER)
    vfs.chmod("/tmp/mine", 0o600, cred=USER)
    vfs.utimes("/tmp/mine", 1, 1, cred=USER)


def test_sticky_tmp_lets_users_remove_only_their_own_files(vfs: Vfs) -> None:
    vfs.write_file("/tmp/roots", b"", mode=0o666)
    vfs.write_file("/tmp/users", b"", cred=USER)
    with raises_errno("EPERM"):
        vfs.unlink("/tmp/roots", cred=USER)
    with raises_errno("EPERM"):
        vfs.rename("/tmp/roots", "/tmp/stolen", cred=USER)
    vfs.unlink("/tmp/users", cred=USER)
