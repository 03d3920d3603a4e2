"""The recipe framework and agentvm-cc's command lines, without building a real
package: Debian downloads verified by SHA-256 (against a loopback server),
dpkg-source style unpacking with patches in series order, the input key, the
cached build, make's config.h answers."""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
import tarfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from agentvm_sidecar.software.build_cache import BUILD_CACHE_ENV
from agentvm_sidecar.software.cc import cc_argv, compat_archive, compat_key, shell_driver
from agentvm_sidecar.software.cc.driver import LINK_LIBRARIES, links
from agentvm_sidecar.software.paths import software_dir
from agentvm_sidecar.software.recipes import (
    BuildContext,
    DebianSource,
    Recipe,
    RecipeError,
    build_recipe,
    built_recipe,
    debian,
    recipe_key,
)
from agentvm_sidecar.software.recipes import recipe as recipe_module
from agentvm_sidecar.software.recipes.gnu_make import config_h
from tests.net.host_server import serving

HELLO = b"hello\n"
FIX = b"""--- a/hello.txt
+++ b/hello.txt
@@ -1 +1 @@
-hello
+hello, patched
"""


def _tar(members: dict[str, bytes], compression: str = "gz") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=f"w:{compression}") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _source(files: dict[str, bytes]) -> DebianSource:
    return DebianSource(
        package="demo", version="1.0-1", format="3.0 (quilt)",
        files={name: hashlib.sha256(data).hexdigest() for name, data in files.items()},
    )


DEMO_FILES = {
    "demo_1.0.orig.tar.gz": _tar({"demo-1.0/hello.txt": HELLO}),
    "demo_1.0-1.debian.tar.xz": _tar(
        {"debian/patches/series": b"# Debian's\nfix.patch\n", "debian/patches/fix.patch": FIX}, "xz"
    ),
}


@pytest.fixture
def pool(monkeypatch):
    """A loopback HTTP server standing in for deb.debian.org's pool; ``served``
    maps a file name to the bytes it answers with."""
    served: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            data = served.get(self.path.rsplit("/", 1)[-1])
            self.send_response(200 if data is not None else 404)
            self.send_header("Content-Length", str(len(data or b"")))
            self.end_headers()
            self.wfile.write(data or b"")

        def log_message(self, *args):
            pass

    with serving(ThreadingHTTPServer(("127.0.0.1", 0), Handler)) as port:
        monkeypatch.setattr(debian, "DEBIAN_POOL", f"http://127.0.0.1:{port}/pool")
        yield served


def test_a_download_with_the_wrong_hash_is_refused_and_not_kept(pool, tmp_path):
    source = _source(DEMO_FILES)
    pool.update(DEMO_FILES)
    pool["demo_1.0.orig.tar.gz"] = b"tampered"
    with pytest.raises(RecipeError):
        debian.fetch_source(source, tmp_path)
    assert not (tmp_path / "sources" / "demo_1.0.orig.tar.gz").exists()
    assert not list((tmp_path / "sources").glob(".*part"))


def test_verified_files_are_fetched_once(pool, tmp_path):
    source = _source(DEMO_FILES)
    pool.update(DEMO_FILES)
    downloads = debian.fetch_source(source, tmp_path)
    assert sorted(p.name for p in downloads.iterdir()) == sorted(DEMO_FILES)
    pool.clear()  # a second fetch needs no server
    debian.fetch_source(source, tmp_path)


def test_unpacking_applies_the_series_patches(tmp_path):
    downloads = tmp_path / "sources"
    downloads.mkdir()
    for name, data in DEMO_FILES.items():
        (downloads / name).write_bytes(data)
    (tmp_path / "src").mkdir()
    tree = debian.unpack_source(_source(DEMO_FILES), downloads, tmp_path / "src")
    assert (tree / "hello.txt").read_bytes() == b"hello, patched\n"


def test_a_patch_that_does_not_apply_is_a_recipe_error(tmp_path):
    (tmp_path / "hello.txt").write_bytes(b"something else\n")
    with pytest.raises(RecipeError):
        debian.apply_patch(tmp_path, FIX, name="fix")


def _demo_recipe(calls: list[str]) -> Recipe:
    def build(ctx: BuildContext) -> None:
        calls.append(ctx.recipe.name)
        (ctx.out / "demo.wasm").write_bytes(b"\0asm\1\0\0\0" + (ctx.tree / "hello.txt").read_bytes())

    return Recipe(name="demo", source=_source(DEMO_FILES), commands={"demo": "demo", "demo2": "demo"}, build=build)


