"""fetch.py through its public functions, with a fake `npm` on PATH."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from agentvm_sidecar.software import PINS, Pin, software_dir
from agentvm_sidecar.software.fetch import FetchError, fetch_pin, integrity_of

FAKE_NPM = """#!/bin/sh
# fake npm: `npm pack SPEC --pack-destination DIR --silent` copies a prepared tarball
echo "$@" >> "$FAKE_NPM_LOG"
cp "$FAKE_NPM_SOURCE" "$4/$FAKE_NPM_NAME"
"""


def make_tgz(path: Path, members: list[tarfile.TarInfo], bodies: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as tf:
        for info in members:
            body = bodies.get(info.name)
            tf.addfile(info, io.BytesIO(body) if body is not None else None)


def regular(name: str, body: bytes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(body)
    return info, body


@pytest.fixture
def fake_npm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Put a fake npm first on PATH; returns the file it logs its calls to."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    npm = bin_dir / "npm"
    npm.write_text(FAKE_NPM)
    npm.chmod(npm.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / "npm.log"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_NPM_LOG", str(log))
    return log


def serve(monkeypatch: pytest.MonkeyPatch, source: Path, pin: Pin) -> None:
    monkeypatch.setenv("FAKE_NPM_SOURCE", str(source))
    monkeypatch.setenv("FAKE_NPM_NAME", pin.tarball_name)


def test_already_fetched_pins_need_no_npm(fake_npm: Path) -> None:
    for pin in PINS:
        if not (software_dir() / pin.tarball_name).exists():
            message = f"{pin.tarball_name} missing from {software_dir()}; run `make setup`"
            pytest.fail(message, pytrace=False)
        assert fetch_pin(pin, software_dir()) is False
    assert not fake_npm.exists()


def test_good_tarball_is_verified_extracted_and_then_left_alone(
    tmp_path: Path, fake_npm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "demo.tgz"
    info, body = regular("package/dist/package.aospkg", b"\x89AOS container")
    make_tgz(source, [info], {info.name: body})
    pin = Pin("demo", "1.0.0", integrity_of(source))
    serve(monkeypatch, source, pin)
    dest = tmp_path / "software"
    dest.mkdir()
    assert fetch_pin(pin, dest) is True
    assert (dest / "demo-1.0.0.aospkg").read_bytes() == body
    assert fetch_pin(pin, dest) is False
    calls = fake_npm.read_text().splitlines()
    assert calls == [f"pack @agentos-software/demo@1.0.0 --pack-destination {dest} --silent"]


def test_integrity_mismatch_fails_loudly_and_deletes_the_tarball(
    tmp_path: Path, fake_npm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "demo.tgz"
    info, body = regular("package/dist/package.aospkg", b"tampered")
    make_tgz(source, [info], {info.name: body})
    pin = Pin("demo", "1.0.0", "sha512-" + "A" * 86 + "==")
    serve(monkeypatch, source, pin)
    dest = tmp_path / "software"
    dest.mkdir()
    with pytest.raises(FetchError, match="integrity mismatch"):
        fetch_pin(pin, dest)
    assert list(dest.iterdir()) == []


@pytest.mark.parametrize("kind", ["symlink", "missing", "duplicate"])
def test_tarball_without_exactly_one_regular_container_is_refused(
    tmp_path: Path, fake_npm: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    name = "package/dist/package.aospkg"
    if kind == "symlink":
        link = tarfile.TarInfo(name)
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        members, bodies = [link], {}
    elif kind == "missing":
        info, body = regular("package/dist/other.aospkg", b"x")
        members, bodies = [info], {info.name: body}
    else:
        info, body = regular(name, b"x")
        members, bodies = [info, info], {name: body}
    source = tmp_path / "demo.tgz"
    make_tgz(source, members, bodies)
    pin = Pin("demo", "1.0.0", integrity_of(source))
    serve(monkeypatch, source, pin)
    dest = tmp_path / "software"
    dest.mkdir()
    with pytest.raises(FetchError, match="single regular file"):
        fetch_pin(pin, dest)
    assert not (dest / "demo-1.0.0.aospkg").exists()
