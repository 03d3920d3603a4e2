# PathWalker: POSIX pathname resolution over a VM's mount table.
#
# Resolution follows POSIX "Pathname Resolution" (XBD 4.13) the way Linux
# does it:
#  * components split on '/'; '.' is skipped; '..' pops a stack of VM
#    directories, so '..' from a mount root lands on the mount point's parent
#    and '..' at '/' stays at '/'.  The stack is physical: after following a
#    symlink to /a/b, '..' is /a.
#  * symlinks are followed for intermediate components always, and for the
#    final one when `follow` is true or the path ends in '/'; at most
#    SYMLOOP_MAX (40) expansions per resolution, then ELOOP.  Absolute targets
#    restart at the VM root; relative ones continue from the link's directory.
#    Targets are always interpreted in the VM namespace, never the host's:
#    this is what confines host_dir mounts (see hostfs.py).
#  * the path is at most PATH_MAX-1 bytes and each component at most NAME_MAX
#    bytes (ENAMETOOLONG); NUL is EINVAL; "" is ENOENT; a trailing '/'
#    requires a directory (ENOTDIR).
#  * stepping onto a directory whose canonical path is a mount point switches
#    to that mount's root.
#  * search (x) permission is checked on every directory traversed; uid 0
#    bypasses rwx checks.
#
# The walker only reads; it is called under the Vfs lock and keeps no state
# between calls.
#
# XX: no supplementary groups; a cwd is re-resolved on every relative call.

from __future__ import annotations

from typing import Any

from .errors import KernelError
from .fstypes import NAME_MAX, PATH_MAX, SYMLOOP_MAX, Cred, FileKind
from .mounts import Mount, MountTable

__all__ = ["Loc", "PathWalker", "R", "Resolved", "W", "X", "check_path", "join_path"]

_DIR = FileKind.DIRECTORY
_LNK = FileKind.SYMLINK
R, W, X = 4, 2, 1


class Loc:
    """One resolved VM directory or file: canonical path + (mount, node)."""

    __slots__ = ("mount", "name", "node", "path")

    def __init__(self, name: str, path: str, mount: Mount, node: Any) -> None:
        self.name = name
        self.path = path
        self.mount = mount
        self.node = node

    @property
    def kind(self) -> FileKind:
        return self.node.kind


class Resolved:
    """Result of a walk.

    `parent` is the directory holding the final name (None for '/').
    `name` is the final component, or None when the path ended in '.'/'..'
    or was '/' ("dotted").  `loc` is the final object, None if it does not
    exist (then `name` is what would be created in `parent`).
    """

    __slots__ = ("chain", "links", "loc", "name", "parent", "trailing")

    def __init__(
        self, chain: list[Loc], name: str | None, loc: Loc | None, trailing: bool, links: int = 0
    ) -> None:
        self.chain = chain
        self.parent = chain[-1] if chain else None
        self.name = name
        self.loc = loc
        self.trailing = trailing
        self.links = links  # symlinks expanded on the way (walk_on goes on counting)

    def child_path(self) -> str:
        assert self.parent is not None and self.name is not None
        return join_path(self.parent.path, self.name)


def join_path(dir_path: str, name: str) -> str:
    return dir_path + name if dir_path == "/" else dir_path + "/" + name


def check_path(path: str) -> None:
    if not isinstance(path, str):
        raise KernelError.einval(message="path must be a string")
    if not path:
        raise KernelError.enoent(path, "empty path")
    if "\0" in path:
        raise KernelError.einval(None, "path contains a NUL byte")
    if (
        len(path) >= PATH_MAX // 4
        and len(path.encode("utf-8", "surrogateescape")) >= PATH_MAX
    ):
        raise KernelError.enametoolong(None, "path too long")


