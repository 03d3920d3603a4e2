"""GNU make 4.3 (Debian bookworm's make-dfsg 4.3-4.1), built with agentvm-cc.

Debian's source is stripped of everything generated (no configure script, no
config.h), and running autoreconf would need autotools on the host. So this
recipe answers config.h.in itself: the target is always the same wasm32-wasi
plus agentvm's compat library, so configure's answers are known and fixed
(``CONFIG`` below; every other macro stays undefined). make starts recipes with
posix_spawn (USE_POSIX_SPAWN: there is no fork), finds programs with gnulib's
find_in_given_path, and uses its own glob/fnmatch (GLOB_ALTDIRFUNC, which
wasi-libc's glob lacks). Our patches (patches/make/) fix what WASI itself
breaks: the mock dirent of glob, output-sync's fcntl lock, the envp argument of
main. Not built: the jobserver (a sub-make runs its own -j), load averages
(-l: getloadavg fails), Guile and loadable objects.
"""

from __future__ import annotations

import re
import shutil

from .debian import DebianSource
from .recipe import BuildContext, Recipe

__all__ = ["MAKE"]

SOURCE = DebianSource(
    package="make-dfsg",
    version="4.3-4.1",
    format="1.0",
    files={
        "make-dfsg_4.3-4.1.dsc": "d2523d94f4d4198df6801f238d36cf0dea2ab5521f1d19ee76b2e8ee1f1918bb",
        "make-dfsg_4.3.orig.tar.gz": "be4c17542578824e745f83bcd2a9ba264206187247cb6a5f5df99b0a9d1f9047",
        "make-dfsg_4.3-4.1.diff.gz": "753c254ecaba425ebe2e0a0fb4d299847701e1c3eeb43df563e39975cae56b4c",
    },
)

_YES = "1"
CONFIG: dict[str, str] = {
    **{name: _YES for name in (
        "HAVE_ALLOCA", "HAVE_ALLOCA_H", "HAVE_ATEXIT", "HAVE_CLOCK_GETTIME", "HAVE_DIRENT_H", "HAVE_DUP",
        "HAVE_DUP2", "HAVE_FCNTL_H", "HAVE_FDOPEN", "HAVE_GETCWD", "HAVE_GETTIMEOFDAY", "HAVE_INTTYPES_H",
        "HAVE_ISATTY", "HAVE_LIMITS_H", "HAVE_LOCALE_H", "HAVE_LONG_LONG_INT", "HAVE_LSTAT", "HAVE_MEMORY_H",
        "HAVE_MEMRCHR", "HAVE_MKSTEMP", "HAVE_PIPE", "HAVE_POSIX_SPAWN", "HAVE_POSIX_SPAWNATTR_SETSIGMASK",
        "HAVE_READLINK", "HAVE_REALPATH", "HAVE_SA_RESTART", "HAVE_SETVBUF", "HAVE_SIGACTION", "HAVE_SPAWN_H",
        "HAVE_STDINT_H", "HAVE_STDLIB_H", "HAVE_STPCPY", "HAVE_STRCASECMP", "HAVE_STRCOLL", "HAVE_STRDUP",
        "HAVE_STRINGS_H", "HAVE_STRING_H", "HAVE_STRNCASECMP", "HAVE_STRNDUP", "HAVE_STRSIGNAL",
        "HAVE_STRUCT_DIRENT_D_TYPE", "HAVE_SYMLINK", "HAVE_SYS_PARAM_H", "HAVE_SYS_SELECT_H", "HAVE_SYS_STAT_H",
        "HAVE_SYS_TIME_H", "HAVE_SYS_TYPES_H", "HAVE_SYS_WAIT_H", "HAVE_UNISTD_H", "HAVE_UNSIGNED_LONG_LONG_INT",
        "HAVE_UMASK", "HAVE_WAITPID", "HAVE_WCHAR_H", "HAVE_WORKING_O_NOFOLLOW", "HAVE__BOOL", "MAKE_SYMLINKS",
        "STDC_HEADERS", "FILE_TIMESTAMP_HI_RES", "USE_POSIX_SPAWN", "TIME_WITH_SYS_TIME", "HAVE_DECL_BSD_SIGNAL",
        "_GNU_SOURCE", "_ALL_SOURCE",
    )},
    **{name: "0" for name in (
        "HAVE_DECL_DLERROR", "HAVE_DECL_DLOPEN", "HAVE_DECL_DLSYM",
        "HAVE_DECL_GETDTABLESIZE", "HAVE_DECL_PROGRAM_INVOCATION_NAME", "HAVE_DECL_PROGRAM_INVOCATION_SHORT_NAME",
        "HAVE_DECL_STRERROR_R", "HAVE_DECL_SYS_SIGLIST", "HAVE_DECL__SYS_SIGLIST", "HAVE_DECL___ARGV",
        "HAVE_DECL___SYS_SIGLIST",
    )},
    "MAKE_HOST": '"wasm32-unknown-wasi"',
    "PACKAGE": '"make"',
    "PACKAGE_BUGREPORT": '"bug-make@gnu.org"',
    "PACKAGE_NAME": '"GNU make"',
    "PACKAGE_STRING": '"GNU make 4.3"',
    "PACKAGE_TARNAME": '"make"',
    "PACKAGE_URL": '"https://www.gnu.org/software/make/"',
    "PACKAGE_VERSION": '"4.3"',
    "VERSION": '"4.3"',
    "PATH_SEPARATOR_CHAR": "':'",
    "RETSIGTYPE": "void",
    "SCCS_GET": '"get"',
    "ST_MTIM_NSEC": "st_mtim.tv_nsec",
    "eaccess": "access",  # what configure defines when there is no eaccess
}

