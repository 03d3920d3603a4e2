"""wasmtime integration: the shared engine and the compiled-module cache."""

from .engine import ENGINE_SETTINGS, config_fingerprint, shared_engine
from .module_cache import ModuleCache, ModuleCacheStatistics, default_cache_dir, shared_module_cache

__all__ = [
    "ENGINE_SETTINGS",
    "ModuleCache",
    "ModuleCacheStatistics",
    "config_fingerprint",
    "default_cache_dir",
    "shared_engine",
    "shared_module_cache",
]
