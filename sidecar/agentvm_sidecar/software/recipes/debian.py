"""Debian source packages (bookworm), fetched straight from the archive's pool.

A recipe pins a source package by the file names and SHA-256 digests its .dsc
lists (and the .dsc's own digest), so the download is exactly what Debian ships
and nothing needs apt or a deb-src entry. Files are cached under
`<software dir>/sources/` and re-verified on every use; a wrong or truncated
download is deleted and reported, never unpacked.

Unpacking follows dpkg-source: the .orig tarball, then for format "1.0" the
.diff.gz applied with -p1, for "3.0 (quilt)" the debian/ tarball and the
patches its debian/patches/series lists, in order. Patches are applied with the
host's `patch`, the one host tool the recipes need besides `sh` and `make`.
"""

from __future__ import annotations

import gzip
import shutil
import subprocess
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ..fetch_modules import sha256_of

__all__ = ["DEBIAN_POOL", "DebianSource", "RecipeError", "apply_patch", "fetch_source", "unpack_source"]

DEBIAN_POOL = "http://deb.debian.org/debian/pool/main"
DOWNLOAD_TIMEOUT_SECONDS = 120
MAX_DOWNLOAD_BYTES = 512 << 20
PATCH_TIMEOUT_SECONDS = 120


class RecipeError(RuntimeError):
    """A recipe could not fetch, verify, unpack or build its source."""


@dataclass(frozen=True)
class DebianSource:
    """One pinned Debian source package: ``files`` maps each file the .dsc lists
    (and the .dsc itself) to its SHA-256."""

    package: str
    version: str  # Debian version, e.g. "2.7.6-7"
    format: str  # the .dsc's Format: "1.0" or "3.0 (quilt)"
    files: dict[str, str]

    @property
    def upstream_version(self) -> str:
        return self.version.split(":")[-1].rsplit("-", 1)[0]

    @property
    def pool_url(self) -> str:
        prefix = self.package[:4] if self.package.startswith("lib") else self.package[0]
        return f"{DEBIAN_POOL}/{prefix}/{self.package}"

    def file_ending(self, *suffixes: str) -> str:
        for name in self.files:
            if name.endswith(suffixes):
                return name
        raise RecipeError(f"{self.package} {self.version} pins no file ending {suffixes}")


def fetch_source(source: DebianSource, software: Path) -> Path:
    """Every pinned file of ``source``, verified, in `<software>/sources/`. Raises: RecipeError."""
    directory = software / "sources"
    directory.mkdir(parents=True, exist_ok=True)
    for name, sha256 in source.files.items():
        target = directory / name
        if target.is_file() and sha256_of(target) == sha256:
            continue
        staged = directory / f".{name}.part"
        url = f"{source.pool_url}/{name}"
        try:
            with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_SECONDS) as response, staged.open("wb") as f:
                size = 0
                while chunk := response.read(1 << 20):
                    size += len(chunk)
                    if size > MAX_DOWNLOAD_BYTES:
                        raise RecipeError(f"{url} is larger than {MAX_DOWNLOAD_BYTES} bytes")
                    f.write(chunk)
        except (OSError, ValueError) as exc:
            staged.unlink(missing_ok=True)
            raise RecipeError(f"downloading {url} failed: {exc}") from exc
        actual = sha256_of(staged)
        if actual != sha256:
            staged.unlink()
            raise RecipeError(f"{url} has sha256 {actual}, pinned {sha256}")
        staged.replace(target)
    return directory


def _extract(archive: Path, dest: Path) -> None:
    try:
        with tarfile.open(archive) as tf:
            # the 'data' filter refuses links out of dest, absolute names and devices
            tf.extractall(dest, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise RecipeError(f"cannot unpack {archive.name}: {exc}") from exc


def apply_patch(tree: Path, patch: Path | bytes, *, strip: int = 1, name: str = "") -> None:
    """Apply one unified diff to ``tree`` with the host's `patch`. Raises: RecipeError."""
    tool = shutil.which("patch")
    if tool is None:
        raise RecipeError("the host has no `patch` command (install it: the recipes apply patches with it)")
    data = patch if isinstance(patch, bytes) else patch.read_bytes()
    label = name or (patch.name if isinstance(patch, Path) else "patch")
    result = subprocess.run(
        [tool, f"-p{strip}", "--batch", "--forward", "--no-backup-if-mismatch", "-d", str(tree)],
        input=data, capture_output=True, timeout=PATCH_TIMEOUT_SECONDS, check=False,
    )
    if result.returncode != 0:
        output = (result.stdout + result.stderr).decode(errors="replace")
        raise RecipeError(f"{label} does not apply:\n{output}")


def unpack_source(source: DebianSource, downloads: Path, dest: Path) -> Path:
    """The source tree with Debian's changes applied, under ``dest``. Raises: RecipeError."""
    orig = downloads / source.file_ending(".orig.tar.gz", ".orig.tar.xz", ".orig.tar.bz2")
    _extract(orig, dest)
    roots = [p for p in dest.iterdir() if p.is_dir()]
    if len(roots) != 1:
        raise RecipeError(f"{orig.name} does not unpack to one directory")
    tree = roots[0]
    if source.format == "1.0":
        diff = downloads / source.file_ending(".diff.gz")
        apply_patch(tree, gzip.decompress(diff.read_bytes()), name=diff.name)
    elif source.format == "3.0 (quilt)":
        _extract(downloads / source.file_ending(".debian.tar.xz", ".debian.tar.gz"), tree)
        series = tree / "debian" / "patches" / "series"
        lines = series.read_text().splitlines() if series.is_file() else []
        for line in lines:
            fields = line.split("#", 1)[0].split()
            if fields:
                strip = int(fields[1][2:]) if len(fields) > 1 and fields[1].startswith("-p") else 1
                apply_patch(tree, tree / "debian" / "patches" / fields[0], strip=strip)
    else:
        raise RecipeError(f"unsupported source format {source.format!r}")
    return tree
