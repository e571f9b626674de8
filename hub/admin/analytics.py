"""Analytics for staff: the figures of `hub.services.analytics` for a period and, optionally,
one party, as charts (Chart.js, served from the hub's static files) with tables beside them;
and the two records they are built from (EVSE status changes, routed authorizations),
read-only. Readable by every staff role: the page needs `hub.view_analytics`, which the
viewer role holds (`hub.services.staff`). Definitions: docs/analytics.md."""

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from hub.admin.display import ms_text, party_label
from hub.admin.mixins import ReadOnlyAdmin
from hub.admin.site import SiteView, site
from hub.models import AuthorizationRecord, EvseStatusChange, PlatformRole
from hub.ocpi.exceptions import OcpiError
from hub.services.analytics.period import Period, period_of
from hub.services.analytics.report import (
    ANALYTICS_ROLES,
    analytics_report,
    parse_party,
    staff_perspectives,
    staff_receivers,
)
from hub.services.analytics.utilisation import BUCKETS

PERMISSION = "hub.view_analytics"
# Rows per table on the page (the JSON endpoint has them all): a CPO with thousands of EVSEs
# must not make one page of thousands of rows.
TABLE_ROWS = 200


class AnalyticsFilterForm(forms.Form):
    date_from = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="From (inclusive, 00:00 UTC); default 30 days before the end",
    )
    date_to = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="To (exclusive, 00:00 UTC); default now",
    )
    party = forms.ChoiceField(required=False, help_text="A CPO or eMSP party; default all")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        parties = sorted(
            set(
                PlatformRole.objects.filter(role__in=ANALYTICS_ROLES).values_list(
                    "country_code", "party_id"
                )
            )
        )
        party_field = self.fields["party"]
        assert isinstance(party_field, forms.ChoiceField)
        party_field.choices = [("", "The whole hub")] + [
            (f"{cc}-{pid}", party_label(cc, pid)) for cc, pid in parties
        ]


def _chart_data(report: dict[str, Any]) -> dict[str, Any]:
    """What the page's charts draw (numbers only; the tables show the exact figures)."""
    parties = report["parties"]
    first = parties[0] if parties else None
    per_day = first["cdrs"]["per_day"] if first else []
    session_days = first["sessions"]["per_day"] if first else []
    utilisation = next((p["utilisation"] for p in parties if "utilisation" in p), None)
    locations = (utilisation or {}).get("locations", [])[:TABLE_ROWS]
    authorizations = first["authorizations"] if first else {}
    return {
        "days": [row["date"] for row in per_day],
        "cdr_sessions": [row["sessions"] for row in per_day],
        "cdr_kwh": [float(row["kwh"]) for row in per_day],
        "session_sessions": [row["sessions"] for row in session_days],
        "buckets": list(BUCKETS),
        "locations": [f"{r['country_code']}*{r['party_id']} {r['location_id']}" for r in locations],
        "location_shares": {
            bucket: [(r["shares"][bucket] or 0) for r in locations] for bucket in BUCKETS
        },
        "authorization_outcomes": {
            "ALLOWED": authorizations.get("allowed", 0),
            "DENIED": authorizations.get("denied", 0),
            "UNKNOWN_TOKEN": authorizations.get("unknown_token", 0),
            "REFUSED": authorizations.get("refused", 0),
            "TIMEOUT": authorizations.get("timeout", 0),
            "FAILED": authorizations.get("failed", 0),
        },
        "receivers": [row["receiver"] for row in report["deliveries"]],
        "attempt_p95_ms": [row["attempt_ms"]["p95"] for row in report["deliveries"]],
        "failed_attempts": [row["failed_attempts"] for row in report["deliveries"]],
    }


def _period(form: AnalyticsFilterForm) -> Period:
    data = form.cleaned_data
    return period_of(
        data["date_from"].isoformat() if data.get("date_from") else None,
        data["date_to"].isoformat() if data.get("date_to") else None,
    )


def analytics_view(request: HttpRequest) -> HttpResponse:
    """The analytics page (GET only: it changes nothing)."""
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied
    form = AnalyticsFilterForm(request.GET or None)
    context: dict[str, Any] = {
        **site.each_context(request),
        "title": "Analytics",
        "form": form,
        "buckets": BUCKETS,
        "table_rows": TABLE_ROWS,
    }
    valid = form.is_valid() if request.GET else True
    if valid:
        try:
            data = form.cleaned_data if request.GET else {}
            party = parse_party(data["party"]) if data.get("party") else None
            period = _period(form) if request.GET else period_of(None, None)
            report = analytics_report(period, staff_perspectives(party), staff_receivers(party))
        except OcpiError as exc:  # a bad period: said on the page, nothing computed
            context["error"] = exc.message
        else:
            context["report"] = report
            context["chart_data"] = _chart_data(report)
    return TemplateResponse(request, "admin/hub/analytics.html", context)


site.register_view(
    SiteView(
        route="hub/analytics/",
        view=analytics_view,
        name="hub-analytics",
        title="Analytics (charts)",
        group="Analytics",
        permission=PERMISSION,
    )
)


@admin.register(EvseStatusChange)
class EvseStatusChangeAdmin(ReadOnlyAdmin):
    """The status history utilisation is computed from."""

    list_display = ("changed_at", "party", "location", "evse_uid", "status", "recorded_at")
    list_filter = ("status", ("changed_at", admin.DateFieldListFilter))
    list_select_related = ("location",)
    search_fields = ("=evse_uid", "location__location_id", "=party_id")
    fields = (
        "location",
        "country_code",
        "party_id",
        "evse_uid",
        "status",
        "changed_at",
        "recorded_at",
    )

    @admin.display(description="CPO", ordering="country_code")
    def party(self, change: EvseStatusChange) -> str:
        return party_label(change.country_code, change.party_id)


@admin.register(AuthorizationRecord)
class AuthorizationRecordAdmin(ReadOnlyAdmin):
    """Every real-time authorization routed through the hub, and how it ended."""

    list_display = ("created_at", "cpo", "emsp", "outcome", "allowed", "ocpi_status", "duration")
    list_filter = ("outcome", "allowed", ("created_at", admin.DateFieldListFilter))
    search_fields = ("=cpo_party_id", "=emsp_party_id")
    fields = (
        "created_at",
        "cpo_country_code",
        "cpo_party_id",
        "emsp_country_code",
        "emsp_party_id",
        "outcome",
        "allowed",
        "ocpi_status",
        "duration_ms",
    )

    @admin.display(description="CPO", ordering="cpo_country_code")
    def cpo(self, record: AuthorizationRecord) -> str:
        return party_label(record.cpo_country_code, record.cpo_party_id)

    @admin.display(description="eMSP", ordering="emsp_country_code")
    def emsp(self, record: AuthorizationRecord) -> str:
        return party_label(record.emsp_country_code, record.emsp_party_id)

    @admin.display(description="duration", ordering="duration_ms")
    def duration(self, record: AuthorizationRecord) -> str:
        return ms_text(record.duration_ms)
