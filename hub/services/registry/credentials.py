"""The party registry's writes: invitations, both registration directions, rotation,
unregistration and suspension (2.2.1 credentials.asciidoc; DESIGN §2).

Network calls never run inside a database transaction: the registry is written only after
the partner answered, in one transaction, so a refused or unreachable partner leaves nothing
half-registered.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from hub.models import (
    ConnectionStatus,
    Platform,
    PlatformEndpoint,
    PlatformRole,
    PlatformToken,
    RegistrationInitiator,
    Role,
    TokenScope,
)
from hub.modules import ModuleID
from hub.ocpi.client import OcpiClient, OcpiClientError, OcpiRemoteError
from hub.ocpi.exceptions import (
    InvalidParametersError,
    MethodNotAllowedError,
    NoMatchingEndpointsError,
    OcpiError,
    validation_message,
)
from hub.ocpi.tokens import generate_token, token_digest
from hub.schemas.credentials import CredentialsSerializer
from hub.services.delivery.receivers import receiver_hold, receiver_release, receiver_unregistered
from hub.services.registry.discovery import DiscoveredEndpoint, PartnerDiscovery, discover_partner
from hub.services.registry.parties import (
    ClaimsPlan,
    PartyKey,
    claims_apply,
    claims_plan,
    lock_registry,
    parties_invite,
)
from hub.services.registry.status import platform_set_status

logger = logging.getLogger(__name__)


def hub_versions_url() -> str:
    """The hub's versions URL, handed to partners with Token A."""
    return f"{settings.OCPI_BASE_URL}/ocpi/versions"


def hub_credentials(token: str) -> dict[str, Any]:
    """The hub's Credentials object: a hub lists only its HUB role (2.2.1 credentials)."""
    business_details: dict[str, Any] = {"name": settings.OCPI_HUB_NAME}
    if settings.OCPI_HUB_WEBSITE:
        business_details["website"] = settings.OCPI_HUB_WEBSITE
    return {
        "token": token,
        "url": hub_versions_url(),
        "roles": [
            {
                "role": Role.HUB,
                "business_details": business_details,
                "party_id": settings.OCPI_PARTY_ID,
                "country_code": settings.OCPI_COUNTRY_CODE,
            }
        ],
    }


def _issue_token(platform: Platform, scope: str) -> str:
    token = generate_token()
    PlatformToken.objects.create(platform=platform, digest=token_digest(token), scope=scope)
    return token


@transaction.atomic
def platform_invite(
    *,
    name: str,
    platform: Platform | None = None,
    parties: Iterable[PartyKey] = (),
    actor: str = "hub",
    user: Any = None,
) -> tuple[Platform, str]:
    """Create a platform (or re-invite an unregistered one) and issue its Token A.

    `parties` (country_code, party_id, role) are the parties the invite is for: the partner's
    credentials may claim those only (`hub.services.registry.parties`); each must be free (2001).
    Only the digest is stored: the returned token is shown once, to be handed to the partner
    over a secure channel with the hub's versions URL.
    """
    if platform is None:
        platform = Platform.objects.create(name=name, status=ConnectionStatus.PLANNED)
    else:
        platform = Platform.objects.select_for_update().get(pk=platform.pk)
        if platform.registered:
            raise MethodNotAllowedError(
                f"{platform.name} is registered; rotate its credentials instead"
            )
        platform.tokens.filter(scope=TokenScope.REGISTRATION).delete()
        platform_set_status(platform=platform, status=ConnectionStatus.PLANNED)
    parties_invite(platform, parties, actor=actor, user=user)
    return platform, _issue_token(platform, TokenScope.REGISTRATION)


def _parse_credentials(data: object, field_prefix: str = "") -> dict[str, Any]:
    serializer = CredentialsSerializer(data=data)
    if not serializer.is_valid():
        raise InvalidParametersError(field_prefix + validation_message(serializer.errors))
    return dict(serializer.validated_data)


