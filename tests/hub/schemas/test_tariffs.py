"""Tariff serializer against the 2.2.1 mod_tariffs tables."""

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.schemas.enums import TariffDimensionType
from hub.schemas.tariffs import TariffSerializer
from tests.fixtures import load_ocpi_fixture
from tests.hub.schemas.helpers import (
    assert_invalid,
    assert_valid,
    message_for,
    object_paths,
    with_value,
    without,
)

FIXTURES = ["tariff_complex", "tariff_free", "tariff_reservation", "tariff_min_max_price"]


def complex_() -> dict[str, Any]:
    return load_ocpi_fixture("tariffs", "tariff_complex")


def reservation() -> dict[str, Any]:
    return load_ocpi_fixture("tariffs", "tariff_reservation")


def min_max() -> dict[str, Any]:
    return load_ocpi_fixture("tariffs", "tariff_min_max_price")


# ---- valid objects -------------------------------------------------------------------------


@pytest.mark.parametrize("name", FIXTURES)
def test_valid_fixtures_pass_and_validated_data_is_the_input(name: str) -> None:
    data = load_ocpi_fixture("tariffs", name)
    validated = assert_valid(TariffSerializer, data).validated_data
    assert validated == data
    assert json.loads(json.dumps(validated)) == data


def test_typed_prices_are_decimals_of_the_json_spelling() -> None:
    # when
    typed = assert_valid(TariffSerializer, complex_()).typed_data
    # then: 3.6 is Decimal("3.6"), not the binary float 3.6000000000000000888…
    assert typed["elements"][0]["price_components"][0]["price"] == Decimal("3.6")
    assert typed["elements"][2]["restrictions"]["max_current"] == Decimal("125.5")
    typed = assert_valid(TariffSerializer, min_max()).typed_data
    assert typed["max_price"] == {"excl_vat": Decimal("40"), "incl_vat": Decimal("43.24")}


def test_free_tariff_price_zero_kept_as_sent() -> None:
    data = load_ocpi_fixture("tariffs", "tariff_free")
    validated = assert_valid(TariffSerializer, data).validated_data
    component = validated["elements"][0]["price_components"][0]
    assert component == {"type": "FLAT", "price": 0.0, "step_size": 1}


def test_representation_of_a_stored_tariff_is_unchanged() -> None:
    data = complex_()
    assert TariffSerializer(instance=data).data == data


# ---- cardinality ---------------------------------------------------------------------------

REQUIRED = [
    "country_code",
    "party_id",
    "id",
    "currency",
    "elements",
    "last_updated",
    "elements[0].price_components",
    "elements[3].price_components[1].type",
    "elements[3].price_components[1].price",
    "elements[3].price_components[1].step_size",
    "tariff_alt_text[0].language",
    "tariff_alt_text[1].text",
    "energy_mix.is_green_energy",
    "energy_mix.energy_sources[0].source",
    "energy_mix.energy_sources[1].percentage",
]


@pytest.mark.parametrize("path", REQUIRED)
def test_missing_required_field_is_named(path: str) -> None:
    assert_invalid(TariffSerializer, without(complex_(), path), path, "This field is required.")


@pytest.mark.parametrize("path", REQUIRED)
def test_null_required_field_is_refused(path: str) -> None:
    data = with_value(complex_(), path, None)
    assert_invalid(TariffSerializer, data, path, "may not be null")


@pytest.mark.parametrize("path", ["min_price.excl_vat", "max_price.excl_vat"])
def test_price_excl_vat_is_required(path: str) -> None:
    assert_invalid(TariffSerializer, without(min_max(), path), path, "This field is required.")


OPTIONAL = [
    "type",
    "tariff_alt_text",
    "tariff_alt_url",
    "start_date_time",
    "end_date_time",
    "energy_mix",
    "elements[0].restrictions",
    "elements[0].price_components[0].vat",
    *[
        f"elements[2].restrictions.{name}"
        for name in (
            "start_time",
            "end_time",
            "min_kwh",
            "max_kwh",
            "min_current",
            "max_current",
            "min_power",
            "max_power",
        )
    ],
    *[
        f"elements[4].restrictions.{name}"
        for name in ("start_date", "end_date", "min_duration", "max_duration", "reservation")
    ],
    "elements[0].restrictions.day_of_week",
]


@pytest.mark.parametrize("path", OPTIONAL)
def test_optional_field_may_be_omitted_or_null(path: str) -> None:
    assert_valid(TariffSerializer, without(complex_(), path))
    assert_valid(TariffSerializer, with_value(complex_(), path, None))


