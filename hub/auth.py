"""Staff login: throttled by django-axes (settings/base.py AXES_*), per username and address."""

from typing import Any

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.http import HttpRequest


class StaffLoginBackend(AxesStandaloneBackend):
    """Axes' lockout check before Django's ModelBackend authenticates.

    Every login over HTTP (the admin's login form) passes its request and is throttled.
    Axes refuses a call without one (code calling `authenticate()` directly, e.g. the test
    client's `login()`); there is no address to throttle by then, so it is left to the next
    backend instead of failing."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any:
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)


def staff_client_ip(request: HttpRequest) -> str:
    """The address a login attempt (or an export) came from. Behind the TLS proxy the
    operator declared (DJANGO_BEHIND_PROXY), REMOTE_ADDR is the proxy's, and the client is
    the last hop the proxy appended to X-Forwarded-For; earlier hops are the client's own
    claims and are ignored. Without a declared proxy the header is not trusted at all."""
    if getattr(settings, "HUB_BEHIND_PROXY", False):
        hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        hops = [hop for hop in hops if hop]
        if hops:
            return hops[-1][:64]
    return str(request.META.get("REMOTE_ADDR", ""))[:64]