def _store_registration(
    platform: Platform,
    *,
    outbound_token: str,
    roles: list[dict[str, Any]],
    discovery: PartnerDiscovery,
    initiated_by: str,
) -> None:
    """Write what a completed credentials exchange established (inside a transaction)."""
    platform.outbound_token = outbound_token
    platform.versions_url = discovery.versions_url
    platform.version = discovery.version
    platform.version_details_url = discovery.details_url
    platform.token_encoding = discovery.token_encoding
    platform.registered = True
    platform.initiated_by = platform.initiated_by or initiated_by
    platform.registered_at = platform.registered_at or timezone.now()
    platform.save()
    platform.roles.all().delete()
    PlatformRole.objects.bulk_create(
        PlatformRole(
            platform=platform,
            role=role["role"],
            country_code=role["country_code"].upper(),
            party_id=role["party_id"].upper(),
            business_details=role["business_details"],
        )
        for role in roles
    )
    _store_endpoints(platform, discovery.endpoints)
    platform_set_status(platform=platform, status=ConnectionStatus.CONNECTED)


def _store_endpoints(platform: Platform, endpoints: Iterable[DiscoveredEndpoint]) -> None:
    platform.endpoints.all().delete()
    unique = {(e.identifier, e.role): e for e in endpoints}
    PlatformEndpoint.objects.bulk_create(
        PlatformEndpoint(platform=platform, identifier=e.identifier, role=e.role, url=e.url)
        for e in unique.values()
    )


def _claim_roles(
    platform: Platform, roles: list[dict[str, Any]], *, actor: str, field_prefix: str = ""
) -> ClaimsPlan:
    """Inside the registry's transaction: check the claimed roles again under the registry
    lock (they were checked before the network calls too) and write the claims."""
    lock_registry()
    plan = claims_plan(platform, roles, field_prefix=field_prefix)
    claims_apply(platform, plan, actor=actor)
    return plan


def _claim_and_store(
    locked: Platform,
    credentials: dict[str, Any],
    discovery: PartnerDiscovery,
    *,
    actor: str,
    initiated_by: str,
    field_prefix: str = "",
) -> ClaimsPlan:
    """Inside the registry's transaction, with the platform row locked: claim the roles the
    partner's credentials name and store the registration they complete."""
    plan = _claim_roles(locked, credentials["roles"], actor=actor, field_prefix=field_prefix)
    _store_registration(
        locked,
        outbound_token=credentials["token"],
        roles=plan.working,
        discovery=discovery,
        initiated_by=initiated_by,
    )
    return plan


def credentials_register(
    *, platform: Platform, data: object, token_form: str, correlation_id: str | None = None
) -> tuple[dict[str, Any], str]:
    """POST credentials from a partner holding Token A (the hub is the Receiver).

    The claimed roles are checked first (`hub.services.registry.parties`: 2001, nothing called,
    nothing changed). Before answering, the hub GETs the partner's versions and details with the
    partner's token (3001/3002/3003 on failure), then issues its own token; Token A dies.
    Returns the hub's credentials and a message for the partner ("" or the pending parties).
    """
    return _partner_credentials(
        platform,
        data,
        token_form=token_form,
        correlation_id=correlation_id,
        method="POST",
    )


def credentials_update(
    *, platform: Platform, data: object, token_form: str, correlation_id: str | None = None
) -> tuple[dict[str, Any], str]:
    """PUT credentials from a registered partner: re-fetch its versions and endpoints with the
    new token (even when the version did not change) and answer with a new hub token.

    Parties it adds wait for staff approval, parties it leaves out stay reserved to it, parties
    it may not claim are refused before anything is called (`hub.services.registry.parties`)."""
    return _partner_credentials(
        platform,
        data,
        token_form=token_form,
        correlation_id=correlation_id,
        method="PUT",
    )


