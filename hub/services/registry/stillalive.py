"""Still-alive check (DESIGN §5; 2.2.1 mod_hub_client_info: "track the time since the last
message from each party; when it exceeds X minutes (when unsure, start with 5 minutes), GET
that party's versions endpoint and use the result to drive CONNECTED/OFFLINE").

A registered platform (CONNECTED or OFFLINE) is *silent* when the hub has had no
authenticated request from it (`last_seen_at`) and has not probed it (`last_probe_at`) for
`OCPI_STILL_ALIVE_AFTER_S`. Recording every probe, whatever its result, means a platform is
probed at most once per interval, an OFFLINE one included (that is how its return is noticed,
besides its own next request: see `hub.services.registry.status.on_platform_seen`). The result goes
through `platform_set_status`, which pushes the ClientInfo change to the others.
"""

import logging
from collections import Counter
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from hub.models import ConnectionStatus, Platform
from hub.modules import ModuleID
from hub.ocpi.client import OcpiClient, OcpiClientError, UrlNotAllowedError
from hub.services.registry.status import platform_set_status

logger = logging.getLogger(__name__)

PROBED_STATUSES = (ConnectionStatus.CONNECTED, ConnectionStatus.OFFLINE)


def silent_platforms(*, now: datetime | None = None) -> QuerySet[Platform]:
    """Registered platforms, CONNECTED or OFFLINE, neither heard from nor probed within
    `OCPI_STILL_ALIVE_AFTER_S`."""
    cutoff = (now or timezone.now()) - timedelta(seconds=settings.OCPI_STILL_ALIVE_AFTER_S)
    return (
        Platform.objects.filter(registered=True, status__in=PROBED_STATUSES)
        .exclude(versions_url="")
        .filter(Q(last_seen_at__isnull=True) | Q(last_seen_at__lt=cutoff))
        .filter(Q(last_probe_at__isnull=True) | Q(last_probe_at__lt=cutoff))
    )


def still_alive_claim(*, now: datetime | None = None) -> list[int]:
    """The silent platforms, each claimed by setting its probe time (so two overlapping checks
    never probe one platform twice)."""
    now = now or timezone.now()
    claimed = []
    for platform_id in silent_platforms(now=now).values_list("pk", flat=True):
        if silent_platforms(now=now).filter(pk=platform_id).update(last_probe_at=now):
            claimed.append(platform_id)
    return claimed


def platform_probe(*, platform_id: int) -> str:
    """GET the platform's versions URL with its token (bounded timeout) and set CONNECTED on
    an OCPI success, OFFLINE otherwise. Returns the status set, or "skipped"."""
    platform = Platform.objects.filter(pk=platform_id).first()
    if platform is None or not platform.registered or platform.status not in PROBED_STATUSES:
        return "skipped"
    started = timezone.now()
    # The timeout bounds the whole probe: a partner trickling its versions is not alive.
    timeout = settings.OCPI_STILL_ALIVE_TIMEOUT_S
    client = OcpiClient.for_platform(platform, timeout=timeout, deadline=timeout)
    try:
        client.get(platform.versions_url, module=ModuleID.VERSIONS)
        alive, reason = True, ""
    except (OcpiClientError, UrlNotAllowedError) as exc:
        alive, reason = False, str(exc)
    with transaction.atomic():
        current = Platform.objects.select_for_update().filter(pk=platform_id).first()
        if current is None or not current.registered or current.status not in PROBED_STATUSES:
            return "skipped"  # unregistered or suspended while the probe ran
        if not alive and current.last_seen_at is not None and current.last_seen_at >= started:
            alive = True  # it called the hub while the probe ran: alive after all
        Platform.objects.filter(pk=platform_id).update(last_probe_at=timezone.now())
        status = ConnectionStatus.CONNECTED if alive else ConnectionStatus.OFFLINE
        if current.status != status:
            logger.info(
                "Still-alive: platform %s is now %s%s",
                platform_id,
                status,
                f" ({reason})" if reason else "",
            )
        platform_set_status(platform=current, status=status)
    return str(status)


def still_alive_check() -> dict[str, int]:
    """Probe every silent platform inline (tests, commands; the beat task `hub.still_alive_check`
    instead hands each claimed platform to its own probe task). Returns counts by outcome."""
    claimed = still_alive_claim()
    outcomes = Counter(platform_probe(platform_id=platform_id) for platform_id in claimed)
    return {"due": len(claimed), **outcomes}
