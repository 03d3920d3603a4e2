"""File semantics of the in-memory filesystem, exercised through the Vfs."""

from __future__ import annotations

import os
import time

from _kernel_helpers import raises_errno

from agentvm_sidecar.kernel import OMIT, FileKind, MemoryFs, Vfs
from agentvm_sidecar.kernel import OpenFlags as O

RW = O.READ | O.WRITE


def test_created_file_reads_back_what_was_written(vfs: Vfs) -> None:
    with vfs.open("/tmp/f", O.WRITE | O.CREAT) as h:
        assert h.write(b"hello ") == 6
        assert h.write(b"world") == 5
    assert vfs.read_file("/tmp/f") == b"hello world"
    assert vfs.stat("/tmp/f").size == 11
    assert vfs.stat("/tmp/f").kind is FileKind.REGULAR


def test_open_without_creat_on_missing_file_raises_enoent(vfs: Vfs) -> None:
    with raises_errno("ENOENT"):
        vfs.open("/tmp/missing")


def test_creat_excl_on_existing_file_raises_eexist(vfs: Vfs) -> None:
    vfs.write_file("/tmp/f", b"x")
    with raises_errno("EEXIST"):
        vfs.open("/tmp/f", O.WRITE | O.CREAT | O.EXCL)


def test_append_handles_always_write_at_the_end(vfs: Vfs) -> None:
    vfs.write_file("/tmp/log", b"one\n")
    a = vfs.open("/tmp/log", O.APPEND)
    b = vfs.open("/tmp/log", O.WRITE)
    b.write(b"XXXX")  # overwrites "one\n" at offset 0
    a.seek(0)
    a.write(b"two\n")
    assert vfs.read_file("/tmp/log") == b"XXXXtwo\n"
    assert a.tell() == 8
    a.close()
    b.close()


def test_trunc_empties_an_existing_file(vfs: Vfs) -> None:
    vfs.write_file("/tmp/f", b"abcdef")
    vfs.open("/tmp/f", O.WRITE | O.TRUNC).close()
    assert vfs.read_file("/tmp/f") == b""


def test_truncate_grows_with_zeros_and_shrinks(vfs: Vfs) -> None:
    vfs.write_file("/tmp/f", b"abc")
    vfs.truncate("/tmp/f", 6)
    assert vfs.read_file("/tmp/f") == b"abc\0\0\0"
    vfs.truncate("/tmp/f", 1)
    assert vfs.read_file("/tmp/f") == b"a"
    with raises_errno("EINVAL"):
        vfs.truncate("/tmp/f", -1)
    with raises_errno("EISDIR"):
        vfs.truncate("/tmp", 0)


def test_pwrite_past_the_end_fills_the_gap_with_zeros(vfs: Vfs) -> None:
    with vfs.open("/tmp/f", RW | O.CREAT) as h:
        h.pwrite(b"Z", 4)
        assert h.pread(10, 0) == b"\0\0\0\0Z"
        assert h.tell() == 0


def test_seek_variants_and_negative_position_is_einval(vfs: Vfs) -> None:
    vfs.write_file("/tmp/f", b"0123456789")
    with vfs.open("/tmp/f") as h:
        assert h.seek(3) == 3
        assert h.read(2) == b"34"
        assert h.seek(1, os.SEEK_CUR) == 6
        assert h.seek(-2, os.SEEK_END) == 8
        assert h.read() == b"89"
        with raises_errno("EINVAL"):
            h.seek(-1)
        assert h.tell() == 10


def test_reads_and_writes_need_the_right_access_mode(vfs: Vfs) -> None:
    vfs.write_file("/tmp/f", b"data")
    with vfs.open("/tmp/f", O.READ) as r, vfs.open("/tmp/f", O.WRITE) as w:
        with raises_errno("EBADF"):
            r.write(b"x")
        with raises_errno("EBADF"):
            w.read(1)
        assert r.is_readable and not r.is_writable
        assert w.is_writable and not w.is_readable


def test_closed_handle_raises_ebadf_and_close_is_idempotent(vfs: Vfs) -> None:
    vfs.write_file("/tmp/f", b"data")
    h = vfs.open("/tmp/f")
    h.close()
    h.close()
    with raises_errno("EBADF"):
        h.read(1)