# Per credentials method: whether the platform must already be registered, and the refusal.
_REGISTERED_FOR = {
    "POST": (False, "Already registered: use PUT to update the credentials"),
    "PUT": (True, "Not registered: use POST to register first"),
}


def _partner_credentials(
    platform: Platform,
    data: object,
    *,
    token_form: str,
    correlation_id: str | None,
    method: str,
) -> tuple[dict[str, Any], str]:
    """The partner-initiated registration (POST) or update (PUT): the state check (2.2.1: 405),
    the claims checked before any call, discovery with the partner's token, then under the
    registry lock the state checked again, the claims written, the registration stored and a
    new hub token issued (every earlier one dies)."""
    must_be_registered, refusal = _REGISTERED_FOR[method]
    if platform.registered != must_be_registered:
        raise MethodNotAllowedError(refusal)
    credentials = _parse_credentials(data)
    claims_plan(platform, credentials["roles"])
    discovery = discover_partner(
        credentials["url"],
        credentials["token"],
        preferred_encoding=token_form,
        correlation_id=correlation_id,
    )
    with transaction.atomic():
        locked = Platform.objects.select_for_update().get(pk=platform.pk)
        if locked.registered != must_be_registered:
            raise MethodNotAllowedError(refusal)
        plan = _claim_and_store(
            locked,
            credentials,
            discovery,
            actor=f"partner {locked.name} (credentials {method})",
            initiated_by=RegistrationInitiator.PARTNER,
        )
        locked.tokens.all().delete()
        token = _issue_token(locked, TokenScope.ACCESS)
    if method == "POST":
        logger.info("Platform %s registered (partner-initiated)", locked.pk)
    else:
        logger.info("Platform %s updated its credentials", locked.pk)
    return hub_credentials(token), plan.pending_message


def _forget_registration(platform: Platform) -> None:
    platform.tokens.all().delete()
    platform.outbound_token = ""
    platform.registered = False
    platform.save(update_fields=["outbound_token", "registered", "updated_at"])
    platform_set_status(platform=platform, status=ConnectionStatus.SUSPENDED)
    # Only unregistration ends deliveries: state is cancelled, money stays as dead letters.
    receiver_unregistered(platform=platform)


@transaction.atomic
def credentials_unregister(*, platform: Platform) -> None:
    """DELETE credentials from a partner: its token dies and all traffic to it stops."""
    locked = Platform.objects.select_for_update().get(pk=platform.pk)
    if not locked.registered:
        raise MethodNotAllowedError("Not registered")
    _forget_registration(locked)
    logger.info("Platform %s unregistered itself", locked.pk)


class RegistrationError(Exception):
    """A hub-initiated registration, rotation or unregistration failed; nothing changed."""

    def __init__(self, message: str, *, ocpi_status: int | None = None) -> None:
        super().__init__(message)
        self.ocpi_status = ocpi_status


def _describe(exc: Exception) -> str:
    if isinstance(exc, OcpiRemoteError):
        result = exc.result
        status = f"OCPI {result.ocpi_status}" if result.ocpi_status else "no OCPI envelope"
        message = f": {result.message}" if result.message else ""
        return f"the partner answered HTTP {result.http_status}, {status}{message}"
    if isinstance(exc, OcpiError):
        return f"{exc.message} (OCPI {exc.ocpi_status})"
    return str(exc)


@dataclass(frozen=True)
class ConnectResult:
    """A completed hub-initiated registration."""

    platform: Platform
    roles: list[dict[str, Any]]
    endpoints: tuple[DiscoveredEndpoint, ...]


def _tell_partner_refused(url: str, token: str, encoding: str) -> None:
    """Best effort: DELETE the credentials the partner just issued, so that it does not keep a
    registration the hub refused (it would push to a hub that answers 401)."""
    try:
        OcpiClient(token=token, token_encoding=encoding).delete(url, module=ModuleID.CREDENTIALS)
    except (OcpiClientError, OcpiError) as exc:
        logger.warning("Refused registration: could not unregister at the partner: %s", exc)


