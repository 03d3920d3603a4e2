# openat2(2) with RESOLVE_* flags, for host_dir confinement (hostfs.py).
#
# One call resolves a whole relative path below a directory fd in the kernel,
# refusing symlinks (RESOLVE_NO_SYMLINKS), any escape from the fd's directory
# (RESOLVE_BENEATH), magic links and, with RESOLVE_NO_XDEV, any crossing into
# another mounted filesystem (a host_dir mount of / must not reach /proc). It
# replaces a Python loop of one openat per component, whose cost made deep
# paths quadratic under the VM lock. Linux 5.6+; elsewhere (or under seccomp
# filters that refuse it) `available()` is False and hostfs walks by hand.

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform

__all__ = ["RESOLVE_CONFINED", "available", "openat2"]

_SYSCALL_NUMBERS = {"x86_64": 437, "aarch64": 437, "riscv64": 437}
RESOLVE_NO_XDEV = 0x01
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
RESOLVE_CONFINED = RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
_syscall = _libc.syscall
_syscall.restype = ctypes.c_long
_NUMBER = _SYSCALL_NUMBERS.get(platform.machine()) if platform.system() == "Linux" else None


def openat2(dir_fd: int, path: str, flags: int, resolve: int = RESOLVE_CONFINED) -> int:
    """A new fd for ``path`` below ``dir_fd``. Raises: OSError (ENOSYS when absent)."""
    if _NUMBER is None:
        raise OSError(38, "openat2 is not available")  # ENOSYS
    how = _OpenHow(flags, 0, resolve)
    fd = _syscall(_NUMBER, dir_fd, os.fsencode(path), ctypes.byref(how), ctypes.sizeof(how))
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return fd


def _probe() -> bool:
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
    root = os.open("/", flags)
    try:
        os.close(openat2(root, ".", flags))
    except OSError:
        return False
    finally:
        os.close(root)
    return True


_AVAILABLE = _probe()


def available() -> bool:
    """Whether this kernel (and sandbox) offers openat2 with RESOLVE_* flags."""
    return _AVAILABLE
