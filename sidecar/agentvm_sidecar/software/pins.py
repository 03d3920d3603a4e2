# The guest software agentvm ships: agentOS WASM command packages from npm.
#
# Each pin names an exact version and the npm `integrity` string (sha512 of the
# tarball, base64) measured with `npm pack`. fetch.py refuses any tarball whose
# hash differs, so a republished or tampered package cannot reach a VM. To bump
# a package: run `npm pack @agentos-software/<name>@<version> --json`, copy the
# `integrity` field here, and re-run the software tests.
#
# The order matters: library.py merges commands in this order and a later pin
# wins a name clash, so the single-purpose packages listed after coreutils take
# precedence over its multicall copies.

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["NPM_SCOPE", "PINS", "Pin"]

NPM_SCOPE = "@agentos-software"


@dataclass(frozen=True, slots=True)
class Pin:
    """One pinned npm package of guest commands."""

    name: str
    version: str
    integrity: str

    @property
    def spec(self) -> str:
        """The `npm pack` argument, e.g. "@agentos-software/sed@0.3.4"."""
        return f"{NPM_SCOPE}/{self.name}@{self.version}"

    @property
    def tarball_name(self) -> str:
        """The file name `npm pack` gives the tarball."""
        return f"{NPM_SCOPE[1:]}-{self.name}-{self.version}.tgz"

    @property
    def aospkg_name(self) -> str:
        """The file name fetch.py extracts the container to."""
        return f"{self.name}-{self.version}.aospkg"


PINS: tuple[Pin, ...] = (
    Pin(
        "coreutils",
        "0.3.4",
        "sha512-tGd0gQjUjHnm+5KgOBwidwUtlkKnl9biQuD7X2sZl15VOhYqUJpnyLF33h/nF3r9WtOTclSiLj/dc2xCxmAXnw==",
    ),
    Pin(
        "sed",
        "0.3.4",
        "sha512-J10nZnZmme2SvXK5WMK2unQlOVncMQVUCS20GZB579a2gNoayLJYHGvfJ9a4+42wOHgDKL1u74byWlydCkEyOQ==",
    ),
    Pin(
        "grep",
        "0.3.4",
        "sha512-Bta2Ljl+kCX/3Bjg06Q9N9LPRcf13S92lHRaYG+CeGVDXabIIgkHLUGIQlI1OKuIr7IRAktjgelUAuJnxGFvvw==",
    ),
    Pin(
        "gawk",
        "0.3.4",
        "sha512-NlU6nGxoqIUc1I2zdBHFwH04gE0tBygP2FcBO12VBptty7lbgq1CNLk909jIcSNFEwlm3VRPHeZNkbdVKZ2Ujg==",
    ),
    Pin(
        "findutils",
        "0.3.4",
        "sha512-wjBWE3lkXe70fRj6da1+2MM/7KlPcBRhr2BycvgvAtglOT/0PtabFU9CrDuX3Vm/8acU/8tw35+WeitPOLi9mg==",
    ),
    Pin(
        "diffutils",
        "0.3.4",
        "sha512-a5Do+ERMdHPwT0Vrp35fxSgrsJNK8wCsYX8dOAomH9N+xJyV2Hb7/LLyp7XxqGk9BEjMeA6UhbH5ZY/HAlx5sQ==",
    ),
    # The OpenAI Codex CLI (`codex`, `codex-exec`: one 30 MB wasm32-wasip1 module),
    # run by `session.create` with the "codex" preset (acp/codex.py). Its module
    # is compiled into the disk cache at setup (software/warm.py).
    Pin(
        "codex-cli",
        "0.3.4",
        "sha512-SAw3EOTa90dJLgEVVoE7JJIxHwticzdD9cEM9v00gpxhxC9vdLkeBva6rgWIUB9+qD1JEYBvUCyNkIpD2kT5YQ==",
    ),
    Pin(
        "tar",
        "0.3.5",
        "sha512-hSf6PY4q1luIomFSDgVHxVDDIPdAVZxdgwrQFEYH4aIE6TXX9qatVmzR36uYLWpnFGAZTR6srREGoTnmOGV4Lg==",
    ),
    Pin(
        "gzip",
        "0.3.4",
        "sha512-l7Y/Vwiwsqgna68yYwdNCnUBPGBg5zdmtjEFeG3hnDDFLe/02h17q0gUIqJmDBIAy1q9GoizqcFi7zXO2xygKg==",
    ),
)
