"""The merged command library over the fetched packages."""

from __future__ import annotations

import hashlib
import json
import mmap
import threading
from pathlib import Path

import pytest

from agentvm_sidecar.software import PINS, Pin, SoftwareLibrary, SoftwareMissingError, software_dir
from agentvm_sidecar.software.mapped import file_with_digest

# every test here needs the fetched packages (the `library` fixture of conftest.py)
pytestmark = pytest.mark.usefixtures("library")


def test_library_merges_all_pinned_packages(library: SoftwareLibrary) -> None:
    commands = library.commands()
    assert library.directory == software_dir()
    assert len(commands) == 131  # no name clashes among today's pins
    assert {"sh", "ls", "sed", "awk", "find", "xargs", "diff", "tar", "gzip", "zcat"} <= set(commands)
    assert commands["sed"].package == "sed"
    assert commands["ls"].package == "coreutils"
    stats = library.statistics()
    assert (stats.loaded, stats.packages, stats.commands, stats.unique_modules) == (True, 9, 131, 111)


def test_command_entries_carry_module_bytes_and_their_digest(library: SoftwareLibrary) -> None:
    for entry in library.commands().values():
        assert entry.path == f"/bin/{entry.name}"
        assert entry.mode == 0o100755
        assert bytes(entry.module[:4]) == b"\0asm"
        assert entry.module.readonly
    sh = library.commands()["sh"]
    assert hashlib.sha256(sh.module).hexdigest() == sh.sha256


def test_module_bytes_are_the_mapped_container_not_a_copy(library: SoftwareLibrary) -> None:
    # 130 MB of containers: mapped, they are the page cache's, shared by every
    # sidecar process, instead of a private copy in each
    for package in library.packages():
        assert isinstance(package.data.obj, mmap.mmap)


def test_an_empty_container_is_refused_as_corrupt(tmp_path: Path) -> None:
    pin = next(p for p in PINS if p.name == "sed")
    (tmp_path / pin.aospkg_name).write_bytes(b"")
    with pytest.raises(SoftwareMissingError, match="corrupt"):
        SoftwareLibrary(tmp_path, [pin]).commands()


def test_digests_kept_beside_a_container_serve_that_very_file_only(tmp_path: Path) -> None:
    pin = next(p for p in PINS if p.name == "sed")
    container = tmp_path / pin.aospkg_name
    container.write_bytes((software_dir() / pin.aospkg_name).read_bytes())
    sed = SoftwareLibrary(tmp_path, [pin]).commands()["sed"]
    real = hashlib.sha256(sed.module).hexdigest()
    assert sed.sha256 == real
    kept = tmp_path / (pin.aospkg_name + ".digests.json")
    doc = json.loads(kept.read_text())
    assert doc["digests"][sed.path] == real
    # the next load takes them as they are (a planted digest shows it is not hashing)
    doc["digests"][sed.path] = "0" * 64
    kept.write_text(json.dumps(doc))
    assert SoftwareLibrary(tmp_path, [pin]).commands()["sed"].sha256 == "0" * 64
    # any write to the container changes its identity (ctime): hashed again
    container.write_bytes(container.read_bytes())
    assert SoftwareLibrary(tmp_path, [pin]).commands()["sed"].sha256 == real


def test_grep_itself_is_absent_from_the_pinned_grep_package(library: SoftwareLibrary) -> None:
    # XX: @agentos-software/grep@0.3.4 ships only egrep/fgrep, which spawn `grep`.
    # If this starts failing, a newer pin fixed it: update the expectation.
    commands = library.commands()
    assert "grep" not in commands
    assert {"egrep", "fgrep"} <= set(commands)


def test_concurrent_first_use_loads_once_and_shares_entries() -> None:
    lib = SoftwareLibrary(software_dir(), PINS[-2:])
    barrier = threading.Barrier(6)
    seen: list[dict[str, object]] = []

    def worker() -> None:
        barrier.wait()
        seen.append(dict(lib.commands()))

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(s["tar"] is seen[0]["tar"] for s in seen)
    assert lib.statistics().packages == 2


def test_a_later_pin_wins_a_command_name_clash(tmp_path: Path) -> None:
    # Forge a second package defining the same commands: the real gzip container
    # with its (length-prefixed) package name changed to one of the same length.
    gzip_pin = next(p for p in PINS if p.name == "gzip")
    data = bytearray((software_dir() / gzip_pin.aospkg_name).read_bytes())
    name_at = 16 + 2 + 1  # header, manifest section version, name length
    assert data[name_at : name_at + 4] == b"gzip"
    data[name_at : name_at + 4] = b"gzap"
    gzap_pin = Pin("gzap", gzip_pin.version, integrity="sha512-unused")
    (tmp_path / gzip_pin.aospkg_name).write_bytes((software_dir() / gzip_pin.aospkg_name).read_bytes())
    (tmp_path / gzap_pin.aospkg_name).write_bytes(data)

    later_gzap = SoftwareLibrary(tmp_path, [gzip_pin, gzap_pin]).commands()
    later_gzip = SoftwareLibrary(tmp_path, [gzap_pin, gzip_pin]).commands()
    assert {later_gzap[c].package for c in ("gzip", "gunzip", "zcat")} == {"gzap"}
    assert {later_gzip[c].package for c in ("gzip", "gunzip", "zcat")} == {"gzip"}


def test_missing_software_raises_with_a_make_setup_hint(tmp_path: Path) -> None:
    lib = SoftwareLibrary(tmp_path)
    with pytest.raises(SoftwareMissingError, match="make setup"):
        lib.commands()
    assert not lib.statistics().loaded


def test_a_container_holding_the_wrong_package_is_refused(tmp_path: Path) -> None:
    sed_pin = next(p for p in PINS if p.name == "sed")
    tar_pin = next(p for p in PINS if p.name == "tar")
    (tmp_path / tar_pin.aospkg_name).write_bytes((software_dir() / sed_pin.aospkg_name).read_bytes())
    with pytest.raises(SoftwareMissingError, match="expected"):
        SoftwareLibrary(tmp_path, [tar_pin]).commands()


def test_a_whole_file_digest_is_kept_and_a_rewritten_file_hashed_again(tmp_path: Path) -> None:
    module = tmp_path / "tool.wasm"
    module.write_bytes(b"\0asm first")
    view, digest = file_with_digest(module)
    assert (bytes(view), digest) == (b"\0asm first", hashlib.sha256(b"\0asm first").hexdigest())
    assert view.readonly
    assert file_with_digest(module)[1] == digest  # from the kept digest
    module.write_bytes(b"\0asm other")  # same size, new ctime
    assert file_with_digest(module)[1] == hashlib.sha256(b"\0asm other").hexdigest()
    with pytest.raises(FileNotFoundError):
        file_with_digest(tmp_path / "missing.wasm")
