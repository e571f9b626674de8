"""`Authorization: Token ...` authentication (2.2.1 transport_and_format, Authorization header).

The caller is a platform. Both the base64 (2.2.1) and the raw (2.1.1-era) form are accepted;
a missing or unknown token is HTTP 401. No view reads the header itself.
"""

from dataclasses import dataclass, field
from datetime import timedelta

from django.utils import timezone
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from hub.models import ConnectionStatus, Platform, PlatformRole, PlatformToken, TokenScope
from hub.ocpi import directory_cache
from hub.ocpi.caller import Caller, platform_from_values, roles_from_values, row_values
from hub.ocpi.exceptions import NotAuthenticatedError
from hub.ocpi.signals import platform_seen
from hub.ocpi.tokens import header_token_candidates, token_digest

# Writing last_seen_at on every request would cost a write per call; a minute is precise
# enough for the still-alive check (5 minutes of silence).
_LAST_SEEN_RESOLUTION = timedelta(seconds=60)


@dataclass
class OcpiCaller:
    """The authenticated token behind a request (`request.user`): its platform, scope and
    form. The domain sees only its `identity` (`caller_of`)."""

    platform: Platform
    scope: str
    token_form: str
    # Kept in memory for the length of the request only (GET credentials echoes it).
    presented_token: str = field(default="", repr=False)
    _identity: Caller | None = field(default=None, repr=False)

    is_authenticated = True

    @property
    def registered(self) -> bool:
        return self.scope == TokenScope.ACCESS

    @property
    def identity(self) -> Caller:
        """The platform and its roles, read on first use and kept for the request."""
        if self._identity is None:
            self._identity = Caller.of(self.platform)
        return self._identity


def ocpi_caller_of(request: Request) -> OcpiCaller:
    """The authenticated token of a request (views run after authentication)."""
    caller = request.user
    if not isinstance(caller, OcpiCaller):
        raise NotAuthenticatedError()
    return caller


def caller_of(request: Request) -> Caller:
    """Who an authenticated request speaks for: what selectors and services are given."""
    return ocpi_caller_of(request).identity


@dataclass(frozen=True)
class IssuedToken:
    """What a token digest resolves to, as plain values (`directory_cache` keeps copies): the
    token's digest and scope, its platform's columns and its platform's roles' columns."""

    digest: str
    scope: str
    platform: tuple[object, ...]
    roles: tuple[tuple[object, ...], ...]


def _issued_token(digests: tuple[str, ...]) -> IssuedToken | None:
    issued = PlatformToken.objects.select_related("platform").filter(digest__in=digests).first()
    if issued is None:
        return None
    roles = PlatformRole.objects.filter(platform_id=issued.platform_id)
    return IssuedToken(
        digest=issued.digest,
        scope=issued.scope,
        platform=row_values(issued.platform),
        roles=tuple(row_values(role) for role in roles),
    )


class CredentialsTokenAuthentication(BaseAuthentication):
    """Resolve the Authorization header to a platform through the digest of its token."""

    def authenticate(self, request: Request) -> tuple[OcpiCaller, PlatformToken] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        scheme, _, credential = header.strip().partition(" ")
        credential = credential.strip()
        if scheme.lower() != "token" or not credential:
            raise NotAuthenticatedError(
                "Authorization header must be 'Token <base64(credentials token)>'"
            )
        candidates = header_token_candidates(credential)
        digests = tuple(token_digest(token) for token, _ in candidates)
        # The token, its platform and roles: one copy per process between directory changes
        # (a revoked or rotated token, a suspension, a role change drop it at once).
        key = ("token", digests)
        issued = directory_cache.cached(key, lambda: _issued_token(digests)) if digests else None
        if issued is None:
            raise NotAuthenticatedError("Unknown credentials token")
        platform = platform_from_values(issued.platform)
        if platform.status == ConnectionStatus.SUSPENDED:
            raise NotAuthenticatedError("This platform is suspended; contact the hub operator")
        if self._touch(platform):
            directory_cache.forget(key)  # its copy holds the old last_seen_at
        token, form = next((t, f) for t, f in candidates if token_digest(t) == issued.digest)
        caller = OcpiCaller(
            platform=platform,
            scope=issued.scope,
            token_form=form,
            presented_token=token,
            _identity=Caller(platform=platform, roles=roles_from_values(issued.roles, platform)),
        )
        setattr(request._request, "ocpi_platform", platform)  # noqa: B010 - read by the log
        return caller, PlatformToken(platform=platform, digest=issued.digest, scope=issued.scope)

    def authenticate_header(self, request: Request) -> str:
        # A value here makes DRF answer 401 (not 403) to unauthenticated requests.
        return "Token"

    @staticmethod
    def _touch(platform: Platform) -> bool:
        """Stamp `last_seen_at` (at most once a minute) and say the platform was seen;
        True when the stamp was written."""
        now = timezone.now()
        stamped = False
        if platform.last_seen_at is None or now - platform.last_seen_at > _LAST_SEEN_RESOLUTION:
            Platform.objects.filter(pk=platform.pk).update(last_seen_at=now)
            platform.last_seen_at = now
            stamped = True
        # The registry decides what being seen means (an OFFLINE platform is CONNECTED again).
        platform_seen.send(sender=CredentialsTokenAuthentication, platform=platform)
        return stamped
