# VfsNamespace: changes to names in a VM's filesystem (see vfs_core.py for the
# layers): mkdir, rmdir, unlink, rm -rf, rename, symlink, hard link.
# XX: renaming/removing a directory that contains a mount point is EBUSY
#     (mounts are keyed by path), where Linux would move the mount along.

from __future__ import annotations

from .errors import KernelError
from .fstypes import (
    PATH_MAX,
    ROOT,
    Cred,
    DirEntry,
    FileKind,
)
from .vfs_core import vfs_op
from .vfs_reads import VfsReads
from .walker import Loc as _Loc
from .walker import R, W, X
from .walker import Resolved as _Resolved
from .walker import check_path as _check_path
from .walker import join_path as _join

__all__ = ["VfsNamespace"]

_DIR = FileKind.DIRECTORY


class VfsNamespace(VfsReads):
    """Creating, removing and renaming names (directories, links, files)."""

    @vfs_op
    def mkdir(
        self,
        path: str,
        mode: int = 0o755,
        recursive: bool = False,
        *,
        cwd: str = "/",
        cred: Cred = ROOT,
    ) -> None:
        """Create a directory; `recursive` behaves like mkdir -p.

        Raises: EEXIST (exists; with recursive only if not a directory),
        ENOENT, ENOTDIR, EACCES, EROFS, ENOSPC, ENAMETOOLONG, ELOOP.
        """
        if recursive:
            _check_path(path)
            prefix = "/" if path.startswith("/") else ""
            comps = [c for c in path.split("/") if c]
            for i, comp in enumerate(comps):
                prefix = (
                    prefix + comp
                    if (not prefix or prefix.endswith("/"))
                    else prefix + "/" + comp
                )
                if comp in (".", ".."):
                    continue
                try:
                    self.mkdir(prefix, mode, cwd=cwd, cred=cred)
                except KernelError as exc:
                    if exc.errno != "EEXIST":
                        raise
                    if not self.stat(prefix, cwd=cwd, cred=cred).is_dir:
                        if i < len(comps) - 1:
                            raise KernelError.enotdir(prefix) from None
                        raise
            return
        r = self._walk(path, cwd, cred, False)
        if r.loc is not None:
            raise KernelError.eexist()
        parent = self._modifiable_parent(r, cred)
        parent.mount.fs.mkdir(parent.node, r.name, mode & 0o7777, *cred.new_owner)

    def _removable(
        self,
        path: str,
        cwd: str,
        cred: Cred,
        want_dir: bool | None = None,
    ) -> tuple[_Resolved, _Loc, _Loc]:
        r = self._walk(path, cwd, cred, False)
        loc = r.loc
        if loc is None:
            raise KernelError.enoent()
        if want_dir is True and loc.kind is not _DIR:
            raise KernelError.enotdir()
        if want_dir is False and loc.kind is _DIR:
            raise KernelError.eisdir()
        if r.parent is None:
            raise KernelError.ebusy(message="cannot remove the root directory")
        if r.name is None:
            raise KernelError.einval(message="path ends in '.' or '..'")
        if self._mounts.covers(loc.path):
            raise KernelError.ebusy(message="mount point")
        parent = self._modifiable_parent(r, cred)
        self._sticky_ok(parent, loc, cred)
        return r, parent, loc

    @vfs_op
    def rmdir(self, path: str, *, cwd: str = "/", cred: Cred = ROOT) -> None:
        """Raises: ENOENT, ENOTDIR, ENOTEMPTY, EBUSY (mount point or '/'),
        EINVAL ('.'), EACCES, EPERM (sticky), EROFS."""
        _, parent, loc = self._removable(path, cwd, cred, want_dir=True)
        parent.mount.fs.rmdir(parent.node, loc.name)

    @vfs_op
    def unlink(self, path: str, *, cwd: str = "/", cred: Cred = ROOT) -> None:
        """Remove a non-directory.  Raises: ENOENT, EISDIR, ENOTDIR, EACCES,
        EPERM (sticky), EROFS, EBUSY."""
        _, parent, loc = self._removable(path, cwd, cred, want_dir=False)
        parent.mount.fs.unlink(parent.node, loc.name)

    @vfs_op
    def remove_tree(
        self, path: str, missing_ok: bool = False, *, cwd: str = "/", cred: Cred = ROOT
    ) -> None:
        """rm -rf: remove `path` and everything below it (a final symlink is
        removed, not followed).  Never crosses into a mount: EBUSY if `path`
        is or contains a mount point (nothing is removed then).

        Raises: ENOENT (unless missing_ok), EBUSY, EACCES, EPERM, EROFS, EINVAL.
        """
        try:
            _, parent, loc = self._removable(path, cwd, cred)
        except KernelError as exc:
            if exc.errno == "ENOENT" and missing_ok:
                return
            raise
        fs = loc.mount.fs
        if loc.kind is not _DIR:
            fs.unlink(parent.node, loc.name)
            return
        # Iterative post-order: (dir loc, entries still to visit).
        stack: list[tuple[_Loc, list[DirEntry]]] = [(loc, [])]
        self._require(loc, cred, R | W | X)
        stack[0][1].extend(fs.readdir(loc.node))
        while stack:
            dloc, entries = stack[-1]
            if not entries:
                stack.pop()
                if stack:
                    fs.rmdir(stack[-1][0].node, dloc.name)
                continue
            e = entries.pop()
            if e.kind is _DIR:
                child = fs.lookup(dloc.node, e.name)
                if child is not None and child.kind is _DIR:
                    cloc = _Loc(e.name, _join(dloc.path, e.name), dloc.mount, child)
                    self._require(cloc, cred, R | W | X)
                    stack.append((cloc, list(fs.readdir(child))))
                    continue
            if cred.uid != 0:
                child = fs.lookup(dloc.node, e.name)
                if child is not None:
                    self._sticky_ok(dloc, _Loc(e.name, "", dloc.mount, child), cred)
            fs.unlink(dloc.node, e.name)
        fs.rmdir(parent.node, loc.name)

    @vfs_op
    def rename(self, old: str, new: str, *, cwd: str = "/", cred: Cred = ROOT) -> None:
        """POSIX rename.

        Raises: ENOENT, EXDEV (different mounts), EBUSY (mount points, '/'),
        EINVAL (dir into its own subtree, '.'/'..'), EISDIR, ENOTDIR,
        ENOTEMPTY, EACCES, EPERM (sticky), EROFS.
        """
        ro, src, old_parent = self._removable_for_rename(old, cwd, cred)
        rn = self._walk(new, cwd, cred, False)
        if rn.parent is None or rn.name is None:
            raise (
                KernelError.ebusy(new) if rn.parent is None else KernelError.einval(new)
            )
        new_parent = rn.parent
        if new_parent.mount is not old_parent.mount:
            raise KernelError.exdev(new, "rename across mounts")
        new_path = rn.child_path()
        if (ro.trailing or rn.trailing) and src.kind is not _DIR:
            raise KernelError.enotdir()
        if src.kind is _DIR and (
            new_path == src.path or new_path.startswith(src.path + "/")
        ):
            raise KernelError.einval(new, "cannot move a directory into itself")
        fs = src.mount.fs
        dst = rn.loc
        if dst is not None:
            if self._mounts.covers(dst.path):
                raise KernelError.ebusy(new, "mount point")
            if fs.same_node(src.node, dst.node):
                return
        self._writable_mount(new_parent)
        self._require(new_parent, cred, W | X)
        if dst is not None:
            self._sticky_ok(new_parent, dst, cred)
        fs.rename(old_parent.node, src.name, new_parent.node, rn.name)

    def _removable_for_rename(
        self, old: str, cwd: str, cred: Cred
    ) -> tuple[_Resolved, _Loc, _Loc]:
        try:
            r, parent, loc = self._removable(old, cwd, cred)
        except KernelError as exc:
            if exc.path is None:
                exc.path = old
            raise
        return r, loc, parent

    def symlink(
        self, target: str, path: str, *, cwd: str = "/", cred: Cred = ROOT
    ) -> None:
        """Create `path` as a symlink holding `target` (not checked to exist).

        Raises: EEXIST, ENOENT (empty target or missing parent), EINVAL (NUL),
        ENAMETOOLONG, EACCES, EROFS, ENOSPC.
        """
        with self._lock:
            try:
                if not target:
                    raise KernelError.enoent(message="empty symlink target")
                if "\0" in target:
                    raise KernelError.einval(message="symlink target contains NUL")
                if len(target.encode("utf-8", "surrogateescape")) >= PATH_MAX:
                    raise KernelError.enametoolong()
                r = self._walk(path, cwd, cred, False)
                if r.loc is not None:
                    raise KernelError.eexist()
                if r.trailing:
                    raise KernelError.enoent()
                parent = self._modifiable_parent(r, cred)
                parent.mount.fs.symlink(parent.node, r.name, target, *cred.new_owner)
            except KernelError as exc:
                if exc.path is None and "\0" not in path:
                    exc.path = path
                raise

    @vfs_op
    def link(self, old: str, new: str, *, cwd: str = "/", cred: Cred = ROOT) -> None:
        """Hard link (a final symlink in `old` is not followed).

        Raises: ENOENT, EEXIST, EPERM (directories), EXDEV (different mounts),
        EACCES, EROFS, EMLINK, ENOSPC.
        """
        src = self._existing(old, cwd, cred, False)
        if src.kind is _DIR:
            raise KernelError.eperm(old, "hard links to directories are not allowed")
        rn = self._walk(new, cwd, cred, False)
        if rn.loc is not None:
            raise KernelError.eexist(new)
        if rn.trailing:
            raise KernelError.enoent(new)
        if rn.parent is None or rn.parent.mount is not src.mount:
            raise KernelError.exdev(new, "link across mounts")
        parent = self._modifiable_parent(rn, cred)
        parent.mount.fs.link(src.node, parent.node, rn.name)
