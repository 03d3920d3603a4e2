"""POSIX pathname resolution in the Vfs walker."""

from __future__ import annotations

from _kernel_helpers import raises_errno

from agentvm_sidecar.kernel import FileKind, KernelError, Vfs


def test_dot_and_dotdot_are_resolved_per_component(vfs: Vfs) -> None:
    assert vfs.realpath("/etc/./../etc//passwd") == "/etc/passwd"
    assert vfs.read_file("/tmp/../etc/passwd").startswith(b"root:")


def test_dotdot_at_root_stays_at_root(vfs: Vfs) -> None:
    assert vfs.realpath("/../../..") == "/"
    assert vfs.realpath("/../../etc/../../etc") == "/etc"


def test_relative_paths_resolve_against_cwd(vfs: Vfs) -> None:
    assert vfs.read_file("passwd", cwd="/etc").startswith(b"root:")
    assert vfs.realpath("../etc", cwd="/tmp") == "/etc"
    assert vfs.realpath(".", cwd="/home/user") == "/home/user"
    with raises_errno("ENOENT"):
        vfs.stat("x", cwd="/no/such/dir")


def test_trailing_slash_requires_a_directory(vfs: Vfs) -> None:
    assert vfs.stat("/etc/").is_dir
    with raises_errno("ENOTDIR"):
        vfs.stat("/etc/passwd/")
    with raises_errno("ENOTDIR"):
        vfs.stat("/etc/passwd/.")
    with raises_errno("ENOTDIR"):
        vfs.stat("/etc/passwd/x")


def test_creating_a_file_with_a_trailing_slash_raises_eisdir(vfs: Vfs) -> None:
    from agentvm_sidecar.kernel import OpenFlags as O

    with raises_errno("EISDIR"):
        vfs.open("/tmp/new/", O.WRITE | O.CREAT)
    vfs.mkdir("/tmp/newdir/")
    assert vfs.stat("/tmp/newdir").is_dir


def test_empty_path_raises_enoent_and_nul_raises_einval(vfs: Vfs) -> None:
    with raises_errno("ENOENT"):
        vfs.stat("")
    with raises_errno("EINVAL"):
        vfs.stat("/etc/pass\0wd")
    with raises_errno("EINVAL"):
        vfs.symlink("a\0b", "/tmp/l")


def test_overlong_paths_and_components_raise_enametoolong(vfs: Vfs) -> None:
    with raises_errno("ENAMETOOLONG"):
        vfs.stat("/" + "a" * 256)
    with raises_errno("ENAMETOOLONG"):
        vfs.write_file("/tmp/" + "é" * 128, b"")  # 256 UTF-8 bytes
    vfs.write_file("/tmp/" + "a" * 255, b"ok")
    with raises_errno("ENAMETOOLONG"):
        vfs.stat("/" + "a/" * 2100)


def test_relative_symlink_resolves_from_the_link_directory(vfs: Vfs) -> None:
    vfs.mkdir("/tmp/d")
    vfs.write_file("/tmp/target", b"T")
    vfs.symlink("../target", "/tmp/d/link")
    assert vfs.read_file("/tmp/d/link") == b"T"
    assert vfs.readlink("/tmp/d/link") == "../target"
    assert vfs.lstat("/tmp/d/link").kind is FileKind.SYMLINK
    assert vfs.stat("/tmp/d/link").kind is FileKind.REGULAR


def test_absolute_symlink_restarts_at_the_vm_root(vfs: Vfs) -> None:
    vfs.symlink("/etc", "/tmp/etc-link")
    assert vfs.realpath("/tmp/etc-link/passwd") == "/etc/passwd"


def test_dotdot_after_a_symlink_is_physical(vfs: Vfs) -> None:
    vfs.mkdir("/tmp/a/b", recursive=True)
    vfs.symlink("/tmp/a/b", "/home/user/lnk")
    assert vfs.realpath("/home/user/lnk/..") == "/tmp/a"


def test_symlink_loop_raises_eloop(vfs: Vfs) -> None:
    vfs.symlink("/tmp/b", "/tmp/a")
    vfs.symlink("/tmp/a", "/tmp/b")
    with raises_errno("ELOOP"):
        vfs.stat("/tmp/a")
    with raises_errno("ELOOP"):
        vfs.read_file("/tmp/a/x")
    assert vfs.lstat("/tmp/a").is_symlink


def test_forty_symlink_expansions_are_allowed_and_forty_one_are_not(vfs: Vfs) -> None:
    vfs.write_file("/tmp/end", b"end")
    vfs.symlink("/tmp/end", "/tmp/l0")
    for i in range(1, 41):
        vfs.symlink(f"l{i - 1}", f"/tmp/l{i}")
    assert vfs.read_file("/tmp/l39") == b"end"  # 40 expansions
    with raises_errno("ELOOP"):
        vfs.read_file("/tmp/l40")  # 41


def test_dangling_symlink_stat_is_enoent_but_lstat_works(vfs: Vfs) -> None:
    vfs.symlink("/nowhere", "/tmp/dangling")
    with raises_errno("ENOENT"):
        vfs.stat("/tmp/dangling")
    assert vfs.lstat("/tmp/dangling").is_symlink
    assert vfs.exists("/tmp/dangling", follow=False)
    assert not vfs.exists("/tmp/dangling")


def test_open_creat_through_a_dangling_symlink_creates_the_target(vfs: Vfs) -> None:
    from agentvm_sidecar.kernel import OpenFlags as O

    vfs.symlink("/tmp/created", "/tmp/dl")
    vfs.open("/tmp/dl", O.WRITE | O.CREAT).close()
    assert vfs.stat("/tmp/created").is_file
    with raises_errno("EEXIST"):
        vfs.open("/tmp/dl", O.WRITE | O.CREAT | O.EXCL)


def test_nofollow_on_a_final_symlink_raises_eloop(vfs: Vfs) -> None:
    from agentvm_sidecar.kernel import OpenFlags as O

    vfs.symlink("/etc/passwd", "/tmp/l")
    with raises_errno("ELOOP"):
        vfs.open("/tmp/l", O.READ | O.NOFOLLOW)


def test_symlink_to_a_file_used_as_a_directory_raises_enotdir(vfs: Vfs) -> None:
    vfs.symlink("/etc/passwd", "/tmp/l")
    with raises_errno("ENOTDIR"):
        vfs.stat("/tmp/l/x")
    with raises_errno("ENOTDIR"):
        vfs.stat("/tmp/l/")


def test_errors_carry_the_path_that_was_asked_for(vfs: Vfs) -> None:
    try:
        vfs.stat("/no/such")
    except KernelError as exc:
        assert exc.errno == "ENOENT" and exc.path == "/no/such"
        assert exc.number == 2
    else:
        raise AssertionError("expected ENOENT")
