"""What starting or ending a roaming agreement makes the hub send (DESIGN §6b).

An agreement takes effect when it comes into force (added, resumed, its `valid_from` day
reached) and stops when it leaves it (suspended, ended, its `valid_to` day passed). The
selectors see that at once; this module does what each side needs besides, through the
outbox, in the transaction of the change:

- on start, the eMSP is sent the CPO's stored locations (full PUTs, only those the agreement
  names when it names some, EVSE status UNKNOWN without `evse_status`: the builders decide at
  send time) and, with the `tariffs` scope, its tariffs; it missed every update meanwhile;
  with the `tokens` scope the CPO is sent the eMSP's stored tokens likewise;
- on start and on stop, each side is sent the other's ClientInfo (2.2.1 mod_hub_client_info),
  CONNECTED while the agreement is in force, SUSPENDED once it is not, so each learns of the
  other or forgets it;
- on stop, nothing more: what is still queued for the pair is not sent
  (`selectors.delivery_refusal`, at send time) and nothing new is queued.

`in_force` records what was last applied: applying again changes nothing (idempotent), and the
daily job (`agreements_apply_due`, beat task `hub.agreements_apply`) applies only the
agreements whose validity dates moved them in or out of force. In open roaming mode nothing is
sent (everything already flows); `in_force` is still recorded.
"""

from dataclasses import dataclass
from datetime import date

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from hub.models import ConnectionStatus, Location, Platform, PushDelivery, Tariff, Token
from hub.models.agreements import AgreementScope, AgreementStatus, RoamingAgreement
from hub.modules import ModuleID
from hub.ocpi.routing import PartyRef
from hub.selectors import (
    CPO_DATA_RECEIVER_ROLES,
    platform_roles_of,
    publish_allowed_parties,
    receivers_for,
)
from hub.services.agreements import policy
from hub.services.delivery.enqueue import push_enqueue, receiver_endpoint
from hub.services.delivery.types import Receiver
from hub.services.locations import LocationAddress
from hub.services.registry.clientinfo import clientinfo_key
from hub.services.tariffs import tariff_key
from hub.services.tokens import token_key


@dataclass(frozen=True)
class AgreementEffects:
    """What applying an agreement did: `change` is "started", "stopped" or "unchanged"."""

    agreement_id: int
    change: str
    deliveries: int = 0


@transaction.atomic
def agreement_apply(
    agreement_id: int, *, on: date | None = None, resend: bool = False
) -> AgreementEffects:
    """Bring what the hub has sent in line with whether the agreement is in force on `on`
    (today). `resend`: an agreement in force whose terms changed (scopes, locations) sends the
    CPO's data again under the new terms (the outbox folds what is still queued)."""
    agreement = RoamingAgreement.objects.select_for_update().get(pk=agreement_id)
    in_force = agreement.is_in_force(on or policy.today())
    changed = in_force != agreement.in_force
    if not changed and not (resend and in_force):
        return AgreementEffects(agreement.pk, "unchanged")
    deliveries: list[PushDelivery] = []
    if not policy.roaming_open():
        if in_force:
            deliveries += _send_locations(agreement) + _send_tariffs(agreement)
            deliveries += _send_tokens(agreement)
        if changed:
            deliveries += _send_client_infos(agreement)
    if changed:
        # updated_at dates the ClientInfo pushed for the change (`client_info_changed_at`).
        RoamingAgreement.objects.filter(pk=agreement.pk).update(
            in_force=in_force, updated_at=timezone.now()
        )
    change = ("started" if in_force else "stopped") if changed else "unchanged"
    return AgreementEffects(agreement.pk, change, len(deliveries))


def agreements_apply_due(*, on: date | None = None) -> dict[str, int]:
    """Apply every agreement whose validity dates moved it in or out of force since it was
    last applied (the daily beat task); returns how many started and stopped."""
    day = on or policy.today()
    in_period = Q(valid_from__lte=day) & (Q(valid_to__isnull=True) | Q(valid_to__gte=day))
    due = RoamingAgreement.objects.filter(
        Q(in_force=True) & ~(Q(status=AgreementStatus.ACTIVE) & in_period)
        | Q(in_force=False, status=AgreementStatus.ACTIVE) & in_period
    ).values_list("pk", flat=True)
    counts = {"started": 0, "stopped": 0}
    for agreement_id in list(due):
        effects = agreement_apply(agreement_id, on=day)
        if effects.change in counts:
            counts[effects.change] += 1
    return counts


