# Where fetched guest software lives on the host.
#
# The project is installed editable (`pip install -e .`), so this file stays in
# the checkout and the repository root is found relative to it:
# <root>/sidecar/agentvm_sidecar/software/paths.py. The default keeps build
# products in the ignored `<root>/.build/`, next to the code that pins them.

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["SOFTWARE_DIR_ENV", "repo_root", "software_dir"]

SOFTWARE_DIR_ENV = "AGENTVM_SOFTWARE_DIR"


def repo_root() -> Path:
    """The root of the agentvm checkout this module was loaded from."""
    return Path(__file__).resolve().parents[3]


def software_dir() -> Path:
    """The directory holding fetched `.tgz` and `.aospkg` files.

    Returns:
        `$AGENTVM_SOFTWARE_DIR` if set and non-empty, else `<repo root>/.build/software`.
    """
    override = os.environ.get(SOFTWARE_DIR_ENV)
    if override:
        return Path(override).expanduser()
    return repo_root() / ".build" / "software"
