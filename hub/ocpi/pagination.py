"""OCPI pagination (2.2.1 transport_and_format, Pagination).

`offset`/`limit` plus `date_from` (inclusive) and `date_to` (exclusive) on `last_updated`;
responses carry `X-Total-Count` (what this caller may see), `X-Limit` (the server's maximum
page size) and, unless this is the last page, `Link: <url>; rel="next"` repeating every filter.
The order is stable, oldest first: `(last_updated, pk)`.
"""

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db import connection
from django.db.models import Q, QuerySet
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from hub.ocpi.datetimes import DateTimeFormatError, parse_datetime
from hub.ocpi.exceptions import InvalidParametersError


@dataclass(frozen=True)
class PageParams:
    """The validated pagination parameters of one request."""

    offset: int
    limit: int
    date_from: datetime | None
    date_to: datetime | None
    # Keyset position (last_updated, pk) of the previous page's last object, carried in the
    # Link the hub hands out, so deep pages cost as little as the first (no OFFSET scan).
    after: tuple[datetime, int] | None = None


#: The largest offset/limit accepted: a signed 32-bit integer, which every backend can bind.
MAX_PAGE_NUMBER = 2**31 - 1


def _int_param(request: Request, name: str, default: int, minimum: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidParametersError(f"{name}: must be an integer") from None
    if value < minimum:
        raise InvalidParametersError(f"{name}: must be at least {minimum}")
    if value > MAX_PAGE_NUMBER:
        # Past any database's integer column the query itself would fail (a 500).
        raise InvalidParametersError(f"{name}: must be at most {MAX_PAGE_NUMBER}")
    return value


def _date_param(request: Request, name: str) -> datetime | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return parse_datetime(raw)
    except DateTimeFormatError as exc:
        raise InvalidParametersError(f"{name}: {exc}") from None


def encode_cursor(last_updated: datetime, pk: int) -> str:
    raw = f"{last_updated.isoformat()}|{pk}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _cursor_param(request: Request) -> tuple[datetime, int] | None:
    raw = request.query_params.get("cursor")
    if not raw:
        return None
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
        stamp, _, pk = text.partition("|")
        return datetime.fromisoformat(stamp), int(pk)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidParametersError("cursor: not a cursor this hub issued") from None


def page_params(request: Request) -> PageParams:
    """Parse and check the pagination parameters (2001 naming the parameter when invalid).

    A `limit` above the maximum is lowered to it: the server MAY return fewer objects.
    """
    max_limit = settings.OCPI_MAX_LIMIT
    limit = min(_int_param(request, "limit", settings.OCPI_DEFAULT_LIMIT, 1), max_limit)
    params = PageParams(
        offset=_int_param(request, "offset", 0, 0),
        limit=limit,
        date_from=_date_param(request, "date_from"),
        date_to=_date_param(request, "date_to"),
        after=_cursor_param(request),
    )
    if params.date_from and params.date_to and params.date_to <= params.date_from:
        raise InvalidParametersError("date_to: must be later than date_from")
    return params


def next_link(
    request: Request, params: PageParams, total: int, cursor: str | None = None
) -> str | None:
    """The `Link` header value for the next page, or None on the last page."""
    next_offset = params.offset + params.limit
    if next_offset >= total:
        return None
    query = [
        (name, value)
        for name, values in request.query_params.lists()
        if name not in ("offset", "limit", "cursor")
        for value in values
    ]
    query += [("offset", str(next_offset)), ("limit", str(params.limit))]
    if cursor:
        query.append(("cursor", cursor))
    url = f"{settings.OCPI_BASE_URL}{request.path}?{urlencode(query)}"
    return f'<{url}>; rel="next"'


def pagination_headers(
    request: Request, params: PageParams, total: int, cursor: str | None = None
) -> dict[str, str]:
    """`X-Total-Count`, `X-Limit` and (not on the last page) `Link`."""
    headers = {"X-Total-Count": str(total), "X-Limit": str(settings.OCPI_MAX_LIMIT)}
    link = next_link(request, params, total, cursor)
    if link:
        headers["Link"] = link
    return headers


def _after(queryset: QuerySet[Any], date_field: str, after: tuple[datetime, int]) -> QuerySet[Any]:
    """Rows after the keyset position. On the model's own column a row-value comparison lets
    the (last_updated, id) index seek straight to the page; through a join, the OR form."""
    stamp, pk = after
    if "__" not in date_field:
        model = queryset.model
        column = model._meta.get_field(date_field).column
        table = model._meta.db_table
        pk_column = model._meta.pk.column
        value = model._meta.get_field(date_field).get_db_prep_value(stamp, connection=connection)
        return queryset.extra(  # noqa: S610 - identifiers from the model, values as params
            where=[f'("{table}"."{column}", "{table}"."{pk_column}") > (%s, %s)'],
            params=[value, pk],
        )
    return queryset.filter(
        Q(**{f"{date_field}__gt": stamp}) | Q(**{date_field: stamp, "pk__gt": pk})
    )


class OcpiPagination(BasePagination):
    """DRF pagination class for every OCPI list (`DEFAULT_PAGINATION_CLASS`).

    The view names the timestamp field with `pagination_date_field` (default `last_updated`).
    """

    def paginate_queryset(
        self, queryset: QuerySet[Any], request: Request, view: APIView | None = None
    ) -> list[Any]:
        date_field = getattr(view, "pagination_date_field", "last_updated")
        self.request = request
        self.params = page_params(request)
        if self.params.date_from is not None:
            queryset = queryset.filter(**{f"{date_field}__gte": self.params.date_from})
        if self.params.date_to is not None:
            queryset = queryset.filter(**{f"{date_field}__lt": self.params.date_to})
        # Stable across calls (the spec: the same URL gives the same objects), oldest first.
        queryset = queryset.order_by(date_field, "pk")
        self.total = queryset.count()
        if self.params.after is not None:
            page = list(_after(queryset, date_field, self.params.after)[: self.params.limit])
        else:
            start = self.params.offset
            page = list(queryset[start : start + self.params.limit])
        self.cursor = None
        if page and len(page) == self.params.limit:
            last = page[-1]
            stamp = last
            for part in date_field.split("__"):
                stamp = getattr(stamp, part)
            self.cursor = encode_cursor(stamp, last.pk)
        return page

    def get_paginated_response(self, data: Any) -> Response:
        # Not at the top: DRF reads DEFAULT_PAGINATION_CLASS (this module) while importing
        # rest_framework.generics, which hub.ocpi.views imports: a top import would be a cycle.
        from hub.ocpi.views import OcpiResponse

        headers = pagination_headers(self.request, self.params, self.total, self.cursor)
        return OcpiResponse(data, headers=headers)

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return schema
