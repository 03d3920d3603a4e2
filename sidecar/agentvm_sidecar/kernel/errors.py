# The kernel's single error type.
#
# Every failure inside the kernel is a KernelError carrying a POSIX errno *name*
# ("ENOENT"), a human message and, where it helps, the VM path involved.  The
# errno name is the contract: callers (WASI preview1, the host ABI, the wire
# dispatcher) switch on `.errno`, never on message text or on a subclass.  This
# follows agent-os' `code()` errors and h11's one-error-family rule; the wire
# layer turns it into `ErrorData{kind, errno}` at exactly one point.
#
# Named constructors (`KernelError.enoent(path)`) keep wording consistent and
# are the only place an errno is chosen for a given situation.
#
# ERRNO_NUMBERS gives the Linux numbering for the names we use.  WASI preview1
# has its own numbering; the WASI layer maps names to that table itself.
#
# Host errors (hostfs) are converted with `KernelError.from_oserror`, which
# deliberately drops the host filename: a guest must not learn host paths.

from __future__ import annotations

import errno as _errno

__all__ = ["ERRNO_NUMBERS", "KernelError"]

# Linux x86_64/aarch64 (asm-generic) numbers; identical for this subset.
ERRNO_NUMBERS: dict[str, int] = {
    "EPERM": 1,
    "ENOENT": 2,
    "ESRCH": 3,
    "EINTR": 4,
    "EIO": 5,
    "ENXIO": 6,
    "E2BIG": 7,
    "ENOEXEC": 8,
    "EBADF": 9,
    "ECHILD": 10,
    "EAGAIN": 11,
    "ENOMEM": 12,
    "EACCES": 13,
    "EFAULT": 14,
    "EBUSY": 16,
    "EEXIST": 17,
    "EXDEV": 18,
    "ENODEV": 19,
    "ENOTDIR": 20,
    "EISDIR": 21,
    "EINVAL": 22,
    "ENFILE": 23,
    "EMFILE": 24,
    "ENOTTY": 25,
    "ETXTBSY": 26,
    "EFBIG": 27,
    "ENOSPC": 28,
    "ESPIPE": 29,
    "EROFS": 30,
    "EMLINK": 31,
    "EPIPE": 32,
    "ERANGE": 34,
    "EDEADLK": 35,
    "ENAMETOOLONG": 36,
    "ENOSYS": 38,
    "ENOTEMPTY": 39,
    "ELOOP": 40,
    "ENOTSUP": 95,
    "EOPNOTSUPP": 95,
    "ETIMEDOUT": 110,
    "ECONNREFUSED": 111,
    "ECONNRESET": 104,
    "EADDRINUSE": 98,
    "ENOTCONN": 107,
    "ECANCELED": 125,
}

_DEFAULT_MESSAGES: dict[str, str] = {
    "EPERM": "operation not permitted",
    "ENOENT": "no such file or directory",
    "EBADF": "bad file descriptor",
    "EAGAIN": "resource temporarily unavailable",
    "EACCES": "permission denied",
    "EBUSY": "device or resource busy",
    "EEXIST": "file exists",
    "EXDEV": "cross-device link",
    "ENOTDIR": "not a directory",
    "EISDIR": "is a directory",
    "EINVAL": "invalid argument",
    "ENFILE": "too many open files in the VM",
    "EMFILE": "too many open files in the process",
    "EFBIG": "file too large",
    "ENOSPC": "no space left on device",
    "ESPIPE": "illegal seek",
    "EROFS": "read-only file system",
    "EMLINK": "too many links",
    "EPIPE": "broken pipe",
    "ENAMETOOLONG": "file name too long",
    "ENOTEMPTY": "directory not empty",
    "ELOOP": "too many levels of symbolic links",
    "ENOTSUP": "operation not supported",
    "EIO": "input/output error",
}


