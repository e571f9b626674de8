"""Pull sync: GET a CPO's locations or tariffs SENDER list and store what it returns, for CPOs
that do not push (and as a safety net for those that do).

2.2.1 transport_and_format "Offline behaviour" and mod_locations/mod_tariffs: a receiver may
GET the sender's list (paginated, `date_from` for changes only) and "the list is the truth".

- Pages are followed through the `Link: <...>; rel="next"` header (which repeats the filters)
  until a page has none; a link off the endpoint's origin or path is not followed, the next
  page is asked for by `offset` instead (`hub.ocpi.partner_pages`: extrawest-ocpi's links are
  unusable), and `OCPI_PULL_SYNC_MAX_PAGES` stops a link loop.
- Incremental runs send `date_from` = the start of the previous successful run minus
  `OCPI_PULL_SYNC_OVERLAP_S` (the CPO stamps `last_updated` with its own clock); `full` runs
  send none.
- Which modules are pulled, and how, is the module table's `sync` (`hub.modules`).
- Each object is validated with the hub's serializer of its module; a CPO may only provide
  its own objects (country_code/party_id of the party synced, as the TO header named), others
  are refused. Objects are stored through the module's `put` (`location_write(method="PUT")`,
  `tariff_put`), so stale protection and the broadcast to eMSPs apply exactly as for a push.
- A full sync retires the party's objects the CPO no longer lists where the module says so
  (tariffs: `tariff_delete`); locations are never deleted (2.2.1: removal is
  `status=REMOVED` on the EVSE).
- Progress is a `SyncState` row per (platform, party, module); one run at a time per row.

The periodic task (`hub.pull_sync`) pulls every CONNECTED CPO that publishes the SENDER
endpoint, incrementally, every `OCPI_PULL_SYNC_INTERVAL_S`. A party that pushed that module
since its last pull (its objects changed after that pull finished) is pulled only every
`OCPI_PULL_SYNC_PUSHER_INTERVAL_S`: its pushes keep the hub current, and an incremental pull
of a CPO whose EVSE statuses change all day would re-fetch most of its locations every hour
for nothing; the longer interval keeps the pull as a safety net for lost pushes.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import import_string
from rest_framework import serializers

from hub.models import (
    ConnectionStatus,
    InterfaceRole,
    Platform,
    PlatformRole,
    Role,
    SyncState,
)
from hub.modules import PULLED_MODULES, PullSync, module_entry
from hub.ocpi.client import OcpiClient, OcpiClientError, UrlNotAllowedError
from hub.ocpi.datetimes import format_datetime
from hub.ocpi.exceptions import OcpiError, validation_message
from hub.ocpi.links import parse_next_link
from hub.ocpi.partner_pages import next_page_url
from hub.ocpi.routing import PartyRef, hub_party, new_message_id
from hub.services.results import WriteResult

logger = logging.getLogger(__name__)

MODULES = PULLED_MODULES
# Reasons kept per run (the counts are exact; the list is for the summary and the state).
MAX_PROBLEMS = 100

Progress = Callable[[int, int | None], None]
"""Called after each page with the objects fetched so far and X-Total-Count (if sent)."""


class SyncError(Exception):
    """A pull sync could not start or did not complete (the message says why)."""


@dataclass
class SyncResult:
    """What one run did."""

    party: PartyRef
    module: str
    full: bool
    started_at: datetime
    date_from: str | None = None
    pages: int = 0
    fetched: int = 0
    stored: int = 0
    unchanged: int = 0
    invalid: int = 0
    refused: int = 0
    deleted: int = 0
    problems: list[str] = field(default_factory=list)

    def problem(self, message: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(message)

    @property
    def summary(self) -> str:
        return (
            f"fetched {self.fetched}, stored {self.stored}, unchanged {self.unchanged}, "
            f"invalid {self.invalid}, refused {self.refused}, deleted {self.deleted}"
        )


# ---- where to pull from -------------------------------------------------------------------


def cpo_platform_of(party: PartyRef) -> Platform:
    """The registered platform hosting `party` as a CPO; SyncError otherwise."""
    role = (
        PlatformRole.objects.select_related("platform")
        .filter(country_code=party.country_code, party_id=party.party_id, role=Role.CPO)
        .first()
    )
    if role is None:
        raise SyncError(f"No CPO {party} is registered with the hub")
    platform = role.platform
    if not platform.registered or platform.status == ConnectionStatus.SUSPENDED:
        raise SyncError(f"{party} ({platform.name}) is {platform.status}, not registered")
    return platform


def sender_endpoint(platform: Platform, module: str) -> str:
    """The platform's SENDER endpoint URL for `module`; SyncError when it has none."""
    endpoint = platform.endpoints.filter(identifier=module, role=InterfaceRole.SENDER).first()
    if endpoint is None:
        raise SyncError(f"{platform.name} publishes no {module} SENDER endpoint")
    return str(endpoint.url)


