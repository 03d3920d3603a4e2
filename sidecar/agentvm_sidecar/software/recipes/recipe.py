"""One build recipe: a pinned source, our patches, build steps, cached modules.

A :class:`Recipe` names a Debian source package, the /bin commands it provides
and a ``build`` function that compiles the unpacked, patched tree with agentvm-cc
into wasm modules. The result is cached in `<software dir>/modules/` as the
directory `<name>-<upstream version>-<key>/` holding one `<module>.wasm` per
module, where the key hashes every input: the source pins, our patch files
(`recipes/patches/<name>/`), the recipe's own module (its build steps), the
compat library (``compat_key``) and zig's version. So setup builds a recipe
once per machine and again only when an input changes; a build is staged in a
temporary directory and renamed into place, so an interrupted one leaves
nothing that looks built.

Build steps run as subprocesses with a bounded time each, their output going to
`<software dir>/build/<name>.log` (named in the error when a step fails).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import inspect
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ..cc import compat_archive, compat_key, zig_executable
from ..cc.compat import CompatBuildError
from ..fetch_modules import modules_dir
from ..paths import SOFTWARE_DIR_ENV
from .debian import DebianSource, RecipeError, apply_patch, fetch_source, unpack_source

__all__ = ["PATCHES_DIR", "BuildContext", "Recipe", "build_recipe", "built_recipe", "recipe_key"]

PATCHES_DIR = Path(__file__).resolve().parent / "patches"
STEP_TIMEOUT_SECONDS = 1800


@dataclass(frozen=True)
class BuildContext:
    """What a recipe's ``build`` function gets: the patched ``tree``, the ``out``
    directory for its modules, how many ``jobs`` it may run, and ``run``."""

    recipe: Recipe
    tree: Path
    out: Path
    jobs: int
    log_path: Path
    progress: Callable[[str], None]
    env: Mapping[str, str] = field(default_factory=dict)

    def run(self, argv: list[str], *, cwd: Path | None = None, env: Mapping[str, str] | None = None) -> None:
        """Run one build step (output appended to the log). Raises: RecipeError."""
        with self.log_path.open("ab") as log:
            log.write(f"\n$ {' '.join(argv)}\n".encode())
            log.flush()
            try:
                result = subprocess.run(
                    argv, cwd=cwd or self.tree, env={**self.env, **(env or {})}, stdin=subprocess.DEVNULL,
                    stdout=log, stderr=subprocess.STDOUT, timeout=STEP_TIMEOUT_SECONDS, check=False,
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise RecipeError(f"{self.recipe.name}: {argv[0]} failed: {exc} (log: {self.log_path})") from exc
        if result.returncode != 0:
            tail = self.log_path.read_text(errors="replace").splitlines()[-25:]
            raise RecipeError(
                f"{self.recipe.name}: `{' '.join(argv[:3])} ...` exited with {result.returncode} "
                f"(log: {self.log_path}):\n" + "\n".join(tail)
            )

    def compile_program(self, sources: list[Path], output: Path, flags: list[str]) -> None:
        """Compile ``sources`` with agentvm-cc on ``jobs`` threads, then link them
        into ``output`` (for programs built without their own build system).
        Raises: RecipeError."""
        cc = self.env["CC"].split()
        # numbered: the link keeps the order of ``sources``, which can matter (gnu_make.py)
        objects = [self.out.parent / "obj" / f"{i:03d}-{source.stem}.o" for i, source in enumerate(sources)]
        objects[0].parent.mkdir(exist_ok=True)
        self.progress(f"compiling {len(sources)} files")
        with ThreadPoolExecutor(max_workers=self.jobs) as pool:
            list(pool.map(lambda pair: self.run([*cc, *flags, "-c", str(pair[0]), "-o", str(pair[1])]),
                          zip(sources, objects, strict=True)))
        self.progress(f"linking {output.name}")
        self.run([*cc, *flags, *map(str, objects), "-o", str(output)])


@dataclass(frozen=True)
class Recipe:
    """A guest program built from source. ``commands`` maps each /bin name to the
    module (file stem in the output directory) that serves it."""

    name: str
    source: DebianSource
    commands: Mapping[str, str]
    build: Callable[[BuildContext], None]
    description: str = ""

    @property
    def version(self) -> str:
        return self.source.upstream_version

    @property
    def patches(self) -> Path:
        return PATCHES_DIR / self.name

    @property
    def modules(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.commands.values())))


def recipe_key(recipe: Recipe) -> str:
    """16 hex digits hashing every input of ``recipe`` (see module header)."""
    digest = hashlib.sha256()
    for name, sha256 in sorted(recipe.source.files.items()):
        digest.update(f"{name}\0{sha256}\0".encode())
    if recipe.patches.is_dir():
        for path in sorted(p for p in recipe.patches.rglob("*") if p.is_file()):
            digest.update(str(path.relative_to(recipe.patches)).encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update(inspect.getsource(sys.modules[recipe.build.__module__]).encode())
    digest.update(compat_key().encode())
    digest.update(importlib.metadata.version("ziglang").encode())
    return digest.hexdigest()[:16]


def _target(recipe: Recipe, software: Path) -> Path:
    return modules_dir(software) / f"{recipe.name}-{recipe.version}-{recipe_key(recipe)}"


def built_recipe(recipe: Recipe, software: Path) -> dict[str, Path] | None:
    """Each command's built module for today's inputs, or None if not built."""
    target = _target(recipe, software)
    paths = {command: target / f"{module}.wasm" for command, module in recipe.commands.items()}
    return paths if all(path.is_file() for path in paths.values()) else None


def build_recipe(
    recipe: Recipe, software: Path, *, jobs: int = 1, progress: Callable[[str], None] | None = None
) -> bool:
    """Fetch, unpack, patch and build ``recipe`` unless built for these inputs.

    Returns True if it was built now, False if it was already there.
    Raises: RecipeError (the message names the step and the log).
    """
    say = progress or (lambda message: print(f"[{recipe.name}] {message}", file=sys.stderr, flush=True))
    target = _target(recipe, software)
    if built_recipe(recipe, software) is not None:
        return False
    started = time.monotonic()
    say(f"fetching {recipe.source.package} {recipe.source.version} from Debian")
    downloads = fetch_source(recipe.source, software)
    try:
        compat_archive(software)  # once, before the build's compiles would race for it
    except CompatBuildError as exc:
        raise RecipeError(f"{recipe.name}: {exc}") from exc
    build_root = software / "build"
    build_root.mkdir(parents=True, exist_ok=True)
    log_path = build_root / f"{recipe.name}.log"
    log_path.write_bytes(b"")
    with tempfile.TemporaryDirectory(dir=build_root, prefix=f".{recipe.name}-") as tmp:
        work = Path(tmp)
        (work / "src").mkdir()
        tree = unpack_source(recipe.source, downloads, work / "src")
        ours = sorted(recipe.patches.glob("*.patch")) if recipe.patches.is_dir() else []
        for patch in ours:
            apply_patch(tree, patch)
        out = work / "out"
        out.mkdir()
        context = BuildContext(
            recipe=recipe, tree=tree, out=out, jobs=max(1, jobs), log_path=log_path, progress=say,
            env=_build_env(software),
        )
        say(f"building {recipe.name} {recipe.version} ({len(ours)} patches of ours, {context.jobs} jobs)")
        recipe.build(context)
        missing = [m for m in recipe.modules if not (out / f"{m}.wasm").is_file()]
        if missing:
            raise RecipeError(f"{recipe.name}: the build made no {', '.join(missing)} module")
        for module in out.iterdir():
            module.chmod(0o644)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(target, ignore_errors=True)
        try:
            out.rename(target)
        except OSError:
            # another setup (a second checkout sharing the software directory)
            # installed the same inputs meanwhile: theirs is as good as ours
            if built_recipe(recipe, software) is None:
                raise
    say(f"built in {time.monotonic() - started:.0f} s: {target}")
    return True


def _build_env(software: Path) -> dict[str, str]:
    """The environment of every build step: CC, AR and RANLIB are agentvm's, and
    agentvm-cc links the archive of this software directory."""
    zig = str(zig_executable())
    return {
        **os.environ,
        SOFTWARE_DIR_ENV: str(software),
        "CC": f"{sys.executable} -m agentvm_sidecar.software.cc",
        "AR": f"{zig} ar",
        "RANLIB": f"{zig} ranlib",
        "LC_ALL": "C",
    }
