"""The coding-agent toolbox of the /bin layer: python3, jq, yq, rg, fd, tree, sqlite3,
and what the build recipes make (make, patch).

Collected from what setup put in `<software dir>/modules`: the fetched module pins
(module_pins.py, re-verified against their pinned SHA-256 here, since the module
cache trusts the digest it is given), the sqlite3 built by sqlite.py, the programs
built by the recipes (recipes/, found by their input key), and the jq/yq wrapper
scripts (wrappers.py). What is missing is left out with one
`toolbox_missing` warning naming the setup step, so a sidecar without the toolbox
still serves the agentOS packages (the quickstart does not need the toolbox).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..logs import get_logger
from .fetch_modules import modules_dir
from .mapped import file_with_digest
from .module_pins import MODULE_PINS, SQLITE_SOURCE
from .paths import software_dir
from .recipes import RECIPES, recipe_commands
from .sqlite import built_sqlite
from .wrappers import WRAPPERS

__all__ = ["ToolboxCommand", "toolbox_commands"]

log = get_logger("software.toolbox")

EXECUTABLE_MODE = 0o755
SETUP_HINT = (
    "run `make setup` (python -m agentvm_sidecar.software.fetch_modules; python -m agentvm_sidecar.software.sqlite;"
    " python -m agentvm_sidecar.software.recipes)"
)


@dataclass(frozen=True, slots=True)
class ToolboxCommand:
    """One /bin entry: a wasm module (``sha256`` set) or a script (``sha256`` None).
    ``version`` is the program's own version where known (CPython 3.12.0)."""

    name: str
    data: memoryview
    sha256: str | None
    package: str
    version: str
    source: str


def toolbox_commands(software: Path | None = None) -> list[ToolboxCommand]:
    """Every toolbox command that setup provided (see module header)."""
    software = software_dir() if software is None else software
    commands: list[ToolboxCommand] = []
    missing: list[str] = []
    for pin in MODULE_PINS:
        try:
            module, digest = file_with_digest(modules_dir(software) / pin.file_name)
        except OSError:
            module, digest = None, None
        if module is None or digest != pin.sha256:
            missing.append(pin.source)
            continue
        commands += [
            ToolboxCommand(name, module, pin.sha256, pin.package, pin.program_version, pin.source)
            for name in pin.commands
        ]
    sqlite = built_sqlite(software)
    if sqlite is None:
        missing.append("sqlite3")
    else:
        module, digest = file_with_digest(sqlite)
        commands.append(ToolboxCommand(
            "sqlite3", module, digest, SQLITE_SOURCE.package,
            SQLITE_SOURCE.program_version,
            f"built with zig from npm:{SQLITE_SOURCE.spec} {SQLITE_SOURCE.member.removeprefix('package/')}",
        ))
    built = recipe_commands(software)
    missing += [recipe.name for recipe in RECIPES if all(r is not recipe for r, _, _ in built)]
    for recipe, name, path in built:
        module, digest = file_with_digest(path)
        commands.append(ToolboxCommand(
            name, module, digest, recipe.source.package,
            recipe.version,
            f"built with agentvm-cc from debian:{recipe.source.package} {recipe.source.version}",
        ))
    for wrapper in WRAPPERS:
        real = next((c for c in commands if c.name == wrapper.real), None)
        if real is not None:
            commands.append(ToolboxCommand(
                wrapper.name, memoryview(wrapper.script).toreadonly(), None, real.package, real.version,
                f"agentvm: software/wrappers.py script running {wrapper.real} ({real.source})",
            ))
    if missing:
        log.warning("toolbox_missing", missing=missing, hint=SETUP_HINT)
    return commands

