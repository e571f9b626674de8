"""`manage.py ocpi_price_cdr`: output shape, tariff and time-zone sources, errors."""

import json
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from hub.models import Location, Tariff

TARIFF = {
    "country_code": "NL",
    "party_id": "CPO",
    "id": "T1",
    "currency": "EUR",
    "elements": [
        {
            "price_components": [
                {"type": "FLAT", "price": 0.50, "vat": 20.0, "step_size": 1},
                {"type": "ENERGY", "price": 0.25, "vat": 10.0, "step_size": 1},
                {"type": "PARKING_TIME", "price": 2.00, "step_size": 900},
            ]
        }
    ],
    "last_updated": "2026-01-01T00:00:00Z",
}
CDR = {
    "country_code": "NL",
    "party_id": "CPO",
    "start_date_time": "2026-01-12T10:00:00Z",
    "end_date_time": "2026-01-12T12:40:00Z",
    "currency": "EUR",
    "cdr_location": {"id": "LOC1", "country": "NLD"},
    "charging_periods": [
        {
            "start_date_time": "2026-01-12T10:00:00Z",
            "tariff_id": "T1",
            "dimensions": [{"type": "ENERGY", "volume": 20}, {"type": "TIME", "volume": 2}],
        },
        {
            "start_date_time": "2026-01-12T12:00:00Z",
            "tariff_id": "T1",
            "dimensions": [{"type": "PARKING_TIME", "volume": 0.6667}],
        },
    ],
    "total_cost": {"excl_vat": 7.00, "incl_vat": 7.60},
    "total_energy": 20,
    "total_time": 2.6667,
}


def write(tmp_path: Path, name: str, data: Any) -> str:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


def run(*args: str) -> dict[str, Any]:
    out = StringIO()
    call_command("ocpi_price_cdr", *args, stdout=out)
    result: dict[str, Any] = json.loads(out.getvalue())
    return result


def test_output_shape_with_tariff_file_and_time_zone(tmp_path: Path) -> None:
    out = run(
        "--cdr", write(tmp_path, "cdr.json", CDR),
        "--tariff", write(tmp_path, "t.json", TARIFF),
        "--time-zone", "Europe/Amsterdam",
    )  # fmt: skip
    assert out == {
        "computed": {
            # the parking component has no vat: no VAT applicable, 1.5 incl = 1.5 excl
            "total_cost": {"excl_vat": "7.0000", "incl_vat": "7.6000"},
            "total_energy_cost": {"excl_vat": "5.0000", "incl_vat": "5.5000"},
            "total_time_cost": {"excl_vat": "0.0000", "incl_vat": "0.0000"},
            "total_parking_cost": {"excl_vat": "1.5000", "incl_vat": "1.5000"},
            "total_fixed_cost": {"excl_vat": "0.5000", "incl_vat": "0.6000"},
            "total_reservation_cost": {"excl_vat": "0.0000", "incl_vat": "0.0000"},
            "total_energy": "20.0000",
            "total_time": "2.6667",
            "total_parking_time": "0.6667",
        },
        "reported": {
            "total_cost": {"excl_vat": "7.0000", "incl_vat": "7.6000"},
            "total_energy_cost": None,
            "total_time_cost": None,
            "total_parking_cost": None,
            "total_fixed_cost": None,
            "total_reservation_cost": None,
            "total_energy": "20.0000",
            "total_time": "2.6667",
            "total_parking_time": None,
        },
        "issues": [],
    }


@pytest.mark.django_db
def test_tariffs_from_the_cdr_and_zone_from_the_country(tmp_path: Path) -> None:
    cdr = {**CDR, "tariffs": [TARIFF]}
    out = run("--cdr", write(tmp_path, "cdr.json", cdr))
    assert out["computed"]["total_cost"]["excl_vat"] == "7.0000"


def test_tariff_file_may_hold_a_list(tmp_path: Path) -> None:
    path = write(tmp_path, "t.json", [TARIFF])
    out = run("--cdr", write(tmp_path, "cdr.json", CDR), "--tariff", path, "--time-zone", "UTC")
    assert out["computed"]["total_fixed_cost"]["excl_vat"] == "0.5000"


@pytest.mark.django_db
def test_stored_tariff_and_location_time_zone(tmp_path: Path) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    Tariff.objects.create(
        country_code="NL", party_id="CPO", tariff_id="T1", data=TARIFF, currency="EUR",
        last_updated=now,
    )  # fmt: skip
    Location.objects.create(
        country_code="NL", party_id="CPO", location_id="LOC1",
        data={"id": "LOC1", "time_zone": "America/New_York"}, last_updated=now,
    )  # fmt: skip
    # A night tariff that only matches if the stored zone (New York, 05:00 local) is used.
    cdr = {**CDR, "cdr_location": {"id": "loc1", "country": "USA"}}
    night = {**TARIFF, "elements": [
        {"price_components": [{"type": "ENERGY", "price": 1, "step_size": 1}],
         "restrictions": {"start_time": "00:00", "end_time": "06:00"}},
    ]}  # fmt: skip
    Tariff.objects.filter(tariff_id="T1").update(data=night)
    out = run("--cdr", write(tmp_path, "cdr.json", cdr))
    assert out["computed"]["total_cost"]["excl_vat"] == "20.0000"


@pytest.mark.django_db
def test_stored_tariff_missing(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="not stored: t1"):
        run("--cdr", write(tmp_path, "cdr.json", CDR), "--time-zone", "UTC")


@pytest.mark.django_db
def test_country_with_several_zones_needs_the_option(tmp_path: Path) -> None:
    cdr = {**CDR, "tariffs": [TARIFF], "cdr_location": {"id": "X", "country": "ESP"}}
    with pytest.raises(CommandError, match="several time zones.*--time-zone"):
        run("--cdr", write(tmp_path, "cdr.json", cdr))
    cdr["cdr_location"] = {}
    with pytest.raises(CommandError, match="--time-zone"):
        run("--cdr", write(tmp_path, "cdr.json", cdr))


def test_bad_files(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="cannot be read"):
        run("--cdr", str(tmp_path / "missing.json"))
    with pytest.raises(CommandError, match="not valid JSON"):
        run("--cdr", write(tmp_path, "bad.json", "{nope"))
    with pytest.raises(CommandError, match="CDR JSON object"):
        run("--cdr", write(tmp_path, "list.json", []))
    with pytest.raises(CommandError, match="Tariff JSON objects"):
        run("--cdr", write(tmp_path, "c.json", CDR), "--tariff", write(tmp_path, "t.json", [1]))
    broken = {**CDR, "tariffs": [TARIFF]}
    broken.pop("end_date_time")
    with pytest.raises(CommandError, match="cannot price the CDR: end_date_time"):
        run("--cdr", write(tmp_path, "c.json", broken), "--time-zone", "UTC")
    with pytest.raises(CommandError, match="unknown time zone"):
        run("--cdr", write(tmp_path, "c.json", {**CDR, "tariffs": [TARIFF]}), "--time-zone", "X/Y")
