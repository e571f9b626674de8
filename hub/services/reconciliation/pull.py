"""Pulling a CPO's CDR list for a period (a paginated GET on its cdrs SENDER) and ingesting
the CDRs the hub lacks exactly as if the CPO had POSTed them: each is a MISSING finding."""

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from django.conf import settings

from hub.models import Cdr, ConnectionStatus, InterfaceRole, Platform, PlatformRole
from hub.ocpi.client import OcpiClient, OcpiClientError, UrlNotAllowedError
from hub.ocpi.datetimes import format_datetime
from hub.ocpi.exceptions import InvalidParametersError, OcpiError, validation_message
from hub.ocpi.links import parse_next_link
from hub.ocpi.routing import PartyRef, hub_party, new_message_id
from hub.schemas.cdrs import CdrSerializer
from hub.services.cdrs import cdr_ingest
from hub.services.reconciliation.findings import MODULE, Finding, Kind, ReconciliationError

logger = logging.getLogger(__name__)

Progress = Callable[[str, int, int | None], None]
"""Called with a step label, items done and the total (if known)."""


@dataclass
class PullResult:
    """What pulling one CPO's list gave."""

    error: str = ""
    pulled: int = 0
    # MISSING findings by the eMSP (token party) they concern.
    missing: dict[PartyRef, list[Finding]] = field(default_factory=lambda: defaultdict(list))


def period_bounds(period_start: date, period_end: date) -> tuple[datetime, datetime]:
    return (
        datetime.combine(period_start, time.min, tzinfo=UTC),
        datetime.combine(period_end, time.min, tzinfo=UTC),
    )


def _sender_url(platform: Platform) -> str | None:
    endpoint = platform.endpoints.filter(identifier=MODULE, role=InterfaceRole.SENDER).first()
    return str(endpoint.url) if endpoint is not None else None


def pull_cdrs(
    role: PlatformRole,
    period_start: date,
    period_end: date,
    progress: Progress | None,
) -> PullResult:
    """GET the CPO's CDR list for the period and ingest the CDRs the hub lacks."""
    result = PullResult()
    platform = role.platform
    party = PartyRef.of(role.country_code, role.party_id)
    endpoint = _sender_url(platform)
    if endpoint is None:
        result.error = f"{platform.name} publishes no cdrs SENDER endpoint: list not pulled"
        return result
    if not platform.registered or platform.status != ConnectionStatus.CONNECTED:
        result.error = f"{platform.name} is {platform.status}: list not pulled"
        return result
    start, end = period_bounds(period_start, period_end)
    params = {
        "date_from": format_datetime(start),
        "date_to": format_datetime(end + timedelta(seconds=settings.OCPI_RECONCILE_PULL_SLACK_S)),
        "offset": "0",
        "limit": str(settings.OCPI_PULL_SYNC_PAGE_SIZE),
    }
    url: str | None = f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(params)}"
    client = OcpiClient.for_platform(platform)
    correlation_id = new_message_id()
    visited: set[str] = set()
    try:
        while url is not None:
            if len(visited) >= settings.OCPI_PULL_SYNC_MAX_PAGES or url in visited:
                raise ReconciliationError(f"the CPO's next-page links do not end: {url}")
            visited.add(url)
            answer = client.get(
                url,
                module=MODULE,
                correlation_id=correlation_id,
                from_party=hub_party(),
                to_party=party,
            )
            if not isinstance(answer.data, list):
                raise ReconciliationError(f"page {len(visited)}: data is not a list")
            for obj in answer.data:
                result.pulled += 1
                _compare_one(obj, platform, party, start, end, correlation_id, result)
            if progress is not None:
                total = answer.headers.get("X-Total-Count")
                progress(f"{party} pull", result.pulled, int(total) if total else None)
            url = parse_next_link(answer.headers.get("Link"), url)
    except (OcpiClientError, UrlNotAllowedError, ReconciliationError, ValueError) as exc:
        result.error = f"pulling {party}'s CDRs failed after {result.pulled}: {exc}"
        logger.warning("Reconciliation: %s", result.error)
    return result


def _compare_one(
    obj: Any,
    platform: Platform,
    party: PartyRef,
    start: datetime,
    end: datetime,
    correlation_id: str,
    result: PullResult,
) -> None:
    if not isinstance(obj, dict) or not isinstance(obj.get("id"), str):
        return
    cdr_id = obj["id"].upper()
    owner = PartyRef.of(str(obj.get("country_code", "")), str(obj.get("party_id", "")))
    if owner != party:  # a CPO lists only its own CDRs; anything else is not ours to ingest
        return
    stored = Cdr.objects.filter(
        country_code=party.country_code, party_id=party.party_id, cdr_id=cdr_id
    ).first()
    if stored is not None:
        return
    key = f"{party.country_code}/{party.party_id}/{cdr_id}"
    error = ""
    try:
        stored = _ingest(platform, party, obj, correlation_id)
    except OcpiError as exc:  # refused like a POST would be (invalid, unknown eMSP): reported
        error = exc.message
    except Exception as exc:  # one bad CDR must not stop the run: reported and logged
        logger.exception("Reconciliation: ingesting %s failed", key)
        error = f"{type(exc).__name__}: {exc}"
    raw_token = obj.get("cdr_token")
    token: dict[str, Any] = raw_token if isinstance(raw_token, dict) else {}
    emsp = PartyRef.of(str(token.get("country_code", "")), str(token.get("party_id", "")))
    ended = stored.end_date_time if stored is not None else _when(obj.get("end_date_time"))
    if ended is None or not start <= ended < end:
        # It bills another period, whose report cannot say MISSING any more (it is stored
        # now): the log keeps the trace.
        logger.warning(
            "Reconciliation: %s was missing (%s); it ends outside %s..%s",
            key,
            f"refused: {error}" if error else "ingested",
            format_datetime(start),
            format_datetime(end),
        )
        return
    message = "Listed by the CPO but never received by the hub"
    detail: dict[str, Any] = {"ingested": stored is not None}
    if error:
        message += f"; ingest refused it: {error}"
        detail["error"] = error
    result.missing[emsp].append(Finding(Kind.MISSING, stored, key, message, detail))


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _ingest(platform: Platform, party: PartyRef, obj: dict[str, Any], correlation_id: str) -> Cdr:
    """Store a pulled CDR exactly as if the CPO had POSTed it: the same schema validation
    (CdrSerializer), consistency findings, de-duplication and delivery to the token's eMSP."""
    serializer = CdrSerializer(data=obj)
    if not serializer.is_valid():
        raise InvalidParametersError(validation_message(serializer.errors))
    return cdr_ingest(owner=platform, party=party, data=obj, correlation_id=correlation_id).stored
