"""The hub's published endpoints: one (module, interface role, view) registry from which the
version details are generated, so that what is advertised always matches the routes.

Each (module, interface role) has exactly one hub URL, because the URLs carry the gateway: the
locations RECEIVER is the CPO-facing one, the locations SENDER the eMSP-facing one.
"""

from dataclasses import dataclass

from django.conf import settings
from django.urls import reverse


@dataclass(frozen=True)
class PublishedEndpoint:
    """One endpoint of the hub's version details."""

    module: str
    interface_role: str
    url_name: str
    # Caller roles that see this endpoint; empty = every caller.
    audience: frozenset[str] = frozenset()

    def url(self) -> str:
        # A module's base URL has no view of its own (partners append ids), so it may be
        # given as a path instead of a URL name.
        path = self.url_name if self.url_name.startswith("/") else reverse(self.url_name)
        return f"{settings.OCPI_BASE_URL}{path}"


_published: dict[tuple[str, str], PublishedEndpoint] = {}


def publish(
    module: str, interface_role: str, url_name: str, audience: tuple[str, ...] = ()
) -> None:
    """Add an endpoint to the hub's version details (called from AppConfig.ready)."""
    _published[(module, interface_role)] = PublishedEndpoint(
        module, interface_role, url_name, frozenset(audience)
    )


def endpoints_for(caller_roles: set[str] | None) -> list[dict[str, str]]:
    """The endpoints a caller sees: those for its roles, or all of them while its roles are
    unknown (a Token A caller, before its credentials name its roles)."""
    selected = [
        endpoint
        for endpoint in _published.values()
        if caller_roles is None or not endpoint.audience or endpoint.audience & caller_roles
    ]
    selected.sort(key=lambda e: (e.module, e.interface_role))
    return [{"identifier": e.module, "role": e.interface_role, "url": e.url()} for e in selected]