# ---- pagination -----------------------------------------------------------------------------


def _total(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


# ---- storing ----------------------------------------------------------------------------


def _serializer(module: str, data: Any) -> serializers.Serializer:  # type: ignore[type-arg]
    serializer_class = module_entry(module).serializer_class()
    serializer: serializers.Serializer = serializer_class(data=data)  # type: ignore[type-arg]
    return serializer


def _pull_sync(module: str) -> PullSync:
    sync = module_entry(module).sync
    if sync is None:  # sync_module refuses such modules first
        raise SyncError(f"Cannot pull {module!r}")
    return sync


def _object_party(obj: dict[str, Any]) -> PartyRef | None:
    country_code, party_id = obj.get("country_code"), obj.get("party_id")
    if isinstance(country_code, str) and isinstance(party_id, str):
        return PartyRef.of(country_code, party_id)
    return None


def _store_one(
    obj: Any,
    *,
    index: int,
    platform: Platform,
    party: PartyRef,
    module: str,
    correlation_id: str,
    result: SyncResult,
    seen: set[str],
) -> None:
    if not isinstance(obj, dict):
        result.invalid += 1
        result.problem(f"object #{index}: not a JSON object")
        return
    object_id = obj.get("id")
    name = str(object_id) if isinstance(object_id, str) and object_id else f"object #{index}"
    owner = _object_party(obj)
    if owner is not None and owner != party:
        result.refused += 1
        result.problem(f"{name}: belongs to {owner}, not {party}; refused")
        return
    if isinstance(object_id, str):
        seen.add(object_id.upper())
    serializer = _serializer(module, obj)
    if not serializer.is_valid():
        result.invalid += 1
        result.problem(f"{name}: {validation_message(serializer.errors)}")
        return
    try:
        written: WriteResult[Any] = import_string(_pull_sync(module).put)(
            owner=platform,
            party=party,
            object_id=obj["id"],
            data=obj,
            correlation_id=correlation_id,
        )
    except OcpiError as exc:
        result.invalid += 1
        result.problem(f"{name}: {exc.message}")
        return
    except (KeyError, TypeError, ValueError) as exc:
        result.invalid += 1
        result.problem(f"{name}: {type(exc).__name__}: {exc}")
        return
    if written.changed:
        result.stored += 1
    else:
        result.unchanged += 1


def _retire_unlisted(
    platform: Platform, party: PartyRef, seen: set[str], correlation_id: str, result: SyncResult
) -> None:
    """A full list is the truth: the party's objects it no longer lists are retired, where
    the module retires objects at all."""
    retire = _pull_sync(result.module).retire_unlisted
    if retire is not None:
        result.deleted += import_string(retire)(
            owner=platform, party=party, listed=seen, correlation_id=correlation_id
        )


# ---- one run ------------------------------------------------------------------------------


def _claim(platform: Platform, party: PartyRef, module: str, now: datetime) -> SyncState:
    state, _ = SyncState.objects.get_or_create(
        platform=platform,
        country_code=party.country_code,
        party_id=party.party_id,
        module=module,
    )
    lease = now - timedelta(seconds=settings.OCPI_PULL_SYNC_TIME_LIMIT_S)
    claimed = (
        SyncState.objects.filter(pk=state.pk)
        .filter(Q(running_since__isnull=True) | Q(running_since__lt=lease))
        .update(running_since=now, last_run_at=now)
    )
    if not claimed:
        state.refresh_from_db()
        raise SyncError(
            f"A {module} sync of {party} is already running (since "
            f"{format_datetime(state.running_since or now)})"
        )
    state.refresh_from_db()
    return state


def _finish(state: SyncState, result: SyncResult, error: str) -> None:
    now = timezone.now()
    fields: dict[str, Any] = {
        "running_since": None,
        "last_finished_at": now,
        "full": result.full,
        "fetched": result.fetched,
        "stored": result.stored,
        "unchanged": result.unchanged,
        "invalid": result.invalid,
        "refused": result.refused,
        "deleted": result.deleted,
        "last_error": error[:2000],
    }
    if not error:
        fields["last_success_started_at"] = result.started_at
        if result.full:
            fields["last_full_success_at"] = result.started_at
    SyncState.objects.filter(pk=state.pk).update(**fields)


def sync_module(
    *,
    platform: Platform,
    party: PartyRef,
    module: str,
    full: bool = False,
    progress: Progress | None = None,
) -> SyncResult:
    """Pull `party`'s `module` list from its CPO platform and store it (see the module doc).

    Raises SyncError when the run cannot start or does not complete; what was stored before a
    failure stays stored, and the next incremental run starts from the last success.
    """
    if module not in MODULES:
        raise SyncError(f"Cannot pull {module!r}: only {', '.join(MODULES)}")
    endpoint = sender_endpoint(platform, module)
    started = timezone.now()
    state = _claim(platform, party, module, started)
    result = SyncResult(party=party, module=module, full=full, started_at=started)
    try:
        _run(platform, party, module, endpoint, state, result, progress)
    except BaseException as exc:  # the state is released whatever happened (Ctrl-C included)
        message = str(exc) if isinstance(exc, SyncError) else _describe(exc)
        _finish(state, result, message)
        expected = isinstance(exc, SyncError | OcpiClientError | UrlNotAllowedError)
        logger.warning(
            "Pull sync %s %s failed: %s (%s)",
            party,
            module,
            message,
            result.summary,
            exc_info=not expected,
        )
        if isinstance(exc, SyncError) or not isinstance(exc, Exception):
            raise
        raise SyncError(f"{message} (so far: {result.summary})") from exc
    _finish(state, result, "")
    logger.info("Pull sync %s %s: %s", party, module, result.summary)
    return result


def _describe(exc: BaseException) -> str:
    if isinstance(exc, UrlNotAllowedError):
        return f"the CPO's URL is refused: {exc}"
    if isinstance(exc, OcpiClientError):
        return str(exc)
    if not isinstance(exc, Exception):
        return f"interrupted ({type(exc).__name__})"
    return f"{type(exc).__name__}: {exc}"


def _first_page(endpoint: str, params: dict[str, str]) -> str:
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(params)}"