@pytest.fixture
def software(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A software directory with the demo sources fetched and today's compat
    archive (copied when the real software directory has it: building it is slow),
    and a build cache of its own."""
    monkeypatch.setenv(BUILD_CACHE_ENV, str(tmp_path / "build-cache"))
    sources = tmp_path / "sources"
    sources.mkdir()
    for name, data in DEMO_FILES.items():
        (sources / name).write_bytes(data)
    existing = software_dir() / "cc" / f"libagentvm-compat-{compat_key()}.a"
    if existing.is_file():
        (tmp_path / "cc").mkdir()
        shutil.copy(existing, tmp_path / "cc" / existing.name)
    return tmp_path


def test_a_recipe_builds_once_for_its_inputs(software):
    calls: list[str] = []
    demo = _demo_recipe(calls)
    assert built_recipe(demo, software) is None
    assert build_recipe(demo, software, progress=lambda _: None) is True
    built = built_recipe(demo, software)
    assert built is not None and set(built) == {"demo", "demo2"}
    assert built["demo"].read_bytes().endswith(b"hello, patched\n")
    assert build_recipe(demo, software, progress=lambda _: None) is False
    assert calls == ["demo"]


def test_a_build_in_the_machines_cache_serves_another_software_directory(software, tmp_path):
    calls: list[str] = []
    demo = _demo_recipe(calls)
    assert build_recipe(demo, software, progress=lambda _: None) is True
    other = tmp_path / "other-checkout"
    shutil.copytree(software / "sources", other / "sources")
    assert build_recipe(demo, other, progress=lambda _: None) is False  # copied, not built
    built = built_recipe(demo, other)
    assert built is not None and built["demo"].read_bytes().endswith(b"hello, patched\n")
    assert calls == ["demo"]


def test_a_build_that_makes_no_module_installs_nothing(software):
    def build(ctx: BuildContext) -> None:
        pass

    empty = Recipe(name="empty", source=_source(DEMO_FILES), commands={"empty": "empty"}, build=build)
    with pytest.raises(RecipeError):
        build_recipe(empty, software, progress=lambda _: None)
    assert built_recipe(empty, software) is None
    assert not list((software / "modules").glob("empty-*"))


def test_the_key_changes_with_our_patches(monkeypatch, tmp_path):
    demo = _demo_recipe([])
    monkeypatch.setattr(recipe_module, "PATCHES_DIR", tmp_path)
    before = recipe_key(demo)
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "0001-x.patch").write_bytes(FIX)
    assert recipe_key(demo) != before


def test_make_config_h_defines_only_what_it_answers():
    template = "#undef HAVE_POSIX_SPAWN\n#undef HAVE_WORKING_FORK\n#ifndef _GNU_SOURCE\n# undef _GNU_SOURCE\n#endif\n"
    assert config_h(template).splitlines() == [
        "#define HAVE_POSIX_SPAWN 1",
        "#undef HAVE_WORKING_FORK",
        "#ifndef _GNU_SOURCE",
        "#define _GNU_SOURCE 1",
        "#endif",
    ]


@pytest.mark.parametrize(
    ("args", "linking"),
    [
        (["a.c", "-o", "a"], True),
        (["a.o", "b.o", "-lm", "-o", "prog"], True),
        (["-c", "a.c"], False),
        (["-E", "a.c"], False),
        (["-MM", "a.c"], False),
        (["--version"], False),
        (["-print-search-dirs"], False),
        ([], False),
    ],
)
def test_the_driver_links_the_archive_only_when_linking(args, linking, tmp_path):
    assert links(args) is linking
    command = cc_argv(args, tmp_path / "compat.a")
    assert ("-Wl,--whole-archive" in command) is linking
    if not linking:  # the caller's arguments come last, untouched
        assert command[len(command) - len(args):] == args


@pytest.mark.parametrize(
    "args",
    [["a.c", "-o", "a"], ["-c", "a.c", "-o", "a.o"], ["-E", "a.c"], ["--version"], ["x y.c", "-DQ='1'"], []],
)
def test_the_shell_driver_runs_what_the_python_driver_would(args, tmp_path):
    archive = tmp_path / "compat.a"
    echo = tmp_path / "zig"  # prints its arguments instead of compiling
    echo.write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    echo.chmod(0o755)
    script = tmp_path / "agentvm-cc"
    script.write_text(shell_driver(archive, echo))
    script.chmod(0o755)
    ran = subprocess.run([str(script), *args], capture_output=True, text=True, check=True, timeout=60)
    assert ran.stdout.splitlines() == cc_argv(args, archive)[1:]


def test_the_compat_archive_comes_whole_before_the_inputs_and_libraries_after(tmp_path):
    archive = tmp_path / "compat.a"
    command = cc_argv(["main.o", "-o", "prog"], archive)
    start = command.index("-Wl,--whole-archive")
    assert command[start + 1 : start + 3] == [str(archive), "-Wl,--no-whole-archive"]
    assert command.index("main.o") > start
    assert command[-len(LINK_LIBRARIES):] == list(LINK_LIBRARIES)


def test_the_compat_archive_is_built_once_per_key(tmp_path):
    archive = compat_archive(software_dir())
    assert archive.name == f"libagentvm-compat-{compat_key()}.a"
    assert compat_archive(software_dir()) == archive