# lib/ files that configure would have put in libgnu.a for this target, then
# src/ files of make_SRCS (Makefile.am) and the POSIX pieces. fnmatch.c comes
# first: libc has an fnmatch too, and wasm-ld would fetch libc's for the first
# object calling it if make's were not defined yet (see cc/driver.py).
SOURCES = (
    "lib/fnmatch.c", "lib/glob.c", "lib/findprog-in.c", "lib/concat-filename.c",
    "lib/xconcat-filename.c", "lib/xalloc-die.c", "lib/exitfail.c", "lib/getloadavg.c",
    "src/ar.c", "src/arscan.c", "src/commands.c", "src/default.c", "src/dir.c", "src/expand.c", "src/file.c",
    "src/function.c", "src/getopt.c", "src/getopt1.c", "src/guile.c", "src/hash.c", "src/implicit.c",
    "src/job.c", "src/load.c", "src/loadapi.c", "src/main.c", "src/misc.c", "src/output.c", "src/read.c",
    "src/remake.c", "src/rule.c", "src/signame.c", "src/strcache.c", "src/variable.c", "src/version.c",
    "src/vpath.c", "src/posixos.c", "src/remote-stub.c",
)


def config_h(template: str) -> str:
    """config.h.in with each ``#undef NAME`` of ``CONFIG`` turned into a define."""
    def answer(match: re.Match[str]) -> str:
        name = match.group(1)
        return f"#define {name} {CONFIG[name]}" if name in CONFIG else match.group(0)

    return re.sub(r"^# ?undef (\w+)\s*$", answer, template, flags=re.MULTILINE)


def build(ctx: BuildContext) -> None:
    tree = ctx.tree
    (tree / "src" / "config.h").write_text(config_h((tree / "src" / "config.h.in").read_text()))
    for header in ("glob", "fnmatch"):  # no substitutions in these two
        shutil.copy(tree / "lib" / f"{header}.in.h", tree / "lib" / f"{header}.h")
    flags = [
        "-O2", "-s", "-DHAVE_CONFIG_H", f"-I{tree / 'src'}", f"-I{tree / 'lib'}",
        '-DLIBDIR="/usr/lib"', '-DINCLUDEDIR="/usr/include"', '-DLOCALEDIR="/usr/share/locale"',
        "-Wno-everything",  # 2020 code, a 2024 compiler: its warnings are noise here
    ]
    ctx.compile_program([tree / s for s in SOURCES], ctx.out / "make.wasm", flags)


MAKE = Recipe(
    name="make",
    source=SOURCE,
    commands={"make": "make"},
    build=build,
    description="GNU make 4.3 (Debian make-dfsg 4.3-4.1)",
)
