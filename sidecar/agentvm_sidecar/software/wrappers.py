"""Shell wrappers that give stdin-only programs the command line users expect.

The jaq-based jq and yq of @rivet-dev/agent-os-jq/-yq read their input from stdin
only and know no --version/--help. The /bin layer installs those modules as
``jq-stdin``/``yq-stdin`` and these scripts as ``jq``/``yq``: FILE arguments after
the filter are concatenated on the program's stdin (jq reads several files as one
stream of values too), ``--version``/``--help`` are answered here, and everything
else is passed through. A missing file fails before anything runs (exit 2, as jq).
The options passed through are the ones the modules know: -r -j -c -n -s -e -R,
their long forms, ``--raw-output0``, ``--arg NAME VALUE`` and ``--argjson NAME JSON``
(XX: the modules accept --arg/--argjson but their filters cannot see the variable:
"compile error ... Var"; documented in the README).
"""

from __future__ import annotations

__all__ = ["WRAPPERS", "Wrapper"]

from dataclasses import dataclass

_TEMPLATE = """#!/bin/sh
# {name} FILTER [FILE...]: agentvm's wrapper around {real} (stdin only), see
# sidecar/agentvm_sidecar/software/wrappers.py.
opts=()
files=()
filter=
have_filter=
while [ $# -gt 0 ]; do
  case "$1" in
    --version) echo "{version_line}"; exit 0 ;;
    -h|--help)
      echo "Usage: {name} [OPTIONS] FILTER [FILE...]"
      echo "{summary}"
      echo "Options: -r -j -c -n -s -e -R (and long forms), --raw-output0"
      exit 0 ;;
    --arg|--argjson)
      if [ $# -lt 3 ]; then echo "{name}: $1 requires NAME and VALUE" >&2; exit 2; fi
      opts+=("$1" "$2" "$3"); shift 3 ;;
    --) shift; break ;;
    -?*) opts+=("$1"); shift ;;
    *)
      if [ -z "$have_filter" ]; then filter="$1"; have_filter=1; else files+=("$1"); fi
      shift ;;
  esac
done
while [ $# -gt 0 ]; do
  if [ -z "$have_filter" ]; then filter="$1"; have_filter=1; else files+=("$1"); fi
  shift
done
if [ -z "$have_filter" ]; then filter=.; fi
if [ ${{#files[@]}} -eq 0 ]; then exec {real} "${{opts[@]}}" "$filter"; fi
for f in "${{files[@]}}"; do
  if [ ! -e "$f" ]; then echo "{name}: error: Could not open $f: No such file or directory" >&2; exit 2; fi
done
cat -- "${{files[@]}}" | {real} "${{opts[@]}}" "$filter"
"""


@dataclass(frozen=True, slots=True)
class Wrapper:
    """A script placed in /bin as ``name``, running the module command ``real``."""

    name: str
    real: str
    summary: str
    version_line: str

    @property
    def script(self) -> bytes:
        return _TEMPLATE.format(
            name=self.name, real=self.real, summary=self.summary, version_line=self.version_line
        ).encode()


WRAPPERS: tuple[Wrapper, ...] = (
    Wrapper("jq", "jq-stdin", "JSON processor (jaq-based jq of @rivet-dev/agent-os-jq).",
            "jq-1.7 (jaq-based build of @rivet-dev/agent-os-jq 0.0.260331072558)"),
    Wrapper("yq", "yq-stdin", "YAML processor with jq filters (jaq-based, @rivet-dev/agent-os-yq).",
            "yq (jaq-based build of @rivet-dev/agent-os-yq 0.0.260331072558)"),
)
