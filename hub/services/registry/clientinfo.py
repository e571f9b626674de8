"""HubClientInfo pushes (2.2.1 mod_hub_client_info): the hub is the data owner of ClientInfo
and PUTs every new or changed one to the connected parties' RECEIVER endpoint,
`{endpoint}/{country_code}/{party_id}`.

- A platform's status change (`platform_set_status`) announces the ClientInfo of each of its
  roles to every other registered, CONNECTED platform that publishes a `hubclientinfo`
  RECEIVER endpoint, in the transaction of the change (the outbox rows commit with it).
- A platform that becomes CONNECTED (registration, still-alive, return from OFFLINE) also
  gets the current ClientInfo of every other party, so that it learns the directory: while it
  was absent it received nothing (2.2.1: "send nothing, queue nothing" to an OFFLINE party),
  and a PUT of current state is harmless to a party that already knew it. These deliveries
  wait `OCPI_CLIENTINFO_DIRECTORY_DELAY_S`: a partner that just registered stores the hub's
  token when our answer to its POST credentials arrives, and must not see a PUT before that.
- ClientInfo is a configuration module: no OCPI-from/to headers (`routed=False`).
- ClientInfo is never deleted: a party that is gone (unregistered, suspended, removed) is
  announced SUSPENDED.
- The object key is `CC/PID/ROLE` (one ClientInfo per role); the body is built at send time
  from the platform's current status, `last_updated` being the time of the status change.
- In `OCPI_ROAMING_MODE=agreements` a party learns only of parties it has an agreement in force
  with (`selectors.client_infos_visible_to`, `may_route` with no scope); when an agreement
  starts or ends (`services.agreements.apply`) each side is sent the other's ClientInfo, as
  SUSPENDED once none is in force, dated by the agreement's change if that is newer.
"""

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from hub.models import (
    ConnectionStatus,
    Platform,
    PlatformRole,
    PushDelivery,
    Role,
)
from hub.modules import ModuleID
from hub.ocpi.datetimes import format_datetime
from hub.ocpi.routing import PartyRef
from hub.schemas.hubclientinfo import client_info
from hub.selectors import (
    client_info_changed_at,
    client_info_known_to,
    client_infos_visible_to,
    may_route,
    receivers_for,
)
from hub.services.delivery import broker
from hub.services.delivery.enqueue import push_enqueue, receiver_endpoint
from hub.services.delivery.types import PushRequest, Receiver

logger = logging.getLogger(__name__)

MODULE = ModuleID.HUB_CLIENT_INFO

# Every role receives ClientInfo (2.2.1: "all connected parties"), the TO party of a delivery
# (recorded, never sent: no routing headers) is the receiver's first role in this order.
ALL_ROLES: tuple[str, ...] = tuple(Role.values)


def clientinfo_key(role: PlatformRole) -> str:
    """The outbox object key of one party role's ClientInfo: `CC/PID/ROLE`."""
    return f"{role.country_code.upper()}/{role.party_id.upper()}/{role.role}"


def _party(role: PlatformRole) -> PartyRef:
    return PartyRef.of(role.country_code, role.party_id)


def on_platform_status_changed(sender: Any, *, platform: Platform, **kwargs: Any) -> None:
    """`hub.services.registry.status.platform_status_changed` (connected in `hub.apps`)."""
    clientinfo_status_changed(platform=platform)


def clientinfo_status_changed(*, platform: Platform) -> list[PushDelivery]:
    """Announce `platform`'s new status (on `platform_status_changed`, inside the transaction
    of the change); a platform that became CONNECTED is also sent the directory."""
    deliveries: list[PushDelivery] = []
    for role in platform.roles.all():
        deliveries += push_enqueue(
            module=MODULE,
            object_key=clientinfo_key(role),
            operation="PUT",
            receivers=receivers_for(
                MODULE, owner=_party(role), roles=ALL_ROLES, exclude_platform_id=platform.pk
            ),
        )
    if (
        platform.status == ConnectionStatus.CONNECTED
        and settings.OCPI_CLIENTINFO_DIRECTORY_ON_CONNECT
    ):
        deliveries += clientinfo_send_directory(
            platform=platform, delay_s=settings.OCPI_CLIENTINFO_DIRECTORY_DELAY_S
        )
    return deliveries


@transaction.atomic
def clientinfo_send_directory(*, platform: Platform, delay_s: float = 0.0) -> list[PushDelivery]:
    """Push the ClientInfo of every other party the platform may see to `platform` (if it is
    registered and publishes a hubclientinfo RECEIVER endpoint), `delay_s` from now."""
    if not platform.registered or receiver_endpoint(platform, MODULE) is None:
        return []
    own_roles = sorted(platform.roles.all(), key=lambda r: (ALL_ROLES.index(r.role), r.pk))
    if not own_roles:
        return []
    to_party = _party(own_roles[0])
    receiver = Receiver(platform, to_party)
    deliveries: list[PushDelivery] = []
    for role in client_infos_visible_to(platform).order_by("pk"):
        if may_route(_party(role), to_party, MODULE):
            deliveries += push_enqueue(
                module=MODULE,
                object_key=clientinfo_key(role),
                operation="PUT",
                receivers=[receiver],
            )
    if deliveries and delay_s > 0:
        _postpone(deliveries, delay_s)
    return deliveries


def _postpone(deliveries: list[PushDelivery], delay_s: float) -> None:
    """Make the deliveries due in `delay_s` (the outbox's immediate enqueue then skips them)
    and hand them to the broker with that countdown; the sweeper is the safety net."""
    due = timezone.now() + timedelta(seconds=delay_s)
    ids = [delivery.pk for delivery in deliveries]
    # The retry window starts when the delivery is due: the outbox gives up at claim once
    # `expires_at` passed, and a window shorter than the delay would end a delivery never
    # tried (and mark a healthy partner OFFLINE for it).
    PushDelivery.objects.filter(pk__in=ids).update(
        next_attempt_at=due, expires_at=F("expires_at") + timedelta(seconds=delay_s)
    )

    for delivery_id in ids:
        broker.dispatch_on_commit(delivery_id, ModuleID.HUB_CLIENT_INFO, delay_s)


def build_clientinfo_push(delivery: PushDelivery) -> PushRequest | None:
    """PUT the party's ClientInfo as it is now; a role that no longer exists is SUSPENDED
    (ClientInfo is never deleted). No routing headers: hubclientinfo is a configuration
    module."""
    country_code, party_id, role_name = delivery.object_key.split("/", 2)
    role = (
        PlatformRole.objects.select_related("platform")
        .filter(country_code=country_code, party_id=party_id, role=role_name)
        .first()
    )
    if role is not None:
        body = client_info(role)
        if not client_info_known_to(role, delivery.receiver):
            # Roaming agreements: a party the receiver has no agreement in force with is, for
            # it, not connected (2.2.1 mod_hub_client_info ConnectionStatus SUSPENDED).
            body["status"] = ConnectionStatus.SUSPENDED
        changed_at = client_info_changed_at(role, delivery.receiver)
        if changed_at is not None and changed_at > role.platform.status_changed_at:
            body["last_updated"] = format_datetime(changed_at)
    else:
        body = {
            "party_id": party_id,
            "country_code": country_code,
            "role": role_name,
            "status": ConnectionStatus.SUSPENDED,
            "last_updated": format_datetime(delivery.created_at),
        }
    return PushRequest("PUT", f"/{body['country_code']}/{body['party_id']}", body, routed=False)