def _run(
    platform: Platform,
    party: PartyRef,
    module: str,
    endpoint: str,
    state: SyncState,
    result: SyncResult,
    progress: Progress | None,
) -> None:
    client = OcpiClient.for_platform(platform)
    correlation_id = new_message_id()
    params = {"offset": "0", "limit": str(settings.OCPI_PULL_SYNC_PAGE_SIZE)}
    if not result.full and state.last_success_started_at is not None:
        since = state.last_success_started_at - timedelta(seconds=settings.OCPI_PULL_SYNC_OVERLAP_S)
        result.date_from = format_datetime(since)
        params = {"date_from": result.date_from, **params}
    seen: set[str] = set()
    visited: set[str] = set()
    url: str | None = _first_page(endpoint, params)
    while url is not None:
        if result.pages >= settings.OCPI_PULL_SYNC_MAX_PAGES:
            raise SyncError(f"stopped after {result.pages} pages (OCPI_PULL_SYNC_MAX_PAGES)")
        visited.add(url)
        answer = client.get(
            url,
            module=module,
            correlation_id=correlation_id,
            from_party=hub_party(),
            to_party=party,
        )
        result.pages += 1
        if not isinstance(answer.data, list):
            raise SyncError(f"page {result.pages}: data is not a list")
        for obj in answer.data:
            result.fetched += 1
            _store_one(
                obj,
                index=result.fetched,
                platform=platform,
                party=party,
                module=module,
                correlation_id=correlation_id,
                result=result,
                seen=seen,
            )
        if progress is not None:
            progress(result.fetched, _total(answer.headers.get("X-Total-Count")))
        link = parse_next_link(answer.headers.get("Link"), url)
        url = next_page_url(link, url, endpoint, len(answer.data))
        if url is not None and url in visited:
            raise SyncError(f"the next-page link does not advance: {url}")
    if result.full:
        _retire_unlisted(platform, party, seen, correlation_id, result)


