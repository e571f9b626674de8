"""Which partner URLs the hub may call (DESIGN §7).

Partner URLs (versions, endpoints, response_url, Link) are attacker-controlled. Unless
`OCPI_ALLOW_PRIVATE_URLS` is on, the hub refuses non-http(s) schemes and hosts that are, or
resolve to, private, loopback, link-local (cloud metadata), multicast or reserved addresses.
"""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings


class UrlNotAllowedError(ValueError):
    """The hub refuses to call this URL."""


def _resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise UrlNotAllowedError(f"cannot resolve host {host!r}: {exc.strerror}") from exc
    return sorted({str(info[4][0]) for info in infos})


def check_url(url: str) -> None:
    """Raise `UrlNotAllowedError` unless the hub may call `url`."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise UrlNotAllowedError(f"only http and https URLs are allowed, not {parts.scheme!r}")
    if not parts.hostname:
        raise UrlNotAllowedError("the URL has no host")
    if parts.username or parts.password:
        raise UrlNotAllowedError("URLs with credentials are not allowed")
    if settings.OCPI_ALLOW_PRIVATE_URLS:
        return
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise UrlNotAllowedError(f"invalid port: {exc}") from exc
    for address in _resolve(parts.hostname, port):
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        mapped = getattr(ip, "ipv4_mapped", None)
        if mapped is not None:
            ip = mapped
        if not ip.is_global or ip.is_multicast:
            raise UrlNotAllowedError(
                f"{parts.hostname} resolves to {ip}, a private, loopback, link-local or "
                "reserved address (set OCPI_ALLOW_PRIVATE_URLS only for development)"
            )
