"""Compile every module of the /bin layer ahead of first use:
`python -m agentvm_sidecar.software.warm`.

The module cache (wasm/module_cache.py) keeps compiled /bin modules on disk, keyed
by their SHA-256, but fills itself lazily: without this step the first `python3` of
a machine would wait for CPython's 26 MB module to compile. `make setup` runs it
after fetching, so first use after setup only loads. Modules already on disk are
skipped (a warm machine does nothing but check), the rest compile largest first on
up to ``MAX_WORKERS`` threads (wasmtime compiles with the GIL released and splits
a module's functions over cores itself), with progress on stderr.
"""

from __future__ import annotations

import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed

from ..logs import configure_logging
from ..wasm.module_cache import shared_module_cache
from .layer import BinLayer, shared_bin_layer
from .library import SoftwareMissingError

__all__ = ["MAX_WORKERS", "main", "modules_to_warm"]

MAX_WORKERS = 2


def modules_to_warm(layer: BinLayer) -> dict[str, tuple[memoryview, list[str]]]:
    """Each distinct module of ``layer`` by SHA-256, with the command names it serves."""
    found: dict[str, tuple[memoryview, list[str]]] = {}
    root = layer.fs.root()
    for info in layer.listing:
        node = layer.fs.lookup(root, info.name)
        entry = layer.modules.get(layer.fs.getattr(node).ino) if node is not None else None
        if entry is not None:
            sha256, module = entry
            found.setdefault(sha256, (module, []))[1].append(info.name)
    return found


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns the process exit status."""
    del argv  # no options
    configure_logging()
    cache = shared_module_cache()
    try:
        modules = modules_to_warm(shared_bin_layer())
    except SoftwareMissingError as exc:
        print(f"cannot warm the module cache: {exc}", file=sys.stderr)
        return 1
    todo = sorted(
        (sha for sha in modules if not cache.path_for(sha).is_file()),
        key=lambda sha: -len(modules[sha][0]),
    )
    if not todo:
        print(f"module cache warm: {len(modules)} modules in {cache.cache_dir}", file=sys.stderr)
        return 0
    total = sum(len(modules[sha][0]) for sha in todo)
    print(f"compiling {len(todo)} of {len(modules)} modules ({total / 1e6:.1f} MB) into {cache.cache_dir}",
          file=sys.stderr)
    started = time.monotonic()

    def compile_one(sha: str) -> float:
        began = time.monotonic()
        cache.get(modules[sha][0], sha256=sha)
        return time.monotonic() - began

    workers = max(1, min(MAX_WORKERS, os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(compile_one, sha): sha for sha in todo}
        for done, future in enumerate(as_completed(futures), 1):
            sha = futures[future]
            module, names = modules[sha]
            print(f"  [{done}/{len(todo)}] {' '.join(sorted(names)[:4])}{' ...' if len(names) > 4 else ''} "
                  f"({len(module) / 1e6:.1f} MB) in {future.result():.1f} s", file=sys.stderr)
    print(f"module cache warm after {time.monotonic() - started:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
