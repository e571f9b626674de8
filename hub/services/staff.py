"""Staff roles, and exports that are logged and safe to open in a spreadsheet.

Roles are Django groups, created by migration `0009_staff_roles` and kept in step with
`manage.py hub_staff_groups` (when models or permissions are added later):

- viewer: sees everything in the admin (view permissions of the hub's models), changes
  nothing, exports nothing;
- operator: a viewer who may also resend and cancel deliveries, suspend and reactivate
  platforms, and export CDRs and reconciliation findings;
- administrator: every permission of the hub (rotate, unregister, invite, edits included),
  user and group management, and the login lockouts (django-axes).

Superusers have every permission anyway; staff accounts should be plain staff users in one
of these groups.
"""

import csv
import io
import re
from collections.abc import Iterable
from typing import Any

from django.apps import apps as global_apps
from django.apps.registry import Apps
from django.http import HttpRequest

from hub.auth import staff_client_ip
from hub.models import StaffExport

VIEWER = "viewer"
OPERATOR = "operator"
ADMINISTRATOR = "administrator"

# What an operator may do beyond viewing (app label "hub").
OPERATOR_PERMISSIONS = (
    "suspend_platform",
    "resend_pushdelivery",
    "cancel_pushdelivery",
    "export_cdr",
    "export_reconciliationreport",
)
# Apps whose every permission an administrator holds besides the hub's: users and groups,
# and axes' lockout records (to lift a lockout).
ADMINISTRATOR_APPS = ("hub", "auth", "axes")

# A cell a spreadsheet would read as a formula (or as the start of one after trimming a tab
# or line break): OWASP's CSV injection list.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n")
# A plain decimal number ("-12.50", a credit's amount as text) is read as a number, not
# evaluated: it keeps its sign.
PLAIN_NUMBER_RE = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


def staff_groups_sync(apps: Apps = global_apps) -> dict[str, int]:
    """Create or update the three groups (idempotent); returns how many permissions each
    has. `apps` is the migration's historical registry when called from a migration."""
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    hub = permission_model.objects.filter(content_type__app_label="hub")
    viewer = list(hub.filter(codename__startswith="view_"))
    operator = viewer + list(hub.filter(codename__in=OPERATOR_PERMISSIONS))
    administrator = list(
        permission_model.objects.filter(content_type__app_label__in=ADMINISTRATOR_APPS)
    )
    counts = {}
    for name, permissions in (
        (VIEWER, viewer),
        (OPERATOR, operator),
        (ADMINISTRATOR, administrator),
    ):
        group, _ = group_model.objects.get_or_create(name=name)
        group.permissions.set(permissions)
        counts[name] = len(permissions)
    return counts


def csv_safe(value: Any) -> Any:
    """A cell as written to a CSV staff download: text that a spreadsheet would evaluate
    (`=HYPERLINK(...)` in a partner's CDR id) is prefixed with a quote, which makes it text.
    Numbers stay numbers (a credit's negative amount is not a formula)."""
    if (
        isinstance(value, str)
        and value.startswith(FORMULA_PREFIXES)
        and not PLAIN_NUMBER_RE.fullmatch(value)
    ):
        return "'" + value
    return value


class SafeCsvWriter:
    """`csv.writer` whose every text cell goes through `csv_safe`."""

    def __init__(self, stream: Any, **kwargs: Any) -> None:
        self._writer = csv.writer(stream, **kwargs)
        self.rows = 0

    def writerow(self, row: Iterable[Any]) -> Any:
        self.rows += 1
        return self._writer.writerow([csv_safe(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def safe_csv_text(rows: Iterable[Iterable[Any]]) -> str:
    out = io.StringIO()
    SafeCsvWriter(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def export_record(*, request: HttpRequest, what: str, rows: int, detail: str = "") -> Any:
    """Log one export: who (user and address), what, how many data rows."""
    user = request.user
    return StaffExport.objects.create(
        user=user if user.is_authenticated else None,
        username=user.get_username() if user.is_authenticated else "",
        what=what,
        rows=rows,
        detail=detail[:500],
        remote_addr=staff_client_ip(request),
    )


__all__ = [
    "ADMINISTRATOR",
    "OPERATOR",
    "OPERATOR_PERMISSIONS",
    "VIEWER",
    "SafeCsvWriter",
    "csv_safe",
    "export_record",
    "safe_csv_text",
    "staff_groups_sync",
]
