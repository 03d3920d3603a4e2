"""WASI preview1 (``wasi_snapshot_preview1``) implemented over the VM kernel.

Importing this package registers every preview1 function with
:func:`~agentvm_sidecar.wasm.abi.host_function`; ``define_host_functions`` then puts
them in the linker. Never wasmtime's built-in WASI: every call goes through the
kernel's VFS, fd tables and pipes, and preopens are the agentOS tagged hidden fds.

Modules by concern: ``args_env`` (argv, environment), ``clock_random`` (clocks,
random_get, sched_yield), ``fd_ops`` (fd_*), ``path_ops`` (path_*), ``poll``
(poll_oneoff), ``proc`` (proc_exit, proc_raise), ``sock`` (sock_* stubs);
``layouts`` holds the preview1 constants and struct layouts.
"""

from __future__ import annotations

from . import args_env, clock_random, fd_ops, path_ops, poll, proc, sock

__all__ = ["args_env", "clock_random", "fd_ops", "path_ops", "poll", "proc", "sock"]