def sync_party(
    *, party: PartyRef, module: str, full: bool = False, progress: Progress | None = None
) -> SyncResult:
    """`sync_module` for a party address (the command's entry point)."""
    return sync_module(
        platform=cpo_platform_of(party), party=party, module=module, full=full, progress=progress
    )


# ---- the periodic pull ----------------------------------------------------------------------


def _pushed_since(party: PartyRef, module: str, since: datetime | None) -> bool:
    """Did the party's objects change after `since` (a pull's end)? Then it pushes."""
    if since is None:
        return False
    model = module_entry(module).model_class()
    return model._default_manager.filter(
        country_code=party.country_code, party_id=party.party_id, updated_at__gt=since
    ).exists()


@dataclass(frozen=True)
class DueSync:
    """One (platform, party, module) the periodic pull should run now."""

    platform_id: int
    country_code: str
    party_id: str
    module: str


def pull_sync_due(*, now: datetime | None = None) -> list[DueSync]:
    """The (CPO party, module) pairs due for an incremental pull, each claimed by stamping
    its `last_run_at` (so a backlog of queued runs is not enqueued again)."""
    now = now or timezone.now()
    roles = (
        PlatformRole.objects.select_related("platform")
        .filter(
            role=Role.CPO,
            platform__registered=True,
            platform__status=ConnectionStatus.CONNECTED,
        )
        .order_by("platform_id", "pk")
    )
    due: list[DueSync] = []
    for role in roles:
        party = PartyRef.of(role.country_code, role.party_id)
        senders = set(
            role.platform.endpoints.filter(
                role=InterfaceRole.SENDER, identifier__in=MODULES
            ).values_list("identifier", flat=True)
        )
        for module in MODULES:
            if module not in senders:
                continue
            state, _ = SyncState.objects.get_or_create(
                platform=role.platform,
                country_code=party.country_code,
                party_id=party.party_id,
                module=module,
            )
            interval = settings.OCPI_PULL_SYNC_INTERVAL_S
            if _pushed_since(party, module, state.last_finished_at):
                interval = max(interval, settings.OCPI_PULL_SYNC_PUSHER_INTERVAL_S)
            if state.last_run_at is not None and now - state.last_run_at < timedelta(
                seconds=interval
            ):
                continue
            with transaction.atomic():
                claimed = SyncState.objects.filter(
                    pk=state.pk, last_run_at=state.last_run_at
                ).update(last_run_at=now)
            if claimed:
                due.append(DueSync(role.platform_id, party.country_code, party.party_id, module))
    return due


def pull_sync_run(*, platform_id: int, country_code: str, party_id: str, module: str) -> str:
    """One periodic incremental pull (the `hub.pull_sync_party` task); failures are recorded
    in the SyncState and logged, never raised (the next interval retries)."""
    platform = Platform.objects.filter(
        pk=platform_id, registered=True, status=ConnectionStatus.CONNECTED
    ).first()
    if platform is None:
        return "skipped"
    try:
        result = sync_module(
            platform=platform, party=PartyRef.of(country_code, party_id), module=module
        )
    except SyncError as exc:
        return f"failed: {exc}"
    return result.summary


def pull_sync() -> list[str]:
    """Run every due incremental pull inline (tests, commands; the beat task `hub.pull_sync`
    instead hands each to its own `hub.pull_sync_party` task)."""
    return [
        f"{item.country_code}*{item.party_id} {item.module}: "
        + pull_sync_run(
            platform_id=item.platform_id,
            country_code=item.country_code,
            party_id=item.party_id,
            module=item.module,
        )
        for item in pull_sync_due()
    ]
