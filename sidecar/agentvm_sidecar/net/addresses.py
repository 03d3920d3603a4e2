"""Socket address strings, as the agentOS ``host_net`` ABI passes them.

The agentOS libc serializes a sockaddr as ``"<ip>:<port>"`` with the ip from
``inet_ntop`` (so IPv6 arrives WITHOUT brackets: ``"::1:8080"``), splits the strings
it receives at the last colon, and parses the host part with ``inet_pton``. Names
(``"api.example.com:443"``) are passed as-is so the sidecar resolves them and applies
the VM's network policy. We accept both the bracketed (``"[::1]:8080"``) and the bare
IPv6 forms and always answer in the bare form the libc parses.
"""

from __future__ import annotations

import ipaddress
import re

from ..kernel.errors import KernelError

__all__ = ["MAX_ADDRESS_BYTES", "format_address", "is_loopback_host", "parse_address", "parse_ip"]

MAX_ADDRESS_BYTES = 1024
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,253}$")


def parse_ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """``host`` as an IP address, or None for a name."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def parse_address(text: str, *, allow_port_zero: bool = False) -> tuple[str, int]:
    """(host, port) of ``"host:port"``, ``"[v6]:port"`` or ``"v6:port"``.

    The host is an IP literal or a DNS name; an empty host means "any" (``0.0.0.0``).

    Raises: EINVAL (malformed, or the port is outside 1-65535; 0 allowed for bind).
    """
    if text.startswith("["):
        host, sep, port_text = text[1:].partition("]:")
        if not sep:
            raise KernelError.einval(message="malformed address")
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep:
            raise KernelError.einval(message="address has no port")
    if not port_text.isdigit() or len(port_text) > 5:
        raise KernelError.einval(message="malformed port")
    port = int(port_text)
    if port > 65535 or (port == 0 and not allow_port_zero):
        raise KernelError.einval(message="port outside 1-65535")
    if not host:
        return "0.0.0.0", port
    if parse_ip(host) is None and not _NAME.match(host):
        raise KernelError.einval(message="malformed host")
    return host.lower(), port


def format_address(host: str, port: int) -> str:
    """The ABI's string form (bare IPv6, as the guest libc parses it)."""
    return f"{host}:{port}"


def is_loopback_host(host: str) -> bool:
    """``host`` names the VM itself: ``localhost``, 127.0.0.0/8, ::1, or "any"."""
    if host == "localhost":
        return True
    ip = parse_ip(host)
    return ip is not None and (ip.is_loopback or ip.is_unspecified)
