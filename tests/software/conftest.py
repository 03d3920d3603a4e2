"""Fixtures for the guest-software tests: the fetched packages, or a clear failure."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from agentvm_sidecar.software import PINS, Pin, SoftwareLibrary, SoftwareMissingError, software_dir


def fetched_aospkg(pin: Pin) -> Path:
    """The extracted container of `pin`, failing (not skipping) when absent."""
    path = software_dir() / pin.aospkg_name
    if not path.is_file():
        pytest.fail(
            f"{path} is missing: guest software is not fetched. Run `make setup` "
            "(or `python -m agentvm_sidecar.software.fetch`) first.",
            pytrace=False,
        )
    return path


def built_command(name: str) -> Path:
    """agentvm's own command `name`, built at setup, failing (not skipping) when absent."""
    from agentvm_sidecar.software.commands.build import built_commands, commands_dir

    module = built_commands().get(name)
    if module is None:
        pytest.fail(
            f"{commands_dir()}/{name}.wasm is missing: run `make setup` (or "
            "`python -m agentvm_sidecar.software.commands.build`) first.",
            pytrace=False,
        )
    return module


@pytest.fixture(scope="session")
def read_fetched() -> Callable[[Pin], bytes]:
    """Read the fetched container of a pin (fails with a `make setup` hint)."""
    return lambda pin: fetched_aospkg(pin).read_bytes()


@pytest.fixture(scope="session")
def pin_by_name() -> dict[str, Pin]:
    return {pin.name: pin for pin in PINS}


@pytest.fixture(scope="session")
def coreutils_bytes(pin_by_name: dict[str, Pin]) -> bytes:
    return fetched_aospkg(pin_by_name["coreutils"]).read_bytes()


@pytest.fixture(scope="session")
def grep_bytes(pin_by_name: dict[str, Pin]) -> bytes:
    return fetched_aospkg(pin_by_name["grep"]).read_bytes()


@pytest.fixture(scope="session")
def library() -> SoftwareLibrary:
    """The real library of the fetched packages (fails with a hint when absent)."""
    lib = SoftwareLibrary()
    try:
        lib.packages()
    except SoftwareMissingError as exc:
        pytest.fail(f"{exc}", pytrace=False)
    return lib