def _to_party(
    module: str,
    owner: PartyRef,
    party: PartyRef,
    location_id: str = "",
    roles: tuple[str, ...] = CPO_DATA_RECEIVER_ROLES,
) -> list[Receiver]:
    """The broadcast receivers of `owner`'s data that are `party` (routing rules as for any
    broadcast: CONNECTED, registered, publishing the module's RECEIVER)."""
    return [
        receiver
        for receiver in receivers_for(
            module, owner=owner, roles=roles, location_id=location_id or None
        )
        if receiver.party == party
    ]


def _send_locations(agreement: RoamingAgreement) -> list[PushDelivery]:
    if not agreement.allows(AgreementScope.LOCATIONS):
        return []
    cpo, emsp = policy.cpo_of(agreement), policy.emsp_of(agreement)
    locations = Location.objects.filter(country_code=cpo.country_code, party_id=cpo.party_id)
    if agreement.location_ids:
        locations = locations.filter(
            location_id__in=[str(i).upper() for i in agreement.location_ids]
        )
    deliveries: list[PushDelivery] = []
    for location in locations.order_by("pk"):
        # Private locations only to the eMSPs of the tokens publish_allowed_to names.
        if not location.publish and emsp not in publish_allowed_parties(location.data):
            continue
        receivers = [
            r
            for r in _to_party(ModuleID.LOCATIONS, cpo, emsp, location.location_id)
            if r.platform.pk != location.owner_id
        ]
        deliveries += push_enqueue(
            module=ModuleID.LOCATIONS,
            object_key=LocationAddress(cpo, location.location_id).key,
            operation="PUT",
            receivers=receivers,
        )
    return deliveries


def _send_tariffs(agreement: RoamingAgreement) -> list[PushDelivery]:
    if not agreement.allows(AgreementScope.TARIFFS):
        return []
    cpo, emsp = policy.cpo_of(agreement), policy.emsp_of(agreement)
    deliveries: list[PushDelivery] = []
    for tariff in Tariff.objects.filter(
        country_code=cpo.country_code, party_id=cpo.party_id, deleted_at__isnull=True
    ).order_by("pk"):
        receivers = [
            r
            for r in _to_party(ModuleID.TARIFFS, cpo, emsp, "")
            if r.platform.pk != tariff.owner_id
        ]
        deliveries += push_enqueue(
            module=ModuleID.TARIFFS,
            object_key=tariff_key(cpo, tariff.tariff_id),
            operation="PUT",
            receivers=receivers,
        )
    return deliveries


def _send_tokens(agreement: RoamingAgreement) -> list[PushDelivery]:
    """With the `tokens` scope the CPO is sent the eMSP's stored tokens (it missed them, and a
    CPO whitelisting tokens needs them before the first charge)."""
    if not agreement.allows(AgreementScope.TOKENS):
        return []
    cpo, emsp = policy.cpo_of(agreement), policy.emsp_of(agreement)
    deliveries: list[PushDelivery] = []
    for token in Token.objects.filter(
        country_code=emsp.country_code, party_id=emsp.party_id
    ).order_by("pk"):
        receivers = [
            r
            for r in _to_party(ModuleID.TOKENS, emsp, cpo, roles=("CPO",))
            if r.platform.pk != token.owner_id
        ]
        deliveries += push_enqueue(
            module=ModuleID.TOKENS,
            object_key=token_key(emsp, token.uid, token.type),
            operation="PUT",
            receivers=receivers,
        )
    return deliveries


def _client_info_receivers(party: PartyRef) -> list[Receiver]:
    """The registered, CONNECTED platforms hosting `party` that take HubClientInfo pushes."""
    platforms: dict[int, Platform] = {}
    for role in platform_roles_of(party):
        platform = role.platform
        if (
            platform.registered
            and platform.status == ConnectionStatus.CONNECTED
            and receiver_endpoint(platform, ModuleID.HUB_CLIENT_INFO) is not None
        ):
            platforms[platform.pk] = platform
    return [Receiver(platform, party) for platform in platforms.values()]


def _send_client_infos(agreement: RoamingAgreement) -> list[PushDelivery]:
    """Each side gets the ClientInfo of every role of the other (the builder says CONNECTED
    or SUSPENDED at send time, from the agreements then in force)."""
    cpo, emsp = policy.cpo_of(agreement), policy.emsp_of(agreement)
    deliveries: list[PushDelivery] = []
    for subject, audience in ((cpo, emsp), (emsp, cpo)):
        receivers = _client_info_receivers(audience)
        for role in platform_roles_of(subject).order_by("pk"):
            deliveries += push_enqueue(
                module=ModuleID.HUB_CLIENT_INFO,
                object_key=clientinfo_key(role),
                operation="PUT",
                receivers=[r for r in receivers if r.platform.pk != role.platform_id],
            )
    return deliveries