def test_directories_cannot_be_opened_for_writing_or_read_as_files(vfs: Vfs) -> None:
    with raises_errno("EISDIR"):
        vfs.open("/tmp", O.WRITE)
    with raises_errno("EISDIR"):
        vfs.open("/tmp", O.READ | O.CREAT)
    with vfs.open("/tmp", O.DIRECTORY) as d:
        assert d.kind is FileKind.DIRECTORY
        with raises_errno("EISDIR"):
            d.read(1)
    with raises_errno("ENOTDIR"):
        vfs.open("/etc/passwd", O.DIRECTORY)


def test_directory_handle_snapshot_includes_dot_entries_and_is_stable(vfs: Vfs) -> None:
    vfs.mkdir("/tmp/d")
    vfs.write_file("/tmp/d/a", b"")
    with vfs.open("/tmp/d", O.DIRECTORY) as d:
        first = d.readdir_snapshot().entries()
        vfs.write_file("/tmp/d/b", b"")
        assert [e.name for e in d.readdir_snapshot().entries()] == [".", "..", "a"]
        assert first[0].ino == vfs.stat("/tmp/d").ino
        assert first[1].ino == vfs.stat("/tmp").ino
        assert [e.name for e in d.readdir_snapshot(refresh=True).entries()] == [
            ".",
            "..",
            "a",
            "b",
        ]


def test_hard_links_share_data_and_count_nlink(vfs: Vfs) -> None:
    vfs.write_file("/tmp/a", b"shared")
    vfs.link("/tmp/a", "/tmp/b")
    assert vfs.stat("/tmp/a").nlink == 2
    assert vfs.stat("/tmp/a").ino == vfs.stat("/tmp/b").ino
    with vfs.open("/tmp/b", O.WRITE | O.APPEND) as h:
        h.write(b"!")
    assert vfs.read_file("/tmp/a") == b"shared!"
    vfs.unlink("/tmp/a")
    assert vfs.stat("/tmp/b").nlink == 1
    assert vfs.read_file("/tmp/b") == b"shared!"


def test_hard_link_to_a_directory_raises_eperm_and_to_existing_name_eexist(
    vfs: Vfs,
) -> None:
    vfs.mkdir("/tmp/d")
    vfs.write_file("/tmp/f", b"")
    with raises_errno("EPERM"):
        vfs.link("/tmp/d", "/tmp/d2")
    with raises_errno("EEXIST"):
        vfs.link("/tmp/f", "/etc/passwd")


def test_directory_nlink_counts_subdirectories(vfs: Vfs) -> None:
    vfs.mkdir("/tmp/d")
    assert vfs.stat("/tmp/d").nlink == 2
    vfs.mkdir("/tmp/d/x")
    vfs.mkdir("/tmp/d/y")
    assert vfs.stat("/tmp/d").nlink == 4
    vfs.rmdir("/tmp/d/x")
    assert vfs.stat("/tmp/d").nlink == 3


def test_unlinked_file_stays_readable_through_an_open_handle(vfs: Vfs) -> None:
    vfs.write_file("/tmp/f", b"still here")
    h = vfs.open("/tmp/f", RW)
    vfs.unlink("/tmp/f")
    assert not vfs.exists("/tmp/f")
    assert h.read() == b"still here"
    h.write(b"+more")
    assert h.pread(100, 0) == b"still here+more"
    assert h.stat().nlink == 0
    before = vfs.usage().bytes_used
    h.close()
    assert vfs.usage().bytes_used == before - len(b"still here+more")


def test_rename_replaces_an_existing_file(vfs: Vfs) -> None:
    vfs.write_file("/tmp/a", b"A")
    vfs.write_file("/tmp/b", b"B")
    vfs.rename("/tmp/a", "/tmp/b")
    assert vfs.read_file("/tmp/b") == b"A"
    assert not vfs.exists("/tmp/a")


def test_rename_directory_over_empty_directory_succeeds(vfs: Vfs) -> None:
    vfs.mkdir("/tmp/a")
    vfs.write_file("/tmp/a/x", b"x")
    vfs.mkdir("/tmp/b")
    vfs.rename("/tmp/a", "/tmp/b")
    assert vfs.read_file("/tmp/b/x") == b"x"


def test_rename_type_mismatches_and_nonempty_target_fail(vfs: Vfs) -> None:
    vfs.mkdir("/tmp/d")
    vfs.mkdir("/tmp/full")
    vfs.write_file("/tmp/full/x", b"")
    vfs.write_file("/tmp/f", b"")
    with raises_errno("EISDIR"):
        vfs.rename("/tmp/f", "/tmp/d")
    with raises_errno("ENOTDIR"):
        vfs.rename("/tmp/d", "/tmp/f")
    with raises_errno("ENOTEMPTY"):
        vfs.rename("/tmp/d", "/tmp/full")
    with raises_errno("ENOENT"):
        vfs.rename("/tmp/nope", "/tmp/x")


