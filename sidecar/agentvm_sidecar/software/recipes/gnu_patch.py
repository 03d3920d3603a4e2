"""GNU patch 2.7.6 (Debian bookworm's patch 2.7.6-7), built with agentvm-cc.

patch ships a configure script (gnulib inside), so this is a cross build:
`configure --host=wasm32-unknown-wasi` with CC=agentvm-cc, then make in lib/ and
src/ only (Debian's patches touch tests/Makefile.am, whose regeneration would
need automake). Our patches (patches/patch/): config.sub learns the wasi
system, and ed-style diffs start ed with posix_spawn instead of fork + exec.
"""

from __future__ import annotations

from .debian import DebianSource
from .recipe import BuildContext, Recipe

__all__ = ["PATCH"]

SOURCE = DebianSource(
    package="patch",
    version="2.7.6-7",
    format="3.0 (quilt)",
    files={
        "patch_2.7.6-7.dsc": "d954fd576d935ac54b7d44d4976eb52d0da84a57f7bad90c6e5bd5e33595030a",
        "patch_2.7.6.orig.tar.xz": "ac610bda97abe0d9f6b7c963255a11dcb196c25e337c61f94e4778d632f1d8fd",
        "patch_2.7.6-7.debian.tar.xz": "7725f30b042d8cf63516e480036e93ca2ff0ce5ad3754db4a4e69d33e96a2624",
    },
)


def build(ctx: BuildContext) -> None:
    ctx.progress("configure (cross, for wasm32-unknown-wasi)")
    ctx.run(["sh", "./configure", "--host=wasm32-unknown-wasi", "--build=x86_64-pc-linux-gnu",
             "--disable-xattr", "CFLAGS=-O2 -s"])
    ctx.progress("make (lib, src)")
    for directory in ("lib", "src"):
        ctx.run(["make", f"-j{ctx.jobs}", "-C", directory])
    (ctx.tree / "src" / "patch").rename(ctx.out / "patch.wasm")


PATCH = Recipe(
    name="patch",
    source=SOURCE,
    commands={"patch": "patch"},
    build=build,
    description="GNU patch 2.7.6 (Debian patch 2.7.6-7)",
)
