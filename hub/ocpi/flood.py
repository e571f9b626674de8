"""A bound on unauthenticated /ocpi/ traffic: per client address, a fixed window of failed
authentications, then 429 until the window ends; the exchange log keeps only a sample.

Without it, anyone on the internet could make the hub write one exchange-log row and one log
line per request, as fast as it can send them. The counters live in Django's cache: Redis when
REDIS_URL is set (shared by every web process), process-local memory on the embedded default.
A partner whose token is valid is never refused here, even behind the same address (NAT, a
proxy) as a flood: the check of its token costs one indexed query, and only while its address
is over the limit.
"""

import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse

from hub.models import PlatformToken
from hub.ocpi.handlers import envelope_response
from hub.ocpi.status import OcpiStatus
from hub.ocpi.tokens import header_token_candidates, token_digest

logger = logging.getLogger(__name__)

_KEY = "ocpi:unauth:{address}:{window}"


def client_address(request: HttpRequest) -> str:
    """The caller's address: REMOTE_ADDR, or the X-Forwarded-For entry the operator's own
    proxies added (OCPI_TRUSTED_PROXY_COUNT of them), never one the client wrote itself."""
    hops = settings.OCPI_TRUSTED_PROXY_COUNT
    if hops > 0:
        forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [a for a in forwarded if a]
        if len(forwarded) >= hops:
            return forwarded[-hops][:64]
    return str(request.META.get("REMOTE_ADDR", ""))[:64]


@dataclass(frozen=True)
class Window:
    """The current counting window of one address."""

    key: str
    retry_after: int

    @classmethod
    def of(cls, address: str) -> "Window":
        length = max(1, settings.OCPI_UNAUTH_WINDOW_S)
        now = time.time()
        number = int(now // length)
        return cls(
            key=_KEY.format(address=address, window=number),
            retry_after=max(1, int((number + 1) * length - now + 0.999)),
        )


def failures(window: Window) -> int:
    """How many failed authentications the window has counted so far."""
    value = cache.get(window.key)
    return value if isinstance(value, int) else 0


def count_failure(window: Window) -> int:
    """Count one failed authentication; the new count."""
    # add() then incr(): atomic on Redis and on the local-memory cache alike.
    cache.add(window.key, 0, timeout=settings.OCPI_UNAUTH_WINDOW_S + 5)
    try:
        return cache.incr(window.key)
    except ValueError:  # the key expired between add() and incr()
        cache.add(window.key, 1, timeout=settings.OCPI_UNAUTH_WINDOW_S + 5)
        return 1


def presents_known_token(request: HttpRequest) -> bool:
    """True if the Authorization header carries a token the hub issued (any scope)."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, credential = header.strip().partition(" ")
    if scheme.lower() != "token" or not credential.strip():
        return False
    digests = [token_digest(t) for t, _ in header_token_candidates(credential.strip())]
    return bool(digests) and PlatformToken.objects.filter(digest__in=digests).exists()


def over_limit(request: HttpRequest, window: Window) -> bool:
    """True if this request is to be refused: its address is over the limit and it does not
    carry a valid token."""
    limit = settings.OCPI_UNAUTH_LIMIT
    if limit <= 0 or failures(window) < limit:
        return False
    return not presents_known_token(request)


def too_many_requests(window: Window) -> HttpResponse:
    """The 429 answer: an OCPI envelope (2000, client error) and Retry-After."""
    response = envelope_response(
        429,
        OcpiStatus.CLIENT_ERROR,
        f"Too many unauthenticated requests from this address; retry after {window.retry_after} s",
    )
    response["Retry-After"] = str(window.retry_after)
    return response


def should_log(count: int, address: str) -> bool:
    """Keep the first OCPI_UNAUTH_LOG_SAMPLE failures of a window in the exchange log; after
    that, one line per hundred says how many there were."""
    sample = settings.OCPI_UNAUTH_LOG_SAMPLE
    if count <= sample:
        return True
    if (count - sample) % 100 == 0:
        logger.warning(
            "%d unauthenticated /ocpi/ requests from %s in this window; "
            "only the first %d are in the exchange log",
            count,
            address,
            sample,
        )
    return False
