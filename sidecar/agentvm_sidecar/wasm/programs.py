"""Finding the program a spawn or exec names, as a compiled module.

POSIX ``execvp``-style lookup, done by the host because the guests pass bare names
(``sleep``, ``grep``) as well as absolute paths (brush passes ``/bin/ls``):
- a name without ``/`` is searched in the child's ``PATH`` (default
  ``/usr/local/bin:/usr/bin:/bin``); a name with ``/`` resolves against the cwd;
- the file must be a wasm module (``\\0asm``) or a ``#!`` script, which runs its
  interpreter with ``[interp, optional-arg, script, args...]`` (nested up to 4 deep);
  a text file without ``#!`` runs with ``/bin/sh``, as bash and execvp do;
- errors: ENOENT (missing), EACCES (not executable by the caller, or a directory),
  ENOEXEC (binary, neither wasm nor a script), EFBIG (over ``max_program_bytes``).

Modules of the shared /bin layer are found by inode without hashing and compiled
(once per machine) here. Other files (a guest-built binary, a host_dir mount) are
hashed to key the module cache; if it does not hold them, the Program carries
their bytes and the process compiles them itself, in a helper process and in its
own time (wasm/guest_modules.py). The sidecar never parses them: even validation
costs memory in proportion to what the module declares (78 MB for 1M empty
functions), so an invalid module is found by the helper and the process exits 126.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import wasmtime

from ..kernel.errors import KernelError
from ..kernel.fstypes import Cred, Stat
from .module_cache import shared_module_cache

if TYPE_CHECKING:
    from ..kernel.kernel import Kernel

__all__ = ["GuestModule", "Program", "resolve_program"]

DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
SCRIPT_SHELL = "/bin/sh"
_WASM_MAGIC = b"\0asm"
_MAX_INTERPRETER_DEPTH = 4
_X_OK = 0o111
_READ_CHUNK = 1 << 20


@dataclass(frozen=True)
class GuestModule:
    """A wasm module (by its magic number only) nobody has compiled yet."""

    sha256: str
    wasm: bytes


@dataclass(frozen=True)
class Program:
    """A resolved executable: its VM path, the argv to run it with, and either its
    compiled ``module`` or, still to compile, its ``source``."""

    path: str
    module: wasmtime.Module | None
    argv: list[str]
    source: GuestModule | None = None


def resolve_program(kernel: Kernel, name: str, argv: list[str], env: dict[str, str], cwd: str, cred: Cred) -> Program:
    """Resolve ``name`` (as exec/spawn would) and compile or fetch its module.

    Raises: KernelError ENOENT, EACCES, ENOEXEC, ELOOP (interpreter chain too deep).
    """
    path, st = _lookup(kernel, name, env.get("PATH", DEFAULT_PATH), cwd, cred)
    for _ in range(_MAX_INTERPRETER_DEPTH):
        layered = kernel.layer_module(st)
        if layered is not None:  # a command of the shared layer: wasm, compiled once per machine
            return Program(path=path, module=_layer_module(path, *layered), argv=argv or [path])
        head = _read_head(kernel, path, cwd, cred)
        if head.startswith(_WASM_MAGIC):
            module, source = _module(kernel, path, cwd, cred)
            return Program(path=path, module=module, argv=argv or [path], source=source)
        if head.startswith(b"#!"):
            line = head[2:].split(b"\n", 1)[0].decode("utf-8", "surrogateescape").strip()
            interp, *opt = line.split(None, 1) or [""]
        elif b"\0" not in head:
            interp, opt = SCRIPT_SHELL, []  # a text file without #!: what bash and execvp do
        else:
            raise KernelError("ENOEXEC", f"{path}: not a wasm module or a script", path=path)
        argv = [interp, *opt, path, *argv[1:]]
        path, st = _lookup(kernel, interp, env.get("PATH", DEFAULT_PATH), cwd, cred)
    raise KernelError.eloop(path, "too many nested #! interpreters")


def _lookup(kernel: Kernel, name: str, search: str, cwd: str, cred: Cred) -> tuple[str, Stat]:
    """The canonical path of the program ``name`` names, and its stat."""
    if not name:
        raise KernelError.enoent(message="empty program name")
    if "/" in name:
        return _check_executable(kernel, name, cwd, cred)
    denied: KernelError | None = None
    for directory in search.split(":"):
        candidate = f"{directory or '.'}/{name}"
        try:
            return _check_executable(kernel, candidate, cwd, cred)
        except KernelError as exc:
            if exc.errno == "EACCES":
                denied = exc
    raise denied or KernelError.enoent(name, "command not found")


def _check_executable(kernel: Kernel, path: str, cwd: str, cred: Cred) -> tuple[str, Stat]:
    real, st = kernel.vfs.resolve(path, cwd=cwd, cred=cred)
    if not st.is_file:
        raise KernelError.eacces(path, "not a regular file")
    if cred.uid != 0 and not st.mode & _X_OK:
        raise KernelError.eacces(path, "not executable")
    return real, st


def _read_head(kernel: Kernel, path: str, cwd: str, cred: Cred) -> bytes:
    with kernel.vfs.open(path, cwd=cwd, cred=cred) as handle:
        return handle.read(256)


def _module(kernel: Kernel, path: str, cwd: str, cred: Cred) -> tuple[wasmtime.Module | None, GuestModule | None]:
    """The compiled module of the guest's program ``path``, or its bytes when they
    still need compiling."""
    data = _read_program(kernel, path, cwd, cred)
    digest = hashlib.sha256(data).hexdigest()
    module = shared_module_cache().lookup(digest, owner=kernel)
    return (module, None) if module is not None else (None, GuestModule(digest, data))


def _layer_module(path: str, digest: str, view: memoryview) -> wasmtime.Module:
    """The shared layer's module (trusted and fixed: compiled here, once per
    machine, kept for good and on disk)."""
    try:
        return shared_module_cache().get(view, sha256=digest)
    except wasmtime.WasmtimeError as exc:
        raise KernelError("ENOEXEC", f"{path}: invalid wasm module", path=path) from exc


def _read_program(kernel: Kernel, path: str, cwd: str, cred: Cred) -> bytes:
    """The bytes of a program file, refused (EFBIG) beyond ``max_program_bytes``.

    Read chunk by chunk, each under the VM lock only for its own read, so loading
    a large program never stalls the VM's other threads (nor, through a sparse
    file, makes the sidecar read gigabytes).
    """
    limit = kernel.limits.max_program_bytes
    with kernel.vfs.open(path, cwd=cwd, cred=cred) as handle:
        size = handle.stat().size
        if size > limit:
            raise KernelError("EFBIG", f"{path}: program of {size} bytes exceeds {limit}", path=path)
        data = bytearray()
        while chunk := handle.read(_READ_CHUNK):
            data += chunk
            if len(data) > limit:
                raise KernelError("EFBIG", f"{path}: program exceeds {limit} bytes", path=path)
    return bytes(data)
