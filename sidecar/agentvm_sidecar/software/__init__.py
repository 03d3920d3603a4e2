"""Guest software: pinned agentOS command packages and the `.aospkg` reader.

`pins` lists the packages, `fetch` downloads them at setup time, `aospkg` parses
the container and `library` serves the merged command table that populates each
VM's read-only /bin.
"""

from .aospkg import Aospkg, AospkgError, AospkgFile, parse_aospkg
from .library import (
    CommandEntry,
    LibraryStatistics,
    SoftwareLibrary,
    SoftwareMissingError,
    shared_library,
)
from .paths import software_dir
from .pins import PINS, Pin

__all__ = [
    "PINS",
    "Aospkg",
    "AospkgError",
    "AospkgFile",
    "CommandEntry",
    "LibraryStatistics",
    "Pin",
    "SoftwareLibrary",
    "SoftwareMissingError",
    "parse_aospkg",
    "shared_library",
    "software_dir",
]