@pytest.mark.parametrize("path", ["min_price", "max_price", "min_price.incl_vat"])
def test_optional_price_fields(path: str) -> None:
    assert_valid(TariffSerializer, without(min_max(), path))
    assert_valid(TariffSerializer, with_value(min_max(), path, None))


@pytest.mark.parametrize("path", ["tariff_alt_text", "elements[0].restrictions.day_of_week"])
def test_optional_list_may_be_empty(path: str) -> None:
    assert_valid(TariffSerializer, with_value(complex_(), path, []))


def test_empty_restrictions_object_is_fine() -> None:
    assert_valid(TariffSerializer, with_value(complex_(), "elements[1].restrictions", {}))


@pytest.mark.parametrize("path", ["elements", "elements[2].price_components"])
def test_empty_plus_list_is_refused(path: str) -> None:
    assert_invalid(TariffSerializer, with_value(complex_(), path, []), path, "may not be empty")


# ---- lengths, strings ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "limit", "make"),
    [
        ("id", 36, lambda n: "T" * n),
        ("tariff_alt_text[0].text", 512, lambda n: "€" * n),
        ("tariff_alt_url", 255, lambda n: "https://p.example/" + "a" * (n - 18)),
        ("energy_mix.supplier_name", 64, lambda n: "s" * n),
        ("energy_mix.energy_product_name", 64, lambda n: "Ö" * n),
    ],
)
def test_length_limit(path: str, limit: int, make: Any) -> None:
    assert_valid(TariffSerializer, with_value(complex_(), path, make(limit)))
    assert_invalid(
        TariffSerializer,
        with_value(complex_(), path, make(limit + 1)),
        path,
        f"no more than {limit} characters",
    )


@given(st.integers(min_value=1, max_value=80))
def test_id_valid_exactly_up_to_36_characters(length: int) -> None:
    valid = not message_for(TariffSerializer, with_value(complex_(), "id", "x" * length))
    assert valid == (length <= 36)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("currency", "EURO"),
        ("tariff_alt_text[0].language", "deu"),
        ("elements[0].restrictions.start_time", "07:00h"),
        ("elements[4].restrictions.start_date", "2025-03-011"),
    ],
)
def test_over_long_formatted_strings_are_refused(path: str, value: str) -> None:
    assert_invalid(TariffSerializer, with_value(complex_(), path, value), path)


@pytest.mark.parametrize("currency", ["eur", "Eur", "E1R", "EU", "€"])
def test_currency_must_be_three_upper_case_letters(currency: str) -> None:
    assert_invalid(TariffSerializer, with_value(complex_(), "currency", currency), "currency")


@pytest.mark.parametrize(
    "url", ["voltaro.example.de/preise", "ftp://voltaro.example.de/preise", "https://"]
)
def test_tariff_alt_url_must_be_an_http_url(url: str) -> None:
    assert_invalid(
        TariffSerializer, with_value(complex_(), "tariff_alt_url", url), "tariff_alt_url"
    )


def test_alt_text_may_not_contain_line_breaks() -> None:
    path = "tariff_alt_text[1].text"
    data = with_value(complex_(), path, "Fast charging:\n€0.59/kWh")
    assert_invalid(TariffSerializer, data, path, "line breaks")


# ---- types and numbers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "value", "fragment"),
    [
        ("elements[0].price_components[0].price", "3.60", "JSON number"),
        ("elements[0].price_components[0].price", True, "JSON number"),
        ("elements[0].price_components[0].price", {"amount": 3.6}, "JSON number"),
        ("elements[0].price_components[0].vat", "19", "JSON number"),
        ("elements[0].price_components[0].step_size", 60.0, "valid integer"),
        ("elements[0].price_components[0].step_size", "60", "valid integer"),
        ("elements[0].price_components[0].step_size", True, "valid integer"),
        ("elements[4].restrictions.min_duration", 14400.5, "valid integer"),
        ("elements[4].restrictions.max_duration", "86400", "valid integer"),
        ("elements[2].restrictions.max_kwh", "40.5", "JSON number"),
        ("elements[2].restrictions.min_power", False, "JSON number"),
        ("elements[0].restrictions.day_of_week", "MONDAY", "Expected a list"),
        ("elements", {"price_components": []}, "Expected a list"),
        ("energy_mix", True, "Expected a dictionary"),
        ("id", 2025, "Not a valid string"),
        ("currency", 978, "Not a valid string"),
        ("elements[0].restrictions.start_time", 700, "Not a valid string"),
        ("start_date_time", "2025-03-01", "OCPI DateTime"),
        ("last_updated", "2025-02-20T11:00:00+01:00", "OCPI DateTime"),
    ],
)
def test_wrong_type_is_refused(path: str, value: Any, fragment: str) -> None:
    assert_invalid(TariffSerializer, with_value(complex_(), path, value), path, fragment)


