"""git 2.39.5 (Debian bookworm's git 1:2.39.5-0+deb12u3), built with agentvm-cc.

One module serves every git command: git's builtins run inside it, and git
dispatches on argv[0] too, so /bin/git-upload-pack (which `git clone` and
`git fetch` of a local repository start through the shell) is the same module.
git is built with its own Makefile, no configure: ``CONFIG_MAK`` below turns
off what needs a library we do not build (curl, OpenSSL, expat, iconv,
gettext, Perl, Python, Tcl) or a facility wasm lacks (threads, mmap: git reads
files into memory instead, NO_MMAP). zlib, git's one required library, comes
from Debian's zlib source (``ZLIB_SOURCE``) and is compiled into the module.
The `uname_*` overrides on make's command line keep the host's Linux defaults
of config.mak.uname out of the build (they must be set before it is read).

Our patches (patches/git/): run-command starts children with posix_spawn
(GIT_USE_POSIX_SPAWN) where git would fork and exec; compat/wasi.h answers the
few calls wasi-libc leaves out as a program without a terminal, job control,
timers or threads sees them. Without threads, git runs its asynchronous
procedures in a forked child, and there is no fork (it fails with ENOSYS), so
the two such procedures that local clone, fetch and push need are avoided:
fetch-pack receives a side-band pack into a temporary file before index-pack
reads it, and send-pack does not ask for side-band. What still needs one
(remote helpers' bidirectional copy, `git archive --remote`, clean/smudge
filter processes fed asynchronously) reports the failure.
Only the module is installed, so there is no default template directory
(NO_DEFAULT_TEMPLATES: `git init` copies none instead of warning).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ..paths import SOFTWARE_DIR_ENV
from .debian import DebianSource, fetch_source, unpack_source
from .recipe import BuildContext, Recipe

__all__ = ["GIT"]

SOURCE = DebianSource(
    package="git",
    version="1:2.39.5-0+deb12u3",
    format="3.0 (quilt)",
    files={
        "git_2.39.5-0+deb12u3.dsc": "183f02891326496b439a24c87843fb8849178b21517640fc703787754aad6bd1",
        "git_2.39.5.orig.tar.xz": "c58da92c378df4a986ca33266897a7397e86c22ee266a284d8c2432c39066b59",
        "git_2.39.5-0+deb12u3.debian.tar.xz": "b19cbf9a483a6625d924119ebe99f997acfe83616906d33d2079ca3d7d668d22",
    },
)

ZLIB_SOURCE = DebianSource(
    package="zlib",
    version="1:1.2.13.dfsg-1",
    format="3.0 (quilt)",
    files={
        "zlib_1.2.13.dfsg-1.dsc": "3fa1e6b2fc525062aa88207dda52fed8e045373c809d362fe8a2bfbf7cf515a8",
        "zlib_1.2.13.dfsg.orig.tar.bz2": "71feb7947e3c00ef125f83b79a4e529bde31171e5babe48b391f06758d1ab0a1",
        "zlib_1.2.13.dfsg-1.debian.tar.xz": "f66cf3d4f2d7defcd4d1fd1fb0a11ee39f1e01b42ec7d059c9dc5c1695133c44",
    },
)
# zlib's in-memory (de)compression, all git calls; the gz* file functions are left out.
ZLIB_OBJECTS = (
    "adler32", "crc32", "deflate", "infback", "inffast", "inflate", "inftrees", "trees", "zutil",
    "compress", "uncompr",
)

# /bin names served by the git module: git itself and the dashed programs git
# starts by name (upload-pack for clone/fetch, receive-pack for push, and
# upload-archive for `git archive --remote`).
COMMANDS = ("git", "git-upload-pack", "git-receive-pack", "git-upload-archive")

UNAME = ("uname_S=WASI", "uname_M=wasm32", "uname_O=WASI", "uname_R=1", "uname_P=wasm32", "uname_V=1")

CONFIG_MAK = """\
CFLAGS = -O2 -Wno-deprecated-non-prototype
LDFLAGS = -s
BASIC_CFLAGS += -DGIT_USE_POSIX_SPAWN -DNO_DEFAULT_TEMPLATES
COMPAT_OBJS += compat/wasi.o
# the Makefile links -L$(ZLIB_PATH)/lib -lz and adds a run path: wasm has none
CC_LD_DYNPATH = -L
prefix = /usr
# /bin has no less: a terminal gets git's output through cat
DEFAULT_PAGER = cat
NO_GETTEXT = YesPlease
NO_ICONV = YesPlease
NO_TCLTK = YesPlease
NO_PERL = YesPlease
NO_PYTHON = YesPlease
NO_EXPAT = YesPlease
NO_CURL = YesPlease
NO_OPENSSL = YesPlease
NO_PTHREADS = YesPlease
NO_MMAP = YesPlease
NO_REGEX = YesPlease
NO_UNIX_SOCKETS = YesPlease
NO_NSEC = YesPlease
NO_STRUCT_ITIMERVAL = YesPlease
NO_INITGROUPS = YesPlease
NO_SYMLINK_HEAD = YesPlease
NO_FNMATCH_CASEFOLD = YesPlease
NO_MKSTEMPS = YesPlease
NO_GECOS_IN_PWENT = YesPlease
NO_INSTALL_HARDLINKS = YesPlease
NO_POSIX_GOODIES = UnfortunatelyYes
"""

def _build_zlib(ctx: BuildContext) -> Path:
    """zlib built as a prefix (``include/``, ``lib/libz.a``) for git's ZLIB_PATH."""
    ctx.progress(f"fetching {ZLIB_SOURCE.package} {ZLIB_SOURCE.version} from Debian")
    downloads = fetch_source(ZLIB_SOURCE, Path(ctx.env[SOFTWARE_DIR_ENV]))
    root = ctx.out.parent / "zlib"
    root.mkdir()
    source = unpack_source(ZLIB_SOURCE, downloads, root)
    prefix = root / "prefix"
    (prefix / "include").mkdir(parents=True)
    (prefix / "lib").mkdir()
    cc = ctx.env["CC"].split()
    for name in ZLIB_OBJECTS:
        ctx.run([*cc, "-O2", "-Wno-deprecated-non-prototype", "-c", f"{name}.c", "-o", f"{name}.o"], cwd=source)
    ctx.run([*ctx.env["AR"].split(), "rcs", str(prefix / "lib" / "libz.a"), *(f"{n}.o" for n in ZLIB_OBJECTS)],
            cwd=source)
    for header in ("zlib.h", "zconf.h"):
        shutil.copy(source / header, prefix / "include" / header)
    return prefix


def build(ctx: BuildContext) -> None:
    zlib = _build_zlib(ctx)
    config = CONFIG_MAK + f"ZLIB_PATH = {zlib}\n"
    (ctx.tree / "config.mak").write_text(config)
    ctx.progress("compiling git")
    ctx.run(["make", f"-j{ctx.jobs}", *UNAME, f"CC={ctx.env['CC']}", f"AR={ctx.env['AR']}", "git"])
    shutil.copy(ctx.tree / "git", ctx.out / "git.wasm")


GIT = Recipe(
    name="git",
    source=SOURCE,
    commands={command: "git" for command in COMMANDS},
    build=build,
    description="git 2.39.5 (Debian git 1:2.39.5-0+deb12u3)",
)
