"""The compile helper: ``python <this file> <engine settings as JSON> <lifeline fd>``.

A guest-built wasm module is hostile input to cranelift: a few KB of nested loops
can take a minute and most of a GiB to compile, a 5 MB module of empty functions
several GiB. So the sidecar never compiles one itself; it hands the bytes to this
program in a child process (wasm/compile_helper.py) whose rlimits bound its memory
and CPU time, and which it kills the moment the guest process is killed, times out
or its VM is disposed.

Protocol, one module per helper process (so each compile's memory goes back to the
system when it exits): ``READY`` on stderr once started (the sidecar keeps one
helper warm and sets its limits from that point), then the wasm bytes on stdin
until EOF; on success the output of ``Module.serialize()`` on stdout, which is a
file (a memfd the sidecar maps the module from), and exit 0. Failures are exit
statuses: 2 the bytes are not a valid module, 3 out of memory (Python's
MemoryError; wasmtime's own allocation failures abort, SIGABRT), 4 the artifact
is larger than the file size limit (EFBIG: Python ignores SIGXFSZ). Whatever
else reaches stderr (an abort message) is diagnostics.

The lifeline fd is the read end of a pipe whose write end only the sidecar holds: a
thread waits on it and exits the helper (status 5) when it reads EOF, that is when
the sidecar is gone, however it died, so an orphaned compile never runs on
(wasm/compile_helper.py). The wait costs nothing: cranelift runs with the GIL
released (ctypes), so the thread is scheduled whenever the read returns.

The engine gets the sidecar's ``ENGINE_SETTINGS`` (engine.py) from the command line
and applies them with ``make_config``, the function the sidecar's engine is built
with, so ``Module.deserialize`` there accepts the result (wasmtime checks that the
settings match and refuses an artifact otherwise). Only ``parallel_compilation``
differs: it does not change the artifact, and one thread keeps the helper's CPU
time (charged to the guest) and address space simple.

This file is run as a script and imports nothing from agentvm: importing the
package (structlog, package metadata) would double the helper's start-up.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Mapping

import wasmtime

__all__ = ["EXIT_INVALID_MODULE", "EXIT_ORPHANED", "EXIT_OUT_OF_MEMORY", "EXIT_TOO_LARGE", "READY", "main", "make_config"]

READY = b"R"  # written once the engine is built, before reading the module
EXIT_INVALID_MODULE = 2
EXIT_OUT_OF_MEMORY = 3
EXIT_TOO_LARGE = 4
EXIT_ORPHANED = 5  # nobody can read the result: the sidecar died


def exit_when_orphaned(lifeline: int) -> None:
    """Exit the process at once when ``lifeline`` reads EOF (the sidecar died)."""

    def watch() -> None:
        while os.read(lifeline, 1):
            pass  # the sidecar never writes; a byte would only be noise
        os._exit(EXIT_ORPHANED)

    threading.Thread(target=watch, daemon=True).start()


def make_config(settings: Mapping[str, object]) -> wasmtime.Config:
    """A fresh Config with each of ``settings`` set as the attribute of that name."""
    config = wasmtime.Config()
    for name, value in settings.items():
        setattr(config, name, value)
    return config


def main(settings: Mapping[str, object]) -> int:
    config = make_config(settings)
    config.parallel_compilation = False
    engine = wasmtime.Engine(config)
    sys.stderr.buffer.write(READY)
    sys.stderr.buffer.flush()
    try:
        wasm = sys.stdin.buffer.read()
        if not wasm:
            return EXIT_INVALID_MODULE  # the sidecar went away before handing over work
        artifact = wasmtime.Module(engine, wasm).serialize()
    except MemoryError:
        return EXIT_OUT_OF_MEMORY
    except wasmtime.WasmtimeError:
        return EXIT_INVALID_MODULE
    try:
        sys.stdout.buffer.write(artifact)
        sys.stdout.buffer.flush()
    except OSError:  # EFBIG beyond RLIMIT_FSIZE
        return EXIT_TOO_LARGE
    return 0


if __name__ == "__main__":
    # os._exit: the sidecar waits for EOF and the exit status, and tearing down
    # the interpreter (freeing the compile's heap object by object) only delays both.
    exit_when_orphaned(int(sys.argv[2]))
    os._exit(main(json.loads(sys.argv[1])))