def test_rename_directory_into_its_own_subtree_raises_einval(vfs: Vfs) -> None:
    vfs.mkdir("/tmp/a/b", recursive=True)
    with raises_errno("EINVAL"):
        vfs.rename("/tmp/a", "/tmp/a/b/c")
    with raises_errno("EINVAL"):
        vfs.rename("/tmp/a", "/tmp/a/c")
    assert vfs.stat("/tmp/a/b").is_dir


def test_rename_onto_another_link_of_the_same_file_does_nothing(vfs: Vfs) -> None:
    vfs.write_file("/tmp/a", b"x")
    vfs.link("/tmp/a", "/tmp/b")
    vfs.rename("/tmp/a", "/tmp/b")
    assert vfs.exists("/tmp/a") and vfs.exists("/tmp/b")


def test_rmdir_refuses_non_empty_and_non_directories(vfs: Vfs) -> None:
    vfs.mkdir("/tmp/d")
    vfs.write_file("/tmp/d/f", b"")
    with raises_errno("ENOTEMPTY"):
        vfs.rmdir("/tmp/d")
    with raises_errno("ENOTDIR"):
        vfs.rmdir("/tmp/d/f")
    with raises_errno("EISDIR"):
        vfs.unlink("/tmp/d")
    with raises_errno("EBUSY"):
        vfs.rmdir("/")
    with raises_errno("EINVAL"):
        vfs.rmdir("/tmp/d/.")
    vfs.unlink("/tmp/d/f")
    vfs.rmdir("/tmp/d")
    assert not vfs.exists("/tmp/d")


def test_mkdir_on_existing_raises_eexist_and_recursive_is_mkdir_p(vfs: Vfs) -> None:
    with raises_errno("EEXIST"):
        vfs.mkdir("/tmp")
    vfs.mkdir("/tmp/a/b/c", recursive=True)
    vfs.mkdir("/tmp/a/b/c", recursive=True)
    assert vfs.stat("/tmp/a/b/c").is_dir
    vfs.write_file("/tmp/file", b"")
    with raises_errno("EEXIST"):
        vfs.mkdir("/tmp/file", recursive=True)
    with raises_errno("ENOTDIR"):
        vfs.mkdir("/tmp/file/sub", recursive=True)
    with raises_errno("ENOENT"):
        vfs.mkdir("/tmp/x/y")


def test_remove_tree_deletes_everything_below_and_the_root(vfs: Vfs) -> None:
    vfs.write_file("/tmp/t/a/b/c.txt", b"x", create_dirs=True)
    vfs.symlink("/etc", "/tmp/t/link-to-etc")
    vfs.write_file("/tmp/t/top.txt", b"y")
    before = vfs.usage()
    vfs.remove_tree("/tmp/t")
    assert not vfs.exists("/tmp/t")
    assert vfs.exists("/etc/passwd")  # the symlink was removed, not followed
    after = vfs.usage()
    assert after.inodes_used == before.inodes_used - 6
    vfs.remove_tree("/tmp/t", missing_ok=True)
    with raises_errno("ENOENT"):
        vfs.remove_tree("/tmp/t")


def test_remove_tree_handles_deep_trees_without_recursion_limits(vfs: Vfs) -> None:
    path = "/tmp/deep"
    vfs.mkdir(path)
    for _i in range(1200):
        path += "/d"
        vfs.mkdir(path)
    vfs.remove_tree("/tmp/deep")
    assert not vfs.exists("/tmp/deep")


def test_writes_update_mtime_and_reads_update_atime(vfs: Vfs) -> None:
    vfs.write_file("/tmp/f", b"x")
    vfs.utimes("/tmp/f", 1_000, 2_000)
    st = vfs.stat("/tmp/f")
    assert (st.atime_ns, st.mtime_ns) == (1_000, 2_000)
    with vfs.open("/tmp/f", RW) as h:
        h.read(1)
        h.write(b"y")
    st2 = vfs.stat("/tmp/f")
    assert st2.atime_ns > 1_000 and st2.mtime_ns > 2_000
    assert st2.ctime_ns >= st2.mtime_ns


def test_creating_an_entry_updates_the_parent_mtime(vfs: Vfs) -> None:
    vfs.mkdir("/tmp/d")
    vfs.utimes("/tmp/d", 5, 5)
    vfs.write_file("/tmp/d/f", b"")
    assert vfs.stat("/tmp/d").mtime_ns > 5