def platform_connect(
    *,
    versions_url: str,
    token_a: str,
    name: str | None = None,
    platform: Platform | None = None,
    parties: Iterable[PartyKey] = (),
    actor: str = "hub (ocpi_connect)",
    user: Any = None,
) -> ConnectResult:
    """Register with a partner as the initiating side (the partner issued Token A).

    GET versions and details with Token A, POST the hub's credentials carrying a new token B
    (which the partner uses to call back during the POST), store the partner's token C. On any
    failure the platform and token B are removed again (or a given platform is left as it was).

    `parties` are the parties the connection is for (as an invite's): a partner whose
    credentials answer claims any other is refused (2001) like a partner POST would be, and is
    told so with a DELETE of the credentials it just issued.
    """
    try:
        discovery = discover_partner(versions_url, token_a)
    except OcpiError as exc:
        raise RegistrationError(_describe(exc), ocpi_status=exc.ocpi_status) from exc
    credentials_endpoint = discovery.endpoint(ModuleID.CREDENTIALS)
    if credentials_endpoint is None:  # also enforced by OCPI_REQUIRED_ENDPOINTS by default
        raise RegistrationError(
            "the partner publishes no credentials endpoint",
            ocpi_status=NoMatchingEndpointsError.ocpi_status,
        )
    if platform is not None and platform.registered:
        raise RegistrationError(f"{platform.name} is already registered; rotate instead")

    created = platform is None
    try:
        with transaction.atomic():
            if platform is None:
                platform = Platform.objects.create(
                    name=name or versions_url[:100],
                    status=ConnectionStatus.PLANNED,
                    initiated_by=RegistrationInitiator.HUB,
                )
            parties_invite(platform, parties, actor=actor, user=user)
            # The partner calls the hub back with token B while our POST is open, so B must
            # be committed (with registration scope) before the POST is sent.
            token_b = _issue_token(platform, TokenScope.REGISTRATION)
    except OcpiError as exc:
        raise RegistrationError(_describe(exc), ocpi_status=exc.ocpi_status) from exc
    token_b_digest = token_digest(token_b)

    def undo() -> None:
        if created:
            Platform.objects.filter(pk=platform.pk).delete()
        else:
            PlatformToken.objects.filter(digest=token_b_digest).delete()

    client = OcpiClient(token=token_a, token_encoding=discovery.token_encoding, platform=platform)
    try:
        result = client.post(
            credentials_endpoint.url, json=hub_credentials(token_b), module=ModuleID.CREDENTIALS
        )
        credentials = _parse_credentials(result.data, "partner credentials: ")
        try:
            claims_plan(platform, credentials["roles"], field_prefix="partner credentials: ")
        except OcpiError:
            _tell_partner_refused(
                credentials_endpoint.url, credentials["token"], discovery.token_encoding
            )
            raise
        if credentials["url"] != versions_url:
            # The partner may answer with another versions URL; its endpoints are read there,
            # with the token it just issued.
            discovery = discover_partner(
                credentials["url"],
                credentials["token"],
                preferred_encoding=discovery.token_encoding,
            )
    except (OcpiClientError, OcpiError) as exc:
        undo()
        raise RegistrationError(
            _describe(exc), ocpi_status=getattr(exc, "ocpi_status", None)
        ) from exc
    except BaseException:
        undo()
        raise
    try:
        with transaction.atomic():
            locked = Platform.objects.select_for_update().get(pk=platform.pk)
            plan = _claim_and_store(
                locked,
                credentials,
                discovery,
                actor=actor,
                initiated_by=RegistrationInitiator.HUB,
                field_prefix="partner credentials: ",
            )
            locked.tokens.exclude(digest=token_b_digest).delete()
            locked.tokens.filter(digest=token_b_digest).update(scope=TokenScope.ACCESS)
    except OcpiError as exc:  # a concurrent claim won the party meanwhile
        undo()
        raise RegistrationError(_describe(exc), ocpi_status=exc.ocpi_status) from exc
    logger.info("Platform %s registered (hub-initiated)", locked.pk)
    return ConnectResult(locked, plan.working, discovery.endpoints)


