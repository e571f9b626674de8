"""Keep the fuzz run on 127.0.0.0/8: the hub follows URLs the fuzzer writes (credentials'
`url`, forwarded requests), so name resolution to anything else is refused in this process.

The hub's client then sees an ordinary connection error, as it would for an unreachable
partner; the count of refused look-ups goes into the report.
"""

import ipaddress
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

_lock = threading.Lock()
refused: list[str] = []


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%")[0]).is_loopback
    except ValueError:
        return False


def _guarded(original: Callable[..., Any]) -> Callable[..., Any]:
    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        results = original(host, *args, **kwargs) if _may_resolve(host) else []
        allowed = [r for r in results if _is_loopback(str(r[4][0]))]
        if not allowed:
            with _lock:
                refused.append(str(host)[:100])
            raise socket.gaierror(socket.EAI_NONAME, f"fuzz run: {host!r} is not loopback")
        return allowed

    return getaddrinfo


def _may_resolve(host: Any) -> bool:
    """Only literal loopback addresses and `localhost` are looked up at all: no DNS query for a
    fuzzed name ever leaves the machine."""
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    return isinstance(host, str) and (host == "localhost" or _is_loopback(host))


@contextmanager
def loopback_only() -> Iterator[None]:
    original = socket.getaddrinfo
    socket.getaddrinfo = _guarded(original)  # type: ignore[assignment]
    try:
        yield
    finally:
        socket.getaddrinfo = original  # type: ignore[assignment]
