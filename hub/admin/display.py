"""How the admin renders the hub's values: badges, documents, parties and links between pages.

Links are built from keys and ids on the row itself, never by loading the object they point
to, so a changelist page stays one query however many links it shows.
"""

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import Truncator

from hub.models import CircuitState, ConnectionStatus, DeliveryStatus, Platform

# Badge colours per connection status: green flows, amber waits, red is stopped.
STATUS_COLOURS: dict[str, str] = {
    ConnectionStatus.CONNECTED: "#2e7d32",
    ConnectionStatus.OFFLINE: "#ef6c00",
    ConnectionStatus.PLANNED: "#546e7a",
    ConnectionStatus.SUSPENDED: "#c62828",
}

# Outbox status colours: blue waits, purple is being sent, green arrived, red needs staff.
DELIVERY_STATUS_COLOURS: dict[str, str] = {
    DeliveryStatus.PENDING: "#1565c0",
    DeliveryStatus.HELD: "#ef6c00",  # the receiver is suspended: kept, waiting
    DeliveryStatus.IN_FLIGHT: "#6a1b9a",
    DeliveryStatus.DELIVERED: "#2e7d32",
    DeliveryStatus.FAILED: "#c62828",
    DeliveryStatus.DEAD: "#4e342e",
    DeliveryStatus.CANCELLED: "#546e7a",
}

# A receiver's circuit breaker: green sends, red waits, amber probes.
CIRCUIT_COLOURS: dict[str, str] = {
    CircuitState.CLOSED: "#2e7d32",
    CircuitState.OPEN: "#c62828",
    CircuitState.HALF_OPEN: "#ef6c00",
}

# The outbox changelist parameter of `filters.ObjectTreeFilter` (an object and its children).
OBJECT_TREE_PARAMETER = "object_tree"


def status_badge(status: str, label: str, colours: dict[str, str] = STATUS_COLOURS) -> str:
    colour = colours.get(status, "#546e7a")
    return format_html(
        '<span style="background:{};color:#fff;padding:2px 8px;border-radius:10px;'
        'font-size:0.85em;white-space:nowrap">{}</span>',
        colour,
        label,
    )


def pretty_json(document: Any) -> str:
    return format_html(
        '<pre style="white-space:pre-wrap;max-height:60em;overflow:auto;margin:0">{}</pre>',
        json.dumps(document, indent=2, ensure_ascii=False),
    )


def short(text: str, length: int = 60) -> str:
    """A long text cut for a list column, whole in its tooltip."""
    if not text:
        return "—"
    return format_html('<span title="{}">{}</span>', text, Truncator(text).chars(length))


def party_label(country_code: str, party_id: str) -> str:
    return f"{country_code}*{party_id}" if country_code or party_id else "—"


def ms_text(duration_ms: float | None) -> str:
    return "—" if duration_ms is None else f"{duration_ms:.0f} ms"


def duration_text(delta: timedelta) -> str:
    seconds = delta.total_seconds()
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def document_text(obj: Any, annotation: str, *path: str) -> str:
    """A value inside an object's document: from its list annotation (the list never loads
    the documents), else from the document itself (the change page)."""
    value = getattr(obj, annotation, None)
    if value is None and annotation not in obj.__dict__:
        value = obj.data
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
    return "—" if value is None or value == "" else str(value)


def changelist_url(model: str, **query: str) -> str:
    return reverse(f"admin:hub_{model}_changelist") + "?" + urlencode(query)


def deliveries_url(module: str, object_key: str) -> str:
    """The outbox rows of one object and of the objects within it (ObjectTreeFilter)."""
    return changelist_url("pushdelivery", module=module, **{OBJECT_TREE_PARAMETER: object_key})


def platform_link(platform: Platform | None) -> str:
    """A platform's name linked to its page."""
    if platform is None:
        return "—"
    url = reverse("admin:hub_platform_change", args=[platform.pk])
    return format_html('<a href="{}">{}</a>', url, platform.name)


# The admin URL name of the correlation page (hub.admin.correlation), its id parameter.
CORRELATION_VIEW = "admin:hub-correlation"
CORRELATION_PARAMETER = "id"


def correlation_url(correlation_id: str) -> str:
    """The correlation page of one id: every record of its flow, in time order."""
    return reverse(CORRELATION_VIEW) + "?" + urlencode({CORRELATION_PARAMETER: correlation_id})


def correlation_link(correlation_id: str) -> str:
    """A correlation id linked to its correlation page (every exchange, delivery, attempt,
    command, session and CDR of one end-to-end OCPI flow), and to the exchange log filtered
    by it."""
    if not correlation_id:
        return "—"
    log = changelist_url("ocpiexchange", correlation_id=correlation_id)
    return format_html(
        '<a href="{}" title="Everything of this flow, in time order">{}</a> '
        '<a href="{}" title="Its exchanges in the exchange log">(log)</a>',
        correlation_url(correlation_id),
        correlation_id,
        log,
    )


def cdr_change_link(cdr_id: int | None, label: str) -> str:
    if cdr_id is None:
        return label or "—"
    return format_html('<a href="{}">{}</a>', reverse("admin:hub_cdr_change", args=[cdr_id]), label)


def platform_column(field: str, description: str) -> Callable[[Any, Any], str]:
    """A ModelAdmin column: the platform in foreign key `field`, linked, sorted by name (put
    `field` in `list_select_related`)."""

    @admin.display(description=description, ordering=f"{field}__name")
    def column(model_admin: Any, obj: Any) -> str:
        return platform_link(getattr(obj, field))

    return column


def party_column(prefix: str, description: str) -> Callable[[Any, Any], str]:
    """A ModelAdmin column: the party in the key pair `{prefix}country_code`/`party_id`."""

    @admin.display(description=description, ordering=f"{prefix}country_code")
    def column(model_admin: Any, obj: Any) -> str:
        return party_label(getattr(obj, f"{prefix}country_code"), getattr(obj, f"{prefix}party_id"))

    return column
