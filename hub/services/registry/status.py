"""A platform's connection status: the one place it changes, and what the registry does when
the wire says a platform was seen (DESIGN §5, still-alive).

`platform_set_status` sends `platform_status_changed` inside the transaction of the change;
HubClientInfo listens (`hub.services.registry.clientinfo`, connected in `hub.apps`), so the
outbox rows of the pushes commit with the status, and nothing here imports the outbox.
"""

from typing import Any

from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone

from hub.models import ConnectionStatus, Platform

# `platform`'s status changed (sent inside the transaction of the change, status and
# status_changed_at already set on the instance and in the database).
platform_status_changed = Signal()


def platform_set_status(*, platform: Platform, status: str) -> None:
    """Change a platform's connection status (and when it changed: ClientInfo.last_updated),
    and push its roles' ClientInfo to the other parties in the same transaction (2.2.1
    mod_hub_client_info; `hub.services.registry.clientinfo`)."""
    if platform.status == status:
        return
    with transaction.atomic():
        platform.status = status
        platform.status_changed_at = timezone.now()
        Platform.objects.filter(pk=platform.pk).update(
            status=status, status_changed_at=platform.status_changed_at
        )
        platform_status_changed.send(sender=Platform, platform=platform)


def on_platform_seen(sender: Any, *, platform: Platform, **kwargs: Any) -> None:
    """`hub.ocpi.signals.platform_seen`: a request from an OFFLINE platform proves it is alive
    (still-alive, DESIGN §5)."""
    if platform.status == ConnectionStatus.OFFLINE and platform.registered:
        platform_set_status(platform=platform, status=ConnectionStatus.CONNECTED)