class KernelError(Exception):
    """A kernel failure identified by a POSIX errno name.

    Attributes:
        errno: the errno name, e.g. ``"ENOENT"``.  Switch on this.
        message: human-readable text (not stable; do not match on it).
        path: the VM path involved, when known.
    """

    __slots__ = ("errno", "message", "path")

    def __init__(
        self, errno: str, message: str | None = None, path: str | None = None
    ) -> None:
        self.errno = errno
        self.message = message or _DEFAULT_MESSAGES.get(errno, errno.lower())
        self.path = path
        super().__init__(errno, self.message, path)

    def __str__(self) -> str:
        if self.path is not None:
            return f"{self.errno}: {self.message}: {self.path}"
        return f"{self.errno}: {self.message}"

    def __repr__(self) -> str:
        return f"KernelError({self.errno!r}, {self.message!r}, path={self.path!r})"

    @property
    def number(self) -> int:
        """The Linux errno number (EIO's if the name is unknown)."""
        return ERRNO_NUMBERS.get(self.errno, ERRNO_NUMBERS["EIO"])

    @classmethod
    def from_oserror(cls, exc: OSError, path: str | None = None) -> KernelError:
        """Translate a host OSError.  The host filename is never included."""
        name = _errno.errorcode.get(exc.errno or 0, "EIO")
        if name == "EWOULDBLOCK":
            name = "EAGAIN"
        return cls(
            name, _DEFAULT_MESSAGES.get(name, exc.strerror or name.lower()), path
        )

    # Named constructors.  Keep one per errno; extra context goes in `message`.
    @classmethod
    def enoent(cls, path: str | None = None, message: str | None = None) -> KernelError:
        return cls("ENOENT", message, path)

    @classmethod
    def eexist(cls, path: str | None = None, message: str | None = None) -> KernelError:
        return cls("EEXIST", message, path)

    @classmethod
    def enotdir(
        cls, path: str | None = None, message: str | None = None
    ) -> KernelError:
        return cls("ENOTDIR", message, path)

    @classmethod
    def eisdir(cls, path: str | None = None, message: str | None = None) -> KernelError:
        return cls("EISDIR", message, path)

    @classmethod
    def eacces(cls, path: str | None = None, message: str | None = None) -> KernelError:
        return cls("EACCES", message, path)

    @classmethod
    def eperm(cls, path: str | None = None, message: str | None = None) -> KernelError:
        return cls("EPERM", message, path)

    @classmethod
    def erofs(cls, path: str | None = None, message: str | None = None) -> KernelError:
        return cls("EROFS", message, path)

    @classmethod
    def eloop(cls, path: str | None = None, message: str | None = None) -> KernelError:
        return cls("ELOOP", message, path)

    @classmethod
    def enametoolong(
        cls, path: str | None = None, message: str | None = None
    ) -> KernelError:
        return cls("ENAMETOOLONG", message, path)

    @classmethod
    def enospc(cls, path: str | None = None, message: str | None = None) -> KernelError:
        return cls("ENOSPC", message, path)

    @classmethod
    def enotempty(
        cls, path: str | None = None, message: str | None = None
    ) -> KernelError:
        return cls("ENOTEMPTY", message, path)

    @classmethod
    def exdev(cls, path: str | None = None, message: str | None = None) -> KernelError:
        return cls("EXDEV", message, path)

    @classmethod
    def einval(cls, path: str | None = None, message: str | None = None) -> KernelError:
        return cls("EINVAL", message, path)

    @classmethod
    def ebusy(cls, path: str | None = None, message: str | None = None) -> KernelError:
        return cls("EBUSY", message, path)

    @classmethod
    def emlink(cls, path: str | None = None, message: str | None = None) -> KernelError:
        return cls("EMLINK", message, path)

    @classmethod
    def efbig(cls, path: str | None = None, message: str | None = None) -> KernelError:
        return cls("EFBIG", message, path)

    @classmethod
    def eio(cls, path: str | None = None, message: str | None = None) -> KernelError:
        return cls("EIO", message, path)

    @classmethod
    def enotsup(
        cls, path: str | None = None, message: str | None = None
    ) -> KernelError:
        return cls("ENOTSUP", message, path)

    @classmethod
    def ebadf(cls, fd: int | None = None, message: str | None = None) -> KernelError:
        if message is None and fd is not None:
            message = f"bad file descriptor {fd}"
        return cls("EBADF", message)

    @classmethod
    def emfile(cls, message: str | None = None) -> KernelError:
        return cls("EMFILE", message)

    @classmethod
    def enfile(cls, message: str | None = None) -> KernelError:
        return cls("ENFILE", message)

    @classmethod
    def eagain(cls, message: str | None = None) -> KernelError:
        return cls("EAGAIN", message)

    @classmethod
    def epipe(cls, message: str | None = None) -> KernelError:
        return cls("EPIPE", message)

    @classmethod
    def espipe(cls, message: str | None = None) -> KernelError:
        return cls("ESPIPE", message)
