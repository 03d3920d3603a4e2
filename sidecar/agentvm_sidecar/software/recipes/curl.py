"""curl 7.88.1 (Debian bookworm's curl 7.88.1-10+deb12u15), built with agentvm-cc.

The curl tool and libcurl, statically, for HTTP and HTTPS only. curl's own TLS
libraries are left out: TLS is done by the sidecar through a small libcurl
backend of ours (patches/curl/0001-agentvm-tls-backend.patch, the design of
agentOS's WASI TLS backend), so certificates are checked against the system CAs
and the VM's configured ones, whatever --cacert says. Sockets, getaddrinfo and
poll come from the compat library over host_net, so every connection obeys the
VM's network policy.

No configure run: the target is always wasm32-wasi plus the compat library, so
its answers are fixed (``CONFIG``: lib/curl_config.h.in with these defined, every
other macro left undefined), and the source lists are read from curl's own
lib/Makefile.inc and src/Makefile.inc. Name resolution is synchronous (no
threads); no zlib, brotli, zstd, libpsl, IDN, HTTP/2 or HTTP/3.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from .debian import DebianSource
from .recipe import BuildContext, Recipe

__all__ = ["CURL"]

SOURCE = DebianSource(
    package="curl",
    version="7.88.1-10+deb12u15",
    format="3.0 (quilt)",
    files={
        "curl_7.88.1-10+deb12u15.dsc": "2744f12e3aef161c0361743fa1b318296b122e566e47f381e4a63320fbcc23f4",
        "curl_7.88.1.orig.tar.gz": "cdb38b72e36bc5d33d5b8810f8018ece1baa29a8f215b4495e495ded82bbf3c7",
        "curl_7.88.1-10+deb12u15.debian.tar.xz": "961b78bc48492c5693e4decb352ddd176f343260a8956f48b2887874048ef23b",
    },
)

_YES = "1"
CONFIG: dict[str, str] = {
    **{name: _YES for name in (
        # headers wasi-libc and the compat library provide
        "HAVE_ARPA_INET_H", "HAVE_FCNTL_H", "HAVE_INTTYPES_H", "HAVE_LIBGEN_H", "HAVE_LOCALE_H", "HAVE_NETDB_H",
        "HAVE_NETINET_IN_H", "HAVE_NETINET_TCP_H", "HAVE_POLL_H", "HAVE_SIGNAL_H", "HAVE_STDBOOL_H",
        "HAVE_STDINT_H", "HAVE_STDIO_H", "HAVE_STDLIB_H", "HAVE_STRINGS_H", "HAVE_STRING_H", "HAVE_SYS_PARAM_H",
        "HAVE_SYS_SELECT_H", "HAVE_SYS_SOCKET_H", "HAVE_SYS_STAT_H", "HAVE_SYS_TIME_H", "HAVE_SYS_TYPES_H",
        "HAVE_SYS_UIO_H", "HAVE_UNISTD_H", "HAVE_UTIME_H", "STDC_HEADERS",
        # functions and types
        "HAVE_BASENAME", "HAVE_BOOL_T", "HAVE_CLOCK_GETTIME_MONOTONIC", "HAVE_CONNECT", "HAVE_FCNTL",
        "HAVE_FCNTL_O_NONBLOCK", "HAVE_FREEADDRINFO", "HAVE_FTRUNCATE", "HAVE_GETADDRINFO",
        "HAVE_GETADDRINFO_THREADSAFE", "HAVE_GETPEERNAME", "HAVE_GETPPID", "HAVE_GETSOCKNAME", "HAVE_GETTIMEOFDAY",
        "HAVE_GMTIME_R", "HAVE_INET_NTOP", "HAVE_INET_PTON", "HAVE_LONGLONG", "HAVE_MSG_NOSIGNAL",
        "HAVE_POLL_FINE", "HAVE_POSIX_STRERROR_R", "HAVE_RECV", "HAVE_SELECT", "HAVE_SEND", "HAVE_SETLOCALE",
        "HAVE_SIGNAL", "HAVE_SNPRINTF", "HAVE_SOCKADDR_IN6_SIN6_SCOPE_ID", "HAVE_SOCKET", "HAVE_STRCASECMP",
        "HAVE_STRDUP", "HAVE_STRERROR_R", "HAVE_STRTOK_R", "HAVE_STRTOLL", "HAVE_STRUCT_SOCKADDR_STORAGE",
        "HAVE_STRUCT_TIMEVAL", "HAVE_SUSECONDS_T", "HAVE_UTIME", "HAVE_UTIMES", "HAVE_VARIADIC_MACROS_C99",
        "HAVE_VARIADIC_MACROS_GCC",
        # features: HTTP(S) only, IPv6 names, TLS by the sidecar, no wakeup socketpair
        "ENABLE_IPV6", "USE_AGENTVM_TLS", "CURL_DISABLE_DICT", "CURL_DISABLE_FILE", "CURL_DISABLE_FTP",
        "CURL_DISABLE_GOPHER", "CURL_DISABLE_IMAP", "CURL_DISABLE_LDAP", "CURL_DISABLE_LDAPS", "CURL_DISABLE_MQTT",
        "CURL_DISABLE_POP3", "CURL_DISABLE_RTSP", "CURL_DISABLE_SMB", "CURL_DISABLE_SMTP", "CURL_DISABLE_TELNET",
        "CURL_DISABLE_TFTP", "CURL_DISABLE_NTLM", "CURL_DISABLE_SOCKETPAIR",
        "CURL_DISABLE_OPENSSL_AUTO_LOAD_CONFIG",
    )},
    "CURL_SA_FAMILY_T": "sa_family_t",
    "SIZEOF_CURL_OFF_T": "8",
    "SIZEOF_INT": "4",
    "SIZEOF_LONG": "4",
    "SIZEOF_LONG_LONG": "8",
    "SIZEOF_OFF_T": "8",
    "SIZEOF_SIZE_T": "4",
    "SIZEOF_TIME_T": "8",
    "OS": '"wasm32-unknown-wasi"',
    "PACKAGE": '"curl"',
    "PACKAGE_BUGREPORT": '"a suitable curl mailing list: https://curl.se/mail/"',
    "PACKAGE_NAME": '"curl"',
    "PACKAGE_STRING": '"curl -"',
    "PACKAGE_TARNAME": '"curl"',
    "PACKAGE_URL": '""',
    "PACKAGE_VERSION": '"-"',
    "VERSION": '"7.88.1"',
}


def config_h(template: str) -> str:
    """curl_config.h.in with each ``#undef NAME`` of ``CONFIG`` turned into a define,
    and the names the template does not know (our USE_AGENTVM_TLS) appended."""
    answered: set[str] = set()

    def answer(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in CONFIG:
            return match.group(0)
        answered.add(name)
        return f"#define {name} {CONFIG[name]}"

    text = re.sub(r"^#undef (\w+)\s*$", answer, template, flags=re.MULTILINE)
    return text + "".join(f"#define {name} {value}\n" for name, value in CONFIG.items() if name not in answered)


def makefile_list(makefile: Path, *names: str) -> list[str]:
    """The words of the automake variables ``names`` (``NAME = a \\ b``) in ``makefile``."""
    text = makefile.read_text().replace("\\\n", " ")
    words: list[str] = []
    for name in names:
        found = re.search(rf"^{name}\s*=(.*)$", text, flags=re.MULTILINE)
        if found is None:
            raise ValueError(f"{makefile} defines no {name}")
        words += found.group(1).split()
    return words


def build(ctx: BuildContext) -> None:
    tree = ctx.tree
    lib, src = tree / "lib", tree / "src"
    (lib / "curl_config.h").write_text(config_h((lib / "curl_config.h.in").read_text()))
    # CSOURCES of lib/Makefile.inc (what is not configured compiles to nothing), and our backend
    libcurl = [
        *makefile_list(lib / "Makefile.inc", "LIB_CFILES", "LIB_VAUTH_CFILES", "LIB_VTLS_CFILES",
                       "LIB_VQUIC_CFILES", "LIB_VSSH_CFILES"),
        "vtls/agentvm_tls.c",
    ]
    # libcurl's files are compiled with BUILDING_LIBCURL and the tool's without,
    # as curl's Makefiles do; the one flag list of compile_program gets the
    # define from a one-line wrapper per libcurl file. Of the lib/ files the tool
    # compiles again (CURLX_CFILES) only dynbuf.c differs (Curl_dyn_* in libcurl,
    # curlx_dyn_* in the tool): the others define the same curlx_* names that
    # libcurl's copies already do, and one static link takes them once.
    wrappers = tree / "agentvm-libcurl"
    wrappers.mkdir()
    sources = []
    for i, name in enumerate(libcurl):
        wrapper = wrappers / f"{i:03d}-{Path(name).name}"
        wrapper.write_text(f'#define BUILDING_LIBCURL 1\n#include "{lib / name}"\n')
        sources.append(wrapper)
    tool = [*makefile_list(src / "Makefile.inc", "CURL_CFILES"), "../lib/dynbuf.c"]
    sources += [Path(os.path.normpath(src / name)) for name in tool]
    flags = [
        "-O2", "-s", "-DHAVE_CONFIG_H", "-DCURL_STATICLIB", f"-I{tree / 'include'}", f"-I{lib}", f"-I{src}",
        "-Wno-everything",  # curl's own portability warnings are noise for one fixed target
    ]
    ctx.compile_program(sources, ctx.out / "curl.wasm", flags)


CURL = Recipe(
    name="curl",
    source=SOURCE,
    commands={"curl": "curl"},
    build=build,
    description="curl 7.88.1 (Debian curl 7.88.1-10+deb12u15), HTTP and HTTPS, TLS by the sidecar",
)