class PathWalker:
    """Resolves VM paths against a MountTable (see module header)."""

    __slots__ = ("mounts",)

    def __init__(self, mounts: MountTable) -> None:
        self.mounts = mounts

    def root_loc(self) -> Loc:
        m = self.mounts.root()
        return Loc("", "/", m, m.root)

    def may(self, loc: Loc, cred: Cred, want: int) -> bool:
        if cred.uid == 0:
            return True
        mode, uid, gid = loc.mount.fs.access_info(loc.node)
        if cred.uid == uid:
            bits = mode >> 6
        elif cred.gid == gid:
            bits = mode >> 3
        else:
            bits = mode
        return (bits & want) == want

    def require(self, loc: Loc, cred: Cred, want: int) -> None:
        if not self.may(loc, cred, want):
            raise KernelError.eacces(loc.path)

    def walk(self, path: str, cwd: str, cred: Cred, follow: bool) -> Resolved:
        """Resolve `path`.  Raises: ENOENT, ENOTDIR, ELOOP, ENAMETOOLONG, EINVAL, EACCES."""
        # Every guest path goes through this loop (several times per file for
        # `ls -l` or `tar`), so it is written for speed: the permission check
        # (`may`) inlined, no per-component helper calls beyond the lookup.
        check_path(path)
        stack = [self.root_loc()]
        pending = [c for c in reversed(path.split("/")) if c]
        if path[0] != "/":
            # A relative path continues from the cwd: its components are walked
            # first, exactly as the cwd itself would resolve (intermediate
            # components always follow symlinks, as a final cwd component does).
            if not cwd.startswith("/"):
                raise KernelError.einval(cwd, "cwd must be absolute")
            check_path(cwd)
            pending.extend(c for c in reversed(cwd.split("/")) if c)
        return self._resolve(stack, pending, path.endswith("/"), cred, follow, 0)

    def walk_on(self, dir: Resolved, name: str, path: str, cred: Cred, follow: bool) -> Resolved:
        """Resolve ``path``, which is the directory path ``dir`` resolved plus one
        more component ``name`` (neither '.' nor '..'), from ``dir``.

        The same as ``walk(path, ...)``: a walk takes its components one after the
        other, and the directory's last component was followed as an intermediate
        one is (``dir`` must come from a walk with ``follow`` true, or one whose
        result is no symlink); the symlink count goes on from ``dir``'s.
        Raises: as ``walk``.
        """
        check_path(path)
        assert dir.loc is not None
        return self._resolve([*dir.chain, dir.loc], [name], False, cred, follow, dir.links)

    def _resolve(
        self, stack: list[Loc], pending: list[str], trailing: bool, cred: Cred, follow: bool, links: int
    ) -> Resolved:
        """Walk the components ``pending`` (last first) from the directory
        ``stack`` ends with."""
        named = False
        mounts = self.mounts
        multi_mount = len(mounts) > 1
        uid, gid = cred.uid, cred.gid
        cur = stack[-1]
        while pending:
            comp = pending.pop()
            if cur.node.kind is not _DIR:
                raise KernelError.enotdir()
            if comp == ".":
                named = False
                continue
            if comp == "..":
                if len(stack) > 1:
                    stack.pop()
                    cur = stack[-1]
                named = False
                continue
            fs = cur.mount.fs
            if uid:  # search (x) permission on the directory (may(), inlined)
                mode, ouid, ogid = fs.access_info(cur.node)
                if not (mode >> 6 if uid == ouid else mode >> 3 if gid == ogid else mode) & X:
                    raise KernelError.eacces(cur.path)
            if (
                len(comp) > NAME_MAX // 4
                and len(comp.encode("utf-8", "surrogateescape")) > NAME_MAX
            ):
                raise KernelError.enametoolong()
            child = fs.lookup(cur.node, comp)
            if child is None:
                if pending:
                    raise KernelError.enoent()
                return Resolved(stack, comp, None, trailing, links)
            if child.kind is _LNK and (pending or follow or trailing):
                links += 1
                if links > SYMLOOP_MAX:
                    raise KernelError.eloop()
                target = fs.readlink(child)
                if not target:
                    raise KernelError.enoent(message="empty symlink")
                if len(target) >= PATH_MAX:
                    raise KernelError.enametoolong()
                if target[0] == "/":
                    del stack[1:]
                    cur = stack[0]
                parts = [c for c in target.split("/") if c]
                if target.endswith("/"):
                    parts.append(".")
                pending.extend(reversed(parts))
                named = False
                continue
            dir_path = cur.path
            child_path = dir_path + comp if dir_path == "/" else dir_path + "/" + comp
            mount = cur.mount
            if multi_mount and child.kind is _DIR:
                m = mounts.at(child_path)
                if m is not None:
                    mount, child = m, m.root
            cur = Loc(comp, child_path, mount, child)
            stack.append(cur)
            named = True
        if trailing and cur.node.kind is not _DIR:
            raise KernelError.enotdir()
        return Resolved(stack[:-1], cur.name if named else None, cur, trailing, links)

    def existing(self, path: str, cwd: str, cred: Cred, follow: bool) -> Loc:
        r = self.walk(path, cwd, cred, follow)
        if r.loc is None:
            raise KernelError.enoent()
        return r.loc
