"""`manage.py ocpi_price_cdr --cdr CDR.json [--tariff T.json ...] [--time-zone Area/City]`:
recompute a CDR's totals from its charging periods and tariffs and print them beside the
totals the CDR reports (HUB-CHECKLIST §8, check 9; OCPI 2.2.1 mod_tariffs, mod_cdrs).

Tariffs: the `--tariff` files, else the CDR's own `tariffs`, else the stored Tariff rows the
periods name. Time zone: `--time-zone`, else the stored Location's `time_zone`, else the
country's when it has a single zone.
"""

import json
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from hub.models import Tariff
from hub.services.pricing import Price, PricingInputError, PricingResult, price_cdr
from hub.services.pricing.zones import cdr_time_zone

PRICE_KEYS = (
    "total_cost",
    "total_energy_cost",
    "total_time_cost",
    "total_parking_cost",
    "total_fixed_cost",
    "total_reservation_cost",
)
VOLUME_KEYS = ("total_energy", "total_time", "total_parking_time")
FOUR = Decimal("0.0001")


def _load(path: str, what: str) -> Any:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"{what} {path}: cannot be read ({exc.strerror})") from exc
    try:
        # parse_float=Decimal keeps the written digits: amounts never go through float.
        return json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise CommandError(f"{what} {path}: not valid JSON ({exc})") from exc


def _amount(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value)
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        return str(value)
    return str(number.quantize(FOUR, rounding=ROUND_HALF_UP))


def _price(value: Any) -> dict[str, str | None] | None:
    if isinstance(value, Price):
        return {"excl_vat": _amount(value.excl_vat), "incl_vat": _amount(value.incl_vat)}
    if isinstance(value, dict):
        return {
            "excl_vat": _amount(value.get("excl_vat")),
            "incl_vat": _amount(value.get("incl_vat")),
        }
    return None


def render(result: PricingResult, cdr: dict[str, Any]) -> dict[str, Any]:
    """The command's output: computed totals, the CDR's reported totals, and the issues."""
    computed: dict[str, Any] = {key: _price(getattr(result, key)) for key in PRICE_KEYS}
    computed.update({key: _amount(getattr(result, key)) for key in VOLUME_KEYS})
    reported: dict[str, Any] = {key: _price(cdr.get(key)) for key in PRICE_KEYS}
    reported.update({key: _amount(cdr.get(key)) for key in VOLUME_KEYS})
    return {
        "computed": computed,
        "reported": reported,
        "issues": [{"code": i.code, "message": i.message} for i in result.issues],
    }


class Command(BaseCommand):
    help = "Recompute a CDR's costs from its charging periods and tariffs (OCPI 2.2.1)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--cdr", required=True, help="CDR JSON file (may be partial)")
        parser.add_argument(
            "--tariff", action="append", default=[], help="Tariff JSON file (repeatable)"
        )
        parser.add_argument(
            "--time-zone", dest="time_zone", help="IANA zone, e.g. Europe/Amsterdam"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        cdr = _load(options["cdr"], "--cdr")
        if not isinstance(cdr, dict):
            raise CommandError(f"--cdr {options['cdr']}: must hold a CDR JSON object")
        tariffs = self.tariffs(cdr, options["tariff"])
        time_zone = options["time_zone"] or self.time_zone(cdr)
        try:
            result = price_cdr(cdr, tariffs, time_zone)
        except PricingInputError as exc:
            raise CommandError(f"cannot price the CDR: {exc}") from exc
        self.stdout.write(json.dumps(render(result, cdr)))

    def tariffs(self, cdr: dict[str, Any], paths: list[str]) -> list[dict[str, Any]]:
        if paths:
            found: list[dict[str, Any]] = []
            for path in paths:
                data = _load(path, "--tariff")
                # A file may hold one Tariff or a list of them (a GET tariffs page's data).
                items = data if isinstance(data, list) else [data]
                if not all(isinstance(t, dict) for t in items):
                    raise CommandError(f"--tariff {path}: must hold Tariff JSON objects")
                found.extend(items)
            return found
        if isinstance(cdr.get("tariffs"), list) and cdr["tariffs"]:
            return list(cdr["tariffs"])
        return self.stored_tariffs(cdr)

    def stored_tariffs(self, cdr: dict[str, Any]) -> list[dict[str, Any]]:
        periods = cdr.get("charging_periods")
        ids = {
            str(p["tariff_id"]).lower()
            for p in (periods if isinstance(periods, list) else [])
            if isinstance(p, dict) and p.get("tariff_id")
        }
        if not ids:
            raise CommandError(
                "no tariffs: pass --tariff, or a CDR with `tariffs` or periods with tariff_id"
            )
        rows = Tariff.objects.filter(deleted_at__isnull=True)
        if cdr.get("country_code") and cdr.get("party_id"):
            rows = rows.filter(
                country_code__iexact=cdr["country_code"], party_id__iexact=cdr["party_id"]
            )
        found = [row.data for row in rows if row.tariff_id.lower() in ids]
        missing = ids - {str(t.get("id", "")).lower() for t in found}
        if missing:
            raise CommandError(f"tariff(s) not stored: {', '.join(sorted(missing))}")
        return found

    def time_zone(self, cdr: dict[str, Any]) -> str:
        try:
            zone = cdr_time_zone(cdr)
        except PricingInputError as exc:
            raise CommandError(f"{exc}: pass --time-zone") from exc
        if zone is None:
            raise CommandError(
                "the Location's time zone is unknown (no stored Location, no known country): "
                "pass --time-zone Area/City"
            )
        return zone
