"""host_tty (no terminals yet) and host_net's fast path (non-sockets: EBADF so libc falls back)."""

from __future__ import annotations

from agentvm_sidecar.wasm.abi import HOST_FUNCTIONS, SIGNATURES

from .conftest import BAD_PTR, E, Guest


def test_net_send_recv_are_ebadf_without_touching_memory(guest: Guest) -> None:
    buf = guest.alloc(8, b"\xee" * 8)
    (ret,) = guest.out()
    for name in ("net_send", "net_recv"):
        for fd in (0, 1, 3, 0x40000003):
            assert guest.call("host_net", name, fd, buf, 8, 0, ret) == E["EBADF"] == 8
        assert guest.call("host_net", name, 1, BAD_PTR, 1 << 30, 0, BAD_PTR) == 8
    assert guest.read(buf, 8) == b"\xee" * 8 and guest.read(ret, 4) == b"\xab" * 4


def test_tty_read_is_eof_and_raw_mode_is_linux_enotty(guest: Guest) -> None:
    buf = guest.alloc(4, b"\xee" * 4)
    assert guest.call("host_tty", "read", buf, 4, 0xFFFFFFFF) == 0
    assert guest.read(buf, 4) == b"\xee" * 4
    assert guest.call("host_tty", "set_raw_mode", 1) == 25
    assert guest.call("host_tty", "set_raw_mode", 0) == 25


def test_every_imported_name_is_registered() -> None:
    # host_process: the agentOS 12 and proc_getppid (agentvm-cc's compat library)
    modules = {"host_process": 13, "host_fs": 12, "host_user": 15, "host_tty": 2, "host_net": 18}
    for module, count in modules.items():
        assert sum(1 for m, _ in HOST_FUNCTIONS if m == module) == count


def test_names_published_with_two_signatures_have_both() -> None:
    assert ("host_net", "net_tls_connect", "iii", "i") in SIGNATURES  # the Codex CLI build
    assert ("host_net", "net_tls_connect", "iiii", "i") in SIGNATURES  # agentOS's curl
    assert ("host_net", "net_getaddrinfo", "iiiiii", "i") in SIGNATURES  # agentOS libc patch
    assert ("host_net", "net_getaddrinfo", "iiiiiii", "i") in SIGNATURES  # wasi-ext (with family)