def _credentials_url(platform: Platform) -> str:
    endpoint = platform.endpoints.filter(identifier=ModuleID.CREDENTIALS).first()
    if endpoint is None:
        raise RegistrationError(f"{platform.name} publishes no credentials endpoint")
    return endpoint.url


def credentials_rotate(*, platform: Platform) -> Platform:
    """PUT new hub credentials to a registered partner (token rotation, DESIGN §2).

    The new token is accepted before the PUT (the partner re-fetches the hub's endpoints with
    it while the PUT is open); the old one dies only when the partner answered with its new
    token. A failure leaves the old pair working.
    """
    if not platform.registered:
        raise RegistrationError(f"{platform.name} is not registered")
    url = _credentials_url(platform)
    with transaction.atomic():
        new_token = _issue_token(platform, TokenScope.ACCESS)
    new_digest = token_digest(new_token)
    try:
        result = OcpiClient.for_platform(platform).put(
            url, json=hub_credentials(new_token), module=ModuleID.CREDENTIALS
        )
        credentials = _parse_credentials(result.data, "partner credentials: ")
        claims_plan(platform, credentials["roles"], field_prefix="partner credentials: ")
        discovery = discover_partner(
            credentials["url"], credentials["token"], preferred_encoding=platform.token_encoding
        )
    except (OcpiClientError, OcpiError) as exc:
        PlatformToken.objects.filter(digest=new_digest).delete()
        raise RegistrationError(
            _describe(exc), ocpi_status=getattr(exc, "ocpi_status", None)
        ) from exc
    with transaction.atomic():
        locked = Platform.objects.select_for_update().get(pk=platform.pk)
        plan = _claim_and_store(
            locked,
            credentials,
            discovery,
            actor="hub (credentials rotation)",
            initiated_by=locked.initiated_by,
            field_prefix="partner credentials: ",
        )
        locked.tokens.filter(~Q(digest=new_digest)).delete()
    if plan.pending_message:
        logger.warning("Platform %s: %s", locked.pk, plan.pending_message)
    logger.info("Platform %s: credentials rotated by the hub", locked.pk)
    return locked


def platform_unregister(*, platform: Platform) -> str | None:
    """DELETE the hub's credentials at the partner, then forget the registration locally.

    The local side always ends unregistered (the hub stops all traffic); a partner that could
    not be told is reported in the returned warning.
    """
    warning = None
    if platform.registered and platform.outbound_token:
        try:
            OcpiClient.for_platform(platform).delete(
                _credentials_url(platform), module=ModuleID.CREDENTIALS
            )
        except (OcpiClientError, RegistrationError) as exc:
            warning = f"the partner was not told: {_describe(exc)}"
    with transaction.atomic():
        locked = Platform.objects.select_for_update().get(pk=platform.pk)
        _forget_registration(locked)
    return warning


def platform_suspend(*, platform: Platform) -> None:
    """Stop all traffic with a platform without unregistering it (its calls get 401). Its
    deliveries are held, not cancelled: billing records wait for the reactivation."""
    with transaction.atomic():
        platform_set_status(platform=platform, status=ConnectionStatus.SUSPENDED)
        receiver_hold(platform=platform)


def platform_reactivate(*, platform: Platform) -> None:
    """Lift a suspension: CONNECTED when registered, else PLANNED; the held deliveries go out
    in their original order."""
    with transaction.atomic():
        platform_set_status(
            platform=platform,
            status=ConnectionStatus.CONNECTED if platform.registered else ConnectionStatus.PLANNED,
        )
        if platform.registered:
            receiver_release(platform=platform)
