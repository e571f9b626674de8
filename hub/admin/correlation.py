"""The correlation page: one X-Correlation-ID's whole flow across partners in time order
(`hub.services.correlation`): the inbound request, the hops it was routed to, the deliveries
it caused and their attempts, a command and its result, and the sessions and CDRs it wrote.
Each row links to its own admin page; every correlation id in the admin links here
(`display.correlation_link`). Read-only and GET only; no document is shown (tokens and bodies
stay on the rows' own pages, where the exchange log never had them)."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse

from hub.admin.display import (
    CORRELATION_PARAMETER,
    DELIVERY_STATUS_COLOURS,
    changelist_url,
    ms_text,
    party_label,
    status_badge,
)
from hub.admin.site import SiteView, site
from hub.models import AsyncRequest, Cdr, OcpiExchange, PushAttempt, PushDelivery, Session
from hub.services.correlation import LIMIT, TrailEvent, correlation_trail, exchange_started

# The exchange log is the flow's evidence: who may read it may read the flow (every staff role).
PERMISSION = "hub.view_ocpiexchange"


class CorrelationForm(forms.Form):
    id = forms.CharField(
        max_length=255, strip=True, label="Correlation id", help_text="X-Correlation-ID"
    )


@dataclass(frozen=True)
class TrailRow:
    at: datetime
    kind: str
    where: str
    summary: str
    outcome: str
    url: str


def _outcome(http_status: int | None, ocpi_status: int | None, error: str) -> str:
    text = f"HTTP {http_status if http_status is not None else '—'}"
    text += f" / OCPI {ocpi_status if ocpi_status is not None else '—'}"
    return f"{text}: {error}" if error else text


def _exchange(e: OcpiExchange) -> TrailRow:
    return TrailRow(
        at=exchange_started(e),
        kind=f"exchange {e.get_direction_display()}",
        where=e.platform.name if e.platform else "—",
        summary=f"{e.method} {e.url} ({e.from_party or '—'} → {e.to_party or '—'}, "
        f"{ms_text(e.duration_ms)})",
        outcome=_outcome(e.http_status, e.ocpi_status, e.error or e.status_message),
        url=reverse("admin:hub_ocpiexchange_change", args=[e.pk]),
    )


def _delivery(d: PushDelivery) -> TrailRow:
    return TrailRow(
        at=d.created_at,
        kind="delivery",
        where=d.receiver.name,
        summary=f"{d.operation} {d.module} {d.object_key} → "
        f"{party_label(d.to_country_code, d.to_party_id)} ({d.attempts} attempts)",
        outcome=status_badge(d.status, d.get_status_display(), DELIVERY_STATUS_COLOURS),
        url=reverse("admin:hub_pushdelivery_change", args=[d.pk]),
    )


def _attempt(a: PushAttempt) -> TrailRow:
    return TrailRow(
        at=a.started_at,
        kind="attempt",
        where=a.delivery.receiver.name,
        summary=f"{a.method} {a.url} (delivery #{a.delivery_id}, {ms_text(a.duration_ms)})",
        outcome=_outcome(a.http_status, a.ocpi_status, a.error),
        url=reverse("admin:hub_pushdelivery_change", args=[a.delivery_id]),
    )


def _command(r: AsyncRequest, result: bool) -> TrailRow:
    url = reverse("admin:hub_asyncrequest_change", args=[r.pk])
    route = (
        f"{party_label(r.requester_country_code, r.requester_party_id)} → "
        f"{party_label(r.receiver_country_code, r.receiver_party_id)}"
    )
    if result:
        # The result's verdict only (its body is on the request's page).
        verdict = r.result_body.get("result") if isinstance(r.result_body, dict) else None
        return TrailRow(
            at=r.result_received_at or r.updated_at,
            kind="command result",
            where=r.receiver.name if r.receiver else "—",
            summary=f"{r.kind} {r.operation} result posted by the CPO ({route})",
            outcome=str(verdict or "—"),
            url=url,
        )
    return TrailRow(
        at=r.created_at,
        kind="command",
        where=r.requester.name,
        summary=f"{r.kind} {r.operation} {route}",
        outcome=r.get_state_display(),
        url=url,
    )


def _session(s: Session) -> TrailRow:
    return TrailRow(
        at=s.updated_at,
        kind="session",
        where=party_label(s.country_code, s.party_id),
        summary=f"session {s.session_id} for {party_label(s.token_country_code, s.token_party_id)}"
        f" ({s.kwh} kWh, latest write)",
        outcome=s.status,
        url=reverse("admin:hub_session_change", args=[s.pk]),
    )


def _cdr(c: Cdr) -> TrailRow:
    return TrailRow(
        at=c.received_at,
        kind="CDR",
        where=party_label(c.country_code, c.party_id),
        summary=f"CDR {c.cdr_id} for {party_label(c.token_country_code, c.token_party_id)} "
        f"({c.total_energy} kWh, {c.total_cost_excl_vat} {c.currency} excl. VAT)",
        outcome="credit" if c.credit else "stored",
        url=reverse("admin:hub_cdr_change", args=[c.pk]),
    )


def trail_row(event: TrailEvent) -> TrailRow:
    obj: Any = event.obj
    if event.kind == "exchange":
        return _exchange(obj)
    if event.kind == "delivery":
        return _delivery(obj)
    if event.kind == "attempt":
        return _attempt(obj)
    if event.kind in ("command", "command result"):
        return _command(obj, result=event.kind == "command result")
    if event.kind == "session":
        return _session(obj)
    return _cdr(obj)


def correlation_view(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied
    form = CorrelationForm(request.GET if CORRELATION_PARAMETER in request.GET else None)
    context: dict[str, Any] = {
        **site.each_context(request),
        "title": "Correlation trail",
        "form": form,
        "limit": LIMIT,
    }
    if form.is_bound and form.is_valid():
        correlation_id = form.cleaned_data["id"]
        trail = correlation_trail(correlation_id)
        context.update(
            correlation_id=correlation_id,
            rows=[trail_row(event) for event in trail.events],
            truncated=trail.truncated,
            log_url=changelist_url("ocpiexchange", correlation_id=correlation_id),
            deliveries_url=changelist_url("pushdelivery", q=correlation_id),
        )
    return TemplateResponse(request, "admin/hub/correlation.html", context)


site.register_view(
    SiteView(
        route="hub/correlation/",
        view=correlation_view,
        name="hub-correlation",
        title="Correlation trail",
        group="Exchange log",
        permission=PERMISSION,
    )
)
