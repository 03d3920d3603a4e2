"""agentvm-cc: a C compiler driver for agentvm guest programs.

`agentvm-cc` (or `python -m agentvm_sidecar.software.cc`) is zig's C compiler for
wasm32-wasi plus agentvm's compatibility library (compat/): headers wasi-libc
lacks (spawn.h, sys/wait.h) or trims (unistd.h, signal.h, stdio.h), and their
implementations over the agentOS ``host_process`` imports that agentvm's kernel
serves. A program built with it can start processes (posix_spawn, popen,
system, exec), wait for them, make pipes and dup fds, and send signals, inside
an agentvm VM. `agentvm-ar` and `agentvm-ranlib` are zig's archiver, for
configure/make builds (``CC=agentvm-cc AR=agentvm-ar RANLIB=agentvm-ranlib``).

- ``compat.py`` builds the library once per input hash into a static archive
  under `<software dir>/cc/`;
- ``driver.py`` turns a cc command line into a zig one (include path and defines
  always, the archive and the wasi emulation libraries when linking).
"""

from .compat import COMPAT_DIR, COMPAT_INCLUDE, compat_archive, compat_key
from .driver import ar_main, cc_argv, main, ranlib_main, shell_driver, zig_executable

__all__ = [
    "COMPAT_DIR",
    "COMPAT_INCLUDE",
    "ar_main",
    "cc_argv",
    "compat_archive",
    "compat_key",
    "main",
    "ranlib_main",
    "shell_driver",
    "zig_executable",
]
