"""A fingerprint of the hub's stored state, to prove that a refused request changed nothing.

Every table the hub owns is hashed row by row, except those that record traffic rather than
state: the exchange log (every request is logged, refused or not, by design) and Django's own
session/admin bookkeeping.
"""

import functools
import hashlib
from dataclasses import dataclass

from django.db import connection

#: Tables that change on every request by design, refused or not.
TRAFFIC_TABLES = frozenset({"hub_ocpiexchange", "django_session", "django_admin_log"})
#: Columns that do too: a platform's last authenticated contact (minute resolution), which the
#: still-alive sweep reads; a refused request from a known platform is still contact.
TRAFFIC_COLUMNS = {"hub_platform": frozenset({"last_seen_at"})}
#: Tables hashed in two parts, the rows matching (column, value) apart: a command or
#: charging-profile request the hub could not route is kept as a FAILED row for staff (a
#: decision: tests/emsp_gateway/api/test_commands.py, "4001 and recorded failed"). A refusal
#: may add such a row; the runner allows exactly that and nothing else.
SPLIT_TABLES = {"hub_asyncrequest": ("state", "FAILED")}
RECORDED_FAILURES = "hub_asyncrequest[FAILED]"
#: What a refusal the hub relays from the receiver it forwarded to may change: its record of
#: the forwarded command or charging-profile request.
ASYNC_TABLES = frozenset({"hub_asyncrequest", RECORDED_FAILURES})
#: The outcome of a real-time authorization the hub routed, or answered as an unknown token:
#: a record for the analytics' allow/deny rates (hub.services.analytics.records), kept.
AUTHORIZATION_RECORDS = "hub_authorizationrecord"


@dataclass(frozen=True)
class Fingerprint:
    tables: dict[str, str]

    def changed_tables(self, other: "Fingerprint") -> list[str]:
        names = set(self.tables) | set(other.tables)
        return sorted(n for n in names if self.tables.get(n) != other.tables.get(n))


@functools.cache
def _queries() -> tuple[tuple[str, str], ...]:
    """(table, SELECT) per state table, introspected once: the schema does not change."""
    quote = connection.ops.quote_name
    queries = []
    with connection.cursor() as cursor:
        for table in sorted(connection.introspection.table_names(cursor)):
            if table in TRAFFIC_TABLES:
                continue
            columns = "*"
            if table in TRAFFIC_COLUMNS:
                described = connection.introspection.get_table_description(cursor, table)
                kept = [c.name for c in described if c.name not in TRAFFIC_COLUMNS[table]]
                columns = ", ".join(quote(c) for c in kept)
            select = f"SELECT {columns} FROM {quote(table)}"  # noqa: S608
            if table in SPLIT_TABLES:
                column, value = SPLIT_TABLES[table]
                where = f"{quote(column)} = '{value}'"
                queries.append((table, f"{select} WHERE NOT ({where})"))
                queries.append((f"{table}[{value}]", f"{select} WHERE {where}"))
            else:
                queries.append((table, select))
    return tuple(queries)


def take() -> Fingerprint:
    """Hash every state table (rows sorted, so the physical order does not matter)."""
    tables = {}
    with connection.cursor() as cursor:
        for table, query in _queries():
            cursor.execute(query)
            rows = sorted(repr(row) for row in cursor.fetchall())
            tables[table] = hashlib.sha256("\n".join(rows).encode()).hexdigest()
    return Fingerprint(tables)


def outbound_exchanges() -> int:
    """How many requests the hub has sent so far (its exchange log): whether a request was
    forwarded, so that a refusal is the receiver's rather than the hub's."""
    from hub.models import ExchangeDirection, OcpiExchange

    return OcpiExchange.objects.filter(direction=ExchangeDirection.OUTBOUND).count()