@pytest.mark.parametrize(
    ("path", "value"),
    [("min_price.excl_vat", "2.50"), ("max_price.incl_vat", True), ("min_price", 2.5)],
)
def test_price_class_types(path: str, value: Any) -> None:
    assert_invalid(TariffSerializer, with_value(min_max(), path, value), path)


@pytest.mark.parametrize(
    "path",
    [
        "elements[0].price_components[0].price",
        "elements[0].price_components[0].vat",
        "elements[0].price_components[0].step_size",
        "elements[2].restrictions.min_kwh",
        "elements[2].restrictions.max_current",
        "elements[2].restrictions.min_power",
        "elements[4].restrictions.min_duration",
    ],
)
def test_negative_numbers_are_refused(path: str) -> None:
    assert_invalid(TariffSerializer, with_value(complex_(), path, -1), path)


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_price_is_refused(value: float) -> None:
    path = "elements[0].price_components[0].price"
    assert_invalid(TariffSerializer, with_value(complex_(), path, value), path, "JSON number")


def test_huge_integer_price_is_a_number_too() -> None:
    path = "elements[0].price_components[0].price"
    typed = assert_valid(TariffSerializer, with_value(complex_(), path, 10**30)).typed_data
    assert typed["elements"][0]["price_components"][0]["price"] == Decimal(10**30)


@given(st.floats(min_value=0, allow_nan=False, allow_infinity=False) | st.integers(min_value=0))
def test_any_non_negative_json_number_is_a_price(value: float) -> None:
    path = "elements[0].price_components[0].price"
    typed = assert_valid(TariffSerializer, with_value(complex_(), path, value)).typed_data
    assert typed["elements"][0]["price_components"][0]["price"] == Decimal(str(value))


@given(st.floats(max_value=-1e-9, allow_nan=False, allow_infinity=False))
def test_any_negative_price_is_refused(value: float) -> None:
    path = "elements[0].price_components[0].price"
    assert_invalid(TariffSerializer, with_value(complex_(), path, value), path, "at least 0")


# ---- enums ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("type", "regular"),
        ("type", "PROFILE_ECO"),
        ("type", "REGULAR "),
        ("elements[0].price_components[0].type", "Time"),
        ("elements[0].price_components[0].type", "KWH"),
        ("elements[0].restrictions.day_of_week[0]", "monday"),
        ("elements[0].restrictions.day_of_week[1]", "TUE"),
        ("elements[4].restrictions.reservation", "reservation"),
        ("elements[4].restrictions.reservation", "EXPIRES"),
        ("energy_mix.energy_sources[0].source", "WINDPOWER"),
    ],
)
def test_invalid_enum_value_is_refused(path: str, value: str) -> None:
    assert_invalid(TariffSerializer, with_value(complex_(), path, value), path)


@pytest.mark.parametrize("dimension", TariffDimensionType.values)
def test_every_dimension_is_accepted(dimension: str) -> None:
    path = "elements[3].price_components[0].type"
    assert_valid(TariffSerializer, with_value(complex_(), path, dimension))


# ---- restrictions --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["24:00", "7:00", "07:60", "0700", "07.00", "", "07:00:00", "-1:00"]
)
@pytest.mark.parametrize("field", ["start_time", "end_time"])
def test_bad_time_of_day_is_refused(field: str, value: str) -> None:
    path = f"elements[0].restrictions.{field}"
    assert_invalid(TariffSerializer, with_value(complex_(), path, value), path)


@pytest.mark.parametrize(
    ("start", "end"),
    [("22:00", "06:00"), ("18:00", "00:00"), ("00:00", "23:59"), ("09:30", "09:30")],
)
def test_end_time_may_wrap_past_midnight(start: str, end: str) -> None:
    data = with_value(complex_(), "elements[0].restrictions.start_time", start)
    assert_valid(TariffSerializer, with_value(data, "elements[0].restrictions.end_time", end))


@pytest.mark.parametrize(
    "value",
    [
        "2025-02-29",
        "2025-04-31",
        "2025-2-03",
        "2025/02/03",
        "03-02-2025",
        "0999-01-01",
        "3025-01-01",
    ],
)
@pytest.mark.parametrize("field", ["start_date", "end_date"])
def test_bad_date_is_refused(field: str, value: str) -> None:
    path = f"elements[4].restrictions.{field}"
    assert_invalid(TariffSerializer, with_value(complex_(), path, value), path)