def test_utimes_omit_keeps_one_timestamp(vfs: Vfs) -> None:
    vfs.write_file("/tmp/f", b"")
    vfs.utimes("/tmp/f", 10, 20)
    vfs.utimes("/tmp/f", OMIT, 30)
    st = vfs.stat("/tmp/f")
    assert (st.atime_ns, st.mtime_ns) == (10, 30)
    vfs.utimes("/tmp/f", None, OMIT)
    assert vfs.stat("/tmp/f").atime_ns >= time.time_ns() - 10**10


def test_chmod_changes_permission_bits_but_not_the_type(vfs: Vfs) -> None:
    vfs.write_file("/tmp/f", b"")
    vfs.chmod("/tmp/f", 0o4711)
    st = vfs.stat("/tmp/f")
    assert st.perm == 0o4711 and st.is_file


def test_handle_chmod_and_set_times(vfs: Vfs) -> None:
    with vfs.open("/tmp/f", O.WRITE | O.CREAT, 0o600) as h:
        assert h.stat().perm == 0o600
        h.chmod(0o640)
        h.set_times(7, 8)
        st = h.stat()
    assert st.perm == 0o640 and (st.atime_ns, st.mtime_ns) == (7, 8)


def test_shared_backing_is_copied_on_first_write_only() -> None:
    backing = b"package bytes"
    fs = MemoryFs()
    node = fs.add_file("/bin/tool", backing)
    assert node.data is backing
    vfs = Vfs(fs)
    assert vfs.read_file("/bin/tool") == backing
    assert node.data is backing
    with vfs.open("/bin/tool", O.WRITE) as h:
        h.write(b"P")
    assert vfs.read_file("/bin/tool") == b"Package bytes"
    assert backing == b"package bytes"


def test_the_whole_content_of_an_empty_file_is_kept_as_given_until_the_next_write(vfs: Vfs) -> None:
    # fs.writeFile and the tools docs every VM gets: no copy of the bytes
    data = b"whole content"
    vfs.write_file("/tmp/f", b"")
    before = vfs.usage().bytes_used
    vfs.write_file("/tmp/f", data)
    with vfs.open("/tmp/f") as h:
        node = h._node
    assert node.data is data
    assert vfs.usage().bytes_used == before + len(data)
    with vfs.open("/tmp/f", O.WRITE | O.APPEND) as h:
        h.write(b"!")
    assert vfs.read_file("/tmp/f") == b"whole content!"
    assert data == b"whole content"
    assert vfs.usage().bytes_used == before + len(data) + 1


def test_frozen_memory_fs_refuses_every_mutation_with_erofs() -> None:
    fs = MemoryFs()
    fs.add_file("/bin/ls", b"\0asm")
    fs.freeze()
    vfs = Vfs(fs)
    assert vfs.read_file("/bin/ls") == b"\0asm"
    for op in (
        lambda: vfs.write_file("/bin/ls", b"x"),
        lambda: vfs.mkdir("/bin/d"),
        lambda: vfs.unlink("/bin/ls"),
        lambda: vfs.chmod("/bin/ls", 0o777),
        lambda: vfs.symlink("x", "/bin/l"),
    ):
        with raises_errno("EROFS"):
            op()


def test_readdir_recursive_lists_relative_paths_with_depth_limit(vfs: Vfs) -> None:
    vfs.write_file("/tmp/r/a/b/c", b"", create_dirs=True)
    vfs.symlink("a", "/tmp/r/l")
    assert vfs.readdir_recursive("/tmp/r") == [
        ("a", FileKind.DIRECTORY),
        ("a/b", FileKind.DIRECTORY),
        ("a/b/c", FileKind.REGULAR),
        ("l", FileKind.SYMLINK),
    ]
    assert vfs.readdir_recursive("/tmp/r", max_depth=1) == [
        ("a", FileKind.DIRECTORY),
        ("l", FileKind.SYMLINK),
    ]


def test_default_tree_has_the_expected_layout(vfs: Vfs) -> None:
    names = {e.name for e in vfs.readdir("/")}
    assert {"bin", "usr", "etc", "home", "tmp", "dev"} <= names
    assert vfs.stat("/tmp").perm == 0o1777
    home = vfs.stat("/home/user")
    assert (home.uid, home.gid, home.perm) == (1000, 1000, 0o755)
    assert b"user:x:1000:1000" in vfs.read_file("/etc/passwd")
    assert b"root:x:0:" in vfs.read_file("/etc/group")
