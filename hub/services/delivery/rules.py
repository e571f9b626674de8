"""The outbox's rules that every stage reads: which modules are state and which money, which
deliveries are open, how operations fold, which deliveries share an ordering group, and the
retry backoff."""

import random

from django.conf import settings

from hub.models import DeliveryStatus
from hub.modules import STATE_MODULES

# STATE_MODULES (hub.modules, the module table): deliveries that are state, dropped when the
# receiver goes OFFLINE (it re-syncs by GET, 2.2.1 transport_and_format "Offline behaviour").
# Everything else is money or a message that no GET can replay (sessions, CDRs, command and
# charging-profile results): its own queue, never cancelled, dead letter when given up.

# A delivery is open while it may still be sent: one open row per (receiver, object).
OPEN_STATUSES = (DeliveryStatus.PENDING, DeliveryStatus.HELD)

# Errors of the hub's own making (a builder that raises, a bug): they count as attempts but
# say nothing about the receiver (no circuit failure, no OFFLINE when given up).
HUB_ERROR = "hub error: "

# How long a delivery waits for an earlier one of the same object tree still in flight.
ORDERING_WAIT_S = 0.3

_OPERATION_RANK = {"PATCH": 0, "PUT": 1, "POST": 1, "DELETE": 2}


def is_money(module: str) -> bool:
    """Deliveries of `module` are money (or messages): never dropped, own queue."""
    return module not in STATE_MODULES


def merge_operation(current: str, new: str) -> str:
    return new if _OPERATION_RANK.get(new, 1) >= _OPERATION_RANK.get(current, 1) else current


def ordering_group(object_key: str) -> str:
    """Deliveries of one object tree (a location and its EVSEs and connectors; a tariff; a
    session) reach a receiver in order: they share this group."""
    return "/".join(object_key.split("/")[:3])


def backoff(attempts: int) -> float:
    base = settings.OCPI_PUSH_RETRY_BASE_S * (2 ** max(attempts - 1, 0))
    delay = min(settings.OCPI_PUSH_RETRY_MAX_S, base)
    return delay * random.uniform(0.5, 1.0)  # jitter: receivers recovering are not stampeded  # noqa: S311
