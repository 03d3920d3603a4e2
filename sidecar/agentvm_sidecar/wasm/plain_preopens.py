"""Preopens for plain WASI programs (standard wasi-libc, Rust std, CPython...).

A plain wasi-libc program finds its directories once, at its first path call
(``__wasilibc_populate_preopens`` in wasi-libc's libc-bottom-half/sources/preopens.c):
it calls ``fd_prestat_get`` on fd 3, 4, 5... and

- stops at the first fd that answers EBADF,
- exits with EX_OSERR on any other error,
- registers a success with tag ``dir`` as a directory prefix,
- skips a success with any other tag (``default: break`` in its switch).

So two things make it behave like a process with inherited fds and a cwd:

1. Inherited fds (``cmd < file`` is fd 0, but ``3<file``, or a script's fds
   passed on by a ``#!`` interpreter, sit at 3 and up) must not end the scan
   nor be taken for directories. The preopens are installed in the lowest free
   fds >= 3, so none comes after a gap, and ``fd_prestat_get`` answers every
   other open fd with the non-dir tag ``NOT_A_PREOPEN`` (WASI defines only tag 0;
   wasi-libc skips the rest), so the scan walks over them.

2. Relative paths must start at the process's cwd, but wasi-libc's own cwd is
   always "/" (it never asks the host) and it strips both "/" and "." to the
   same empty prefix, so "foo" and "/foo" reach the host as the same
   ``(fd, "foo")``. No choice of preopens serves both perfectly; we pick the
   one that serves what coding agents run (``rg foo src/``, ``python3 x.py``):
   the cwd is the catch-all (prefix "."), and each top-level directory of the
   VM (``/tmp``, ``/workspace``, ``/etc``...) is preopened under its absolute
   name, which wasi-libc prefers as the longer match. A top-level name that is
   also an entry of the cwd is left out, so a project's own ``bin/`` or
   ``tmp/`` keeps meaning the project's.
   XX: known gaps of this mapping (documented in the README): the libc reports
   getcwd() as "/"; "/" itself and absolute paths whose first component is not
   a top-level directory at start (or is shadowed by a cwd entry as above)
   resolve under the cwd. With cwd "/" there is one preopen and no gap.

3. A program that exports ``agentvm_absolute_paths`` (``ABSOLUTE_PATHS_EXPORT``)
   says it makes every path absolute before the libc looks for a preopen: it
   links wasi-libc's chdir, whose cwd the compat library sets from $PWD at start
   (software/cc/compat/src/cwd.c). It gets one preopen, "/", and no gap: agentvm's
   `sh` is one (software/commands/sh/main.c), which must open `/tmp/log` as such
   even in a project with its own `tmp/`.

Agent OS programs use tagged preopens instead (context.py) and never get these.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..kernel.descriptions import FileDescription
from ..kernel.errors import KernelError
from ..kernel.fstypes import FileKind, OpenFlags

if TYPE_CHECKING:
    from .context import GuestContext

__all__ = [
    "ABSOLUTE_PATHS_EXPORT", "FIRST_PREOPEN_FD", "NOT_A_PREOPEN", "install_plain_preopens", "plain_preopen_names",
]

FIRST_PREOPEN_FD = 3
# A preopen type WASI does not define: wasi-libc's scan skips the fd and goes on.
NOT_A_PREOPEN = 1
ABSOLUTE_PATHS_EXPORT = "agentvm_absolute_paths"


def plain_preopen_names(ctx: GuestContext) -> list[tuple[str, str]]:
    """(name the libc sees, VM directory) of each preopen, in install order.

    The cwd comes last: wasi-libc prefers the most recently registered of equal
    prefixes, and "." (the catch-all) must not lose to anything but a longer one.
    """
    cwd = ctx.proc.cwd
    if cwd == "/" or ctx.absolute_paths:
        return [("/", "/")]
    vfs, cred = ctx.kernel.vfs, ctx.proc.cred
    try:
        in_cwd = {entry.name for entry in vfs.readdir(cwd, cred=cred)}
    except KernelError:
        in_cwd = set()
    try:
        top = vfs.readdir("/", cred=cred)
    except KernelError:
        top = []
    names = [
        (f"/{entry.name}", f"/{entry.name}")
        for entry in sorted(top, key=lambda e: e.name)
        if entry.kind is FileKind.DIRECTORY and entry.name not in in_cwd
    ]
    return [*names, (".", cwd)]


def install_plain_preopens(ctx: GuestContext) -> None:
    """Open each preopen directory as an ordinary close-on-exec fd (lowest free
    >= 3) and record its name in ``ctx.plain_preopens``. A directory the process
    may not open (e.g. /root for a user) is left out: lookups through it would
    fail anyway."""
    for name, path in plain_preopen_names(ctx):
        try:
            handle = ctx.kernel.vfs.open(path, OpenFlags.READ | OpenFlags.DIRECTORY, cred=ctx.proc.cred)
        except KernelError:
            continue
        fd = ctx.proc.fds.install(FileDescription(handle), lowest=FIRST_PREOPEN_FD, cloexec=True)
        ctx.plain_preopens[fd] = (name, path)
