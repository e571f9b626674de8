"""Which partner URLs the hub may call (DESIGN §7).

Partner URLs (versions, endpoints, response_url, Link) are attacker-controlled. Unless
`OCPI_ALLOW_PRIVATE_URLS` is on, the hub refuses non-http(s) schemes and hosts that are, or
resolve to, private, loopback, link-local (cloud metadata), multicast or reserved addresses.

`check_url` answers early, with a clear reason, before anything is sent; the outbound client
then resolves the name again when it opens a connection and connects only to an address that
`check_address` accepted (`hub.ocpi.client`), so a name that changes its answer between the
two (DNS rebinding) still cannot reach a private address.
"""

import ipaddress
import logging
import socket
from urllib.parse import urlsplit

from django.conf import settings

logger = logging.getLogger(__name__)


class UrlNotAllowedError(ValueError):
    """The hub refuses to call this URL."""


class UnresolvableHostError(UrlNotAllowedError):
    """The URL's host does not resolve (now): a URL given to the hub is refused, but a call to
    a partner that was fine before is a transport failure, retried like any other."""


def resolve(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to, in the resolver's order, without duplicates (raises
    `socket.gaierror`). Decimal, octal and hex IPv4 forms (`2130706433`, `0x7f.1`) come back as
    the address they stand for."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def check_address(host: str, address: str) -> None:
    """Raise `UrlNotAllowedError` unless the hub may connect to `address` (a resolved address
    of `host`): it must be global unicast. An IPv4-mapped IPv6 address is judged as its IPv4
    address; a scope id (`fe80::1%eth0`) is ignored."""
    if settings.OCPI_ALLOW_PRIVATE_URLS:
        return
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    mapped = getattr(ip, "ipv4_mapped", None)
    if mapped is not None:
        ip = mapped
    if not ip.is_global or ip.is_multicast:
        # The message reaches partners (their own URLs refused): it names the address only
        # when the URL itself does, so nobody learns how the hub's resolver sees a name.
        logger.warning("URL policy: %s resolves to %s, refused", host, ip)
        target = f"{host} is" if _is_literal(host) else f"{host} resolves to"
        raise UrlNotAllowedError(
            f"{target} a private, loopback, link-local or reserved address "
            "(set OCPI_ALLOW_PRIVATE_URLS only for development)"
        )


def _is_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    return True


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
    try:
        addresses = resolve(parts.hostname, port)
    except socket.gaierror as exc:
        raise UnresolvableHostError(
            f"cannot resolve host {parts.hostname!r}: {exc.strerror}"
        ) from exc
    for address in addresses:
        check_address(parts.hostname, address)