def test_leap_day_is_a_date() -> None:
    path = "elements[4].restrictions.start_date"
    assert_valid(TariffSerializer, with_value(complex_(), path, "2024-02-29"))


@pytest.mark.parametrize(
    ("element", "low", "high", "low_value", "high_value"),
    [
        (4, "start_date", "end_date", "2026-03-02", "2026-03-01"),
        (2, "min_kwh", "max_kwh", 50, 40.5),
        (2, "min_current", "max_current", 126, 125.5),
        (2, "min_power", "max_power", 150.5, 150),
        (4, "min_duration", "max_duration", 86401, 86400),
    ],
)
def test_lower_bound_above_upper_bound_is_refused(
    element: int, low: str, high: str, low_value: Any, high_value: Any
) -> None:
    data = with_value(complex_(), f"elements[{element}].restrictions.{low}", low_value)
    data = with_value(data, f"elements[{element}].restrictions.{high}", high_value)
    assert_invalid(
        TariffSerializer, data, f"elements[{element}].restrictions.{low}", f"greater than {high}"
    )


def test_equal_bounds_are_allowed() -> None:
    data = with_value(complex_(), "elements[2].restrictions.min_kwh", 40.5)
    assert_valid(TariffSerializer, data)


# ---- reservation restriction --------------------------------------------------------------


@pytest.mark.parametrize("kind", ["RESERVATION", "RESERVATION_EXPIRES"])
@pytest.mark.parametrize("dimension", ["ENERGY", "PARKING_TIME"])
def test_reservation_element_refuses_energy_and_parking(kind: str, dimension: str) -> None:
    # given: a reservation element that also prices ENERGY or PARKING_TIME
    data = with_value(reservation(), "elements[0].restrictions.reservation", kind)
    component = {"type": dimension, "price": 1, "step_size": 1}
    data["elements"][0]["price_components"].append(component)
    # then: the offending component is named
    assert_invalid(
        TariffSerializer,
        data,
        "elements[0].price_components[2].type",
        f"{dimension} is not allowed in a reservation element",
    )


@pytest.mark.parametrize(
    "dimensions", [["FLAT"], ["TIME"], ["FLAT", "TIME"], ["TIME", "FLAT", "TIME"]]
)
def test_reservation_element_with_flat_and_time(dimensions: list[str]) -> None:
    components = [{"type": d, "price": 2.5, "vat": 25, "step_size": 60} for d in dimensions]
    data = with_value(reservation(), "elements[0].price_components", components)
    assert_valid(TariffSerializer, data)


def test_energy_allowed_when_reservation_is_null() -> None:
    data = with_value(complex_(), "elements[4].price_components[0].type", "ENERGY")
    assert complex_()["elements"][4]["restrictions"]["reservation"] is None
    assert_valid(TariffSerializer, data)


# ---- tariff-level rules -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("part", "low", "high"), [("excl_vat", 40.01, 40), ("incl_vat", 50, 43.24)]
)
def test_min_price_above_max_price_is_refused(part: str, low: float, high: float) -> None:
    data = with_value(with_value(min_max(), f"min_price.{part}", low), f"max_price.{part}", high)
    assert_invalid(TariffSerializer, data, f"min_price.{part}", "greater than max_price")


def test_min_price_incl_vat_compared_only_when_both_give_it() -> None:
    data = with_value(without(min_max(), "max_price.incl_vat"), "min_price.incl_vat", 99)
    assert_valid(TariffSerializer, data)


@pytest.mark.parametrize("end", ["2025-03-01T00:00:00Z", "2025-02-01T00:00:00Z"])
def test_end_date_time_must_be_later_than_start(end: str) -> None:
    data = with_value(complex_(), "end_date_time", end)
    assert_invalid(TariffSerializer, data, "end_date_time", "later than start_date_time")


# ---- unknown fields ------------------------------------------------------------------------


def _unknown_field_cases() -> list[Any]:
    return [
        pytest.param(fixture, path, id=f"{fixture.__name__}:{path}")
        for fixture in (complex_, min_max, reservation)
        for path in object_paths(fixture())
    ]


@pytest.mark.parametrize(("fixture", "path"), _unknown_field_cases())
def test_unknown_field_is_refused_at_every_level(fixture: Any, path: str) -> None:
    field = f"{path}.x_loyalty_discount" if path else "x_loyalty_discount"
    data = with_value(fixture(), field, 0.1)
    assert_invalid(TariffSerializer, data, field, "is not a field of this OCPI object")
