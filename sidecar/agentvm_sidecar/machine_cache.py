"""Where a sidecar keeps what it builds once per machine (compiled modules, the native
library, recipe builds): one rule for every such cache, so they all move together."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["machine_cache_dir"]


def machine_cache_dir(name: str, override_env: str) -> Path:
    """``$<override_env>``, else ``$XDG_CACHE_HOME/agentvm/<name>``, else
    ``~/.cache/agentvm/<name>`` (empty variables count as unset)."""
    override = os.environ.get(override_env)
    if override:
        return Path(override).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "agentvm" / name
