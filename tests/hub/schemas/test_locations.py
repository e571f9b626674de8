"""Location, EVSE and Connector serializers against the 2.2.1 mod_locations tables."""

import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.schemas.enums import ConnectorType
from hub.schemas.locations import (
    ConnectorPatchSerializer,
    ConnectorSerializer,
    EvsePatchSerializer,
    EvseSerializer,
    GeoLocationSerializer,
    LocationPatchSerializer,
    LocationSerializer,
)
from tests.fixtures import load_ocpi_fixture
from tests.hub.schemas.helpers import (
    assert_invalid,
    assert_valid,
    message_for,
    object_paths,
    with_value,
    without,
)

STAMP = "2025-03-01T12:00:00Z"


def full() -> dict[str, Any]:
    return load_ocpi_fixture("locations", "location_full")


def restricted() -> dict[str, Any]:
    return load_ocpi_fixture("locations", "location_restricted")


def evse() -> dict[str, Any]:
    return load_ocpi_fixture("locations", "evse")


def connector() -> dict[str, Any]:
    return load_ocpi_fixture("locations", "connector")


# ---- valid objects -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("serializer", "name"),
    [
        (LocationSerializer, "location_full"),
        (LocationSerializer, "location_minimal"),
        (LocationSerializer, "location_restricted"),
        (EvseSerializer, "evse"),
        (ConnectorSerializer, "connector"),
        # a full object is also a valid PATCH
        (LocationPatchSerializer, "location_full"),
        (EvsePatchSerializer, "evse"),
        (ConnectorPatchSerializer, "connector"),
    ],
)
def test_valid_fixtures_pass_and_validated_data_is_the_input(serializer: Any, name: str) -> None:
    # given
    data = load_ocpi_fixture("locations", name)
    # when
    validated = assert_valid(serializer, data).validated_data
    # then: the partner's object, unchanged and JSON-serialisable as received
    assert validated == data
    assert json.loads(json.dumps(validated)) == data


def test_validated_data_keeps_original_spellings_and_number_types() -> None:
    # given
    data = full()
    # when
    validated = assert_valid(LocationSerializer, data).validated_data
    # then: ids in the partner's case, floats as floats, DateTimes as sent
    assert validated["id"] == "Ber-Mitte-07"
    assert validated["evses"][0]["uid"] == "ber-mitte-07-a"
    assert validated["evses"][1]["connectors"][1]["standard"] == "IEC_60309_2_single_16"
    assert validated["evses"][1]["connectors"][0]["last_updated"] == "2025-02-26T17:02:08.5Z"
    percentage = validated["energy_mix"]["energy_sources"][0]["percentage"]
    assert percentage == 41.5 and isinstance(percentage, float)
    assert validated["energy_mix"]["energy_sources"][2]["percentage"] == 17


def test_validated_data_is_a_copy() -> None:
    data = full()
    validated = assert_valid(LocationSerializer, data).validated_data
    validated["evses"][0]["status"] = "REMOVED"
    assert data["evses"][0]["status"] == "AVAILABLE"


def test_typed_data_has_decimals_and_aware_datetimes() -> None:
    # when
    typed = assert_valid(LocationSerializer, full()).typed_data
    # then
    sources = typed["energy_mix"]["energy_sources"]
    assert sources[0]["percentage"] == Decimal("41.5")
    assert typed["energy_mix"]["environ_impact"][1]["amount"] == Decimal("0.0004")
    assert typed["last_updated"] == datetime(2025, 2, 27, 9, 14, 51, tzinfo=UTC)
    connector_0 = typed["evses"][1]["connectors"][0]
    assert connector_0["last_updated"] == datetime(2025, 2, 26, 17, 2, 8, 500000, tzinfo=UTC)


def test_representation_of_a_stored_object_is_unchanged() -> None:
    data = full()
    assert LocationSerializer(instance=data).data == data
    assert LocationSerializer(instance=[data], many=True).data == [data]


def test_many_validated_data_is_the_input_list() -> None:
    items = [full(), load_ocpi_fixture("locations", "location_minimal")]
    serializer = LocationSerializer(data=items, many=True)
    assert serializer.is_valid(), serializer.errors
    assert serializer.validated_data == items


@pytest.mark.parametrize("body", [[], "location", 42, None])
def test_a_body_that_is_not_an_object_is_refused(body: Any) -> None:
    assert message_for(LocationSerializer, body)


# ---- cardinality ---------------------------------------------------------------------------

LOCATION_REQUIRED = [
    "country_code",
    "party_id",
    "id",
    "publish",
    "address",
    "city",
    "country",
    "coordinates",
    "time_zone",
    "last_updated",
    "coordinates.latitude",
    "coordinates.longitude",
    "related_locations[0].latitude",
    "related_locations[0].longitude",
    "related_locations[0].name.language",
    "related_locations[0].name.text",
    "directions[0].language",
    "directions[0].text",
    "evses[0].uid",
    "evses[0].status",
    "evses[0].connectors",
    "evses[0].last_updated",
    "evses[0].status_schedule[0].period_begin",
    "evses[0].status_schedule[0].status",
    "evses[0].coordinates.latitude",
    "evses[0].directions[1].text",
    "evses[0].images[0].url",
    "evses[0].images[0].category",
    "evses[0].images[0].type",
    "evses[0].connectors[1].id",
    "evses[0].connectors[1].standard",
    "evses[0].connectors[1].format",
    "evses[0].connectors[1].power_type",
    "evses[0].connectors[1].max_voltage",
    "evses[0].connectors[1].max_amperage",
    "evses[0].connectors[1].last_updated",
    "operator.name",
    "operator.logo.url",
    "suboperator.name",
    "opening_times.twentyfourseven",
    "opening_times.regular_hours[2].weekday",
    "opening_times.regular_hours[2].period_begin",
    "opening_times.regular_hours[2].period_end",
    "opening_times.exceptional_openings[0].period_begin",
    "opening_times.exceptional_closings[0].period_end",
    "images[1].type",
    "energy_mix.is_green_energy",
    "energy_mix.energy_sources[1].source",
    "energy_mix.energy_sources[1].percentage",
    "energy_mix.environ_impact[0].category",
    "energy_mix.environ_impact[0].amount",
]


@pytest.mark.parametrize("path", LOCATION_REQUIRED)
def test_missing_required_field_is_named(path: str) -> None:
    assert_invalid(LocationSerializer, without(full(), path), path, "This field is required.")


@pytest.mark.parametrize("path", LOCATION_REQUIRED)
def test_null_required_field_is_refused(path: str) -> None:
    assert_invalid(
        LocationSerializer, with_value(full(), path, None), path, "This field may not be null."
    )


@pytest.mark.parametrize(
    ("serializer", "fixture", "path"),
    [
        *[
            (EvseSerializer, evse, path)
            for path in ("uid", "status", "connectors", "last_updated", "connectors[0].id")
        ],
        *[
            (ConnectorSerializer, connector, path)
            for path in (
                "id",
                "standard",
                "format",
                "power_type",
                "max_voltage",
                "max_amperage",
                "last_updated",
            )
        ],
    ],
)
def test_missing_required_field_of_evse_and_connector_is_named(
    serializer: Any, fixture: Any, path: str
) -> None:
    assert_invalid(serializer, without(fixture(), path), path, "This field is required.")


LOCATION_OPTIONAL = [
    "name",
    "postal_code",
    "state",
    "related_locations",
    "related_locations[0].name",
    "parking_type",
    "evses",
    "directions",
    "operator",
    "operator.website",
    "operator.logo",
    "suboperator",
    "owner",
    "facilities",
    "opening_times",
    "opening_times.exceptional_openings",
    "opening_times.exceptional_closings",
    "charging_when_closed",
    "images",
    "images[0].width",
    "energy_mix",
    "energy_mix.energy_sources",
    "energy_mix.environ_impact",
    "energy_mix.supplier_name",
    "energy_mix.energy_product_name",
    "publish_allowed_to",
    "evses[0].evse_id",
    "evses[0].status_schedule",
    "evses[0].status_schedule[0].period_end",
    "evses[0].capabilities",
    "evses[0].floor_level",
    "evses[0].coordinates",
    "evses[0].physical_reference",
    "evses[0].directions",
    "evses[0].parking_restrictions",
    "evses[0].images",
    "evses[0].images[0].thumbnail",
    "evses[0].connectors[0].max_electric_power",
    "evses[0].connectors[0].tariff_ids",
    "evses[0].connectors[0].terms_and_conditions",
]


@pytest.mark.parametrize("path", LOCATION_OPTIONAL)
def test_optional_field_may_be_omitted_or_null(path: str) -> None:
    data = full()
    data.setdefault("publish_allowed_to", [])
    assert_valid(LocationSerializer, without(data, path))
    assert_valid(LocationSerializer, with_value(data, path, None))


LOCATION_LISTS = [
    "related_locations",
    "evses",
    "directions",
    "facilities",
    "images",
    "opening_times.exceptional_openings",
    "energy_mix.energy_sources",
    "evses[0].status_schedule",
    "evses[0].capabilities",
    "evses[0].parking_restrictions",
    "evses[0].directions",
    "evses[0].connectors[0].tariff_ids",
]


@pytest.mark.parametrize("path", LOCATION_LISTS)
def test_optional_list_may_be_empty_but_members_not_null(path: str) -> None:
    assert_valid(LocationSerializer, with_value(full(), path, []))
    assert_invalid(
        LocationSerializer,
        with_value(full(), path, [None]),
        f"{path}[0]",
        "This field may not be null.",
    )


@pytest.mark.parametrize(
    ("serializer", "data", "path"),
    [
        (LocationSerializer, full(), "evses[0].connectors"),
        (EvseSerializer, evse(), "connectors"),
        (EvsePatchSerializer, {"connectors": [], "last_updated": STAMP}, "connectors"),
    ],
)
def test_empty_plus_list_is_refused(serializer: Any, data: Any, path: str) -> None:
    assert_invalid(serializer, with_value(data, path, []), path, "may not be empty")


# ---- lengths and string rules ---------------------------------------------------------------


def url_of_length(length: int) -> str:
    prefix = "https://cdn.example.com/"
    return prefix + "a" * (length - len(prefix))


LENGTHS = [
    # path, limit, a value of a given length
    ("id", 36, lambda n: "L" * n),
    ("name", 255, lambda n: "é" * n),
    ("address", 255, lambda n: "ß" * n),
    ("city", 45, lambda n: "c" * n),
    ("postal_code", 10, lambda n: "1" * n),
    ("state", 45, lambda n: "s" * n),
    ("related_locations[0].name.text", 512, lambda n: "t" * n),
    ("directions[0].text", 512, lambda n: "ö" * n),
    ("operator.name", 100, lambda n: "o" * n),
    ("operator.website", 255, url_of_length),
    ("images[0].url", 255, url_of_length),
    ("images[0].type", 4, lambda n: "p" * n),
    ("energy_mix.supplier_name", 64, lambda n: "s" * n),
    ("energy_mix.energy_product_name", 64, lambda n: "p" * n),
    ("evses[0].uid", 36, lambda n: "u" * n),
    ("evses[0].evse_id", 48, lambda n: "E" * n),
    ("evses[0].floor_level", 4, lambda n: "9" * n),
    ("evses[0].physical_reference", 16, lambda n: "r" * n),
    ("evses[0].connectors[0].id", 36, lambda n: "c" * n),
    ("evses[0].connectors[0].tariff_ids[1]", 36, lambda n: "t" * n),
    ("evses[0].connectors[0].terms_and_conditions", 255, url_of_length),
]


@pytest.mark.parametrize(("path", "limit", "make"), LENGTHS)
def test_length_limit(path: str, limit: int, make: Any) -> None:
    assert_valid(LocationSerializer, with_value(full(), path, make(limit)))
    assert_invalid(
        LocationSerializer,
        with_value(full(), path, make(limit + 1)),
        path,
        f"no more than {limit} characters",
    )


@pytest.mark.parametrize(
    ("path", "limit"),
    [
        ("publish_allowed_to[0].uid", 36),
        ("publish_allowed_to[1].visual_number", 64),
        ("publish_allowed_to[1].issuer", 64),
        ("publish_allowed_to[2].group_id", 36),
    ],
)
def test_publish_token_length_limit(path: str, limit: int) -> None:
    assert_valid(LocationSerializer, with_value(restricted(), path, "x" * limit))
    assert_invalid(
        LocationSerializer, with_value(restricted(), path, "x" * (limit + 1)), path, str(limit)
    )


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("country", "DEUT"),
        ("time_zone", "Europe/" + "B" * 249),
        ("directions[0].language", "deu"),
        ("coordinates.latitude", "52.53128901"),
        ("coordinates.longitude", "13.384652011"),
    ],
)
def test_over_long_formatted_strings_are_refused(path: str, value: str) -> None:
    assert_invalid(LocationSerializer, with_value(full(), path, value), path)


@given(st.text(alphabet=st.characters(exclude_categories=("Cc", "Cs")), max_size=60))
def test_city_valid_exactly_up_to_45_characters(city: str) -> None:
    data = with_value(full(), "city", city)
    valid = not message_for(LocationSerializer, data)
    assert valid == (1 <= len(city) <= 45)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("address", "Invalidenstraße 117\nHinterhof"),
        ("name", "Ladepark\tMitte"),
        ("city", "Berlin\r"),
        ("evses[0].directions[0].text", "Ebene -1\r\nAufzug"),
    ],
)
def test_strings_may_not_contain_line_breaks_or_tabs(path: str, value: str) -> None:
    assert_invalid(LocationSerializer, with_value(full(), path, value), path, "line breaks")


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("id", "Ber-Mitte-07–Süd"),
        ("evses[0].uid", "ber-mitte-07-ä"),
        ("evses[0].evse_id", "DE*VLT*E0007€"),
        ("evses[0].connectors[0].tariff_ids[0]", "VLT-HPC-2025™"),
    ],
)
def test_cistrings_must_be_printable_ascii(path: str, value: str) -> None:
    assert_invalid(LocationSerializer, with_value(full(), path, value), path, "ASCII")


@pytest.mark.parametrize("path", ["id", "address", "city", "evses[0].uid", "directions[0].text"])
def test_required_strings_may_not_be_blank(path: str) -> None:
    assert_invalid(LocationSerializer, with_value(full(), path, ""), path, "may not be blank")


@pytest.mark.parametrize(
    "path", ["name", "postal_code", "state", "evses[0].floor_level", "evses[0].physical_reference"]
)
def test_optional_free_text_may_be_blank(path: str) -> None:
    assert_valid(LocationSerializer, with_value(full(), path, ""))


@pytest.mark.parametrize(
    "evse_id", ["DE*VLT*E0007A", "DEVLTE0007A", "+49*810*000*438", "de*vlt*e0007a", "SAEULE 7A"]
)
def test_evse_id_is_not_checked_against_emi3(evse_id: str) -> None:
    # decision: CiString(48) only, so DIN-format and sloppy ids still reach the eMSPs
    assert_valid(LocationSerializer, with_value(full(), "evses[0].evse_id", evse_id))


# ---- types ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "value", "fragment"),
    [
        ("evses[0].connectors[0].max_voltage", "920", "valid integer"),
        ("evses[0].connectors[0].max_voltage", 920.0, "valid integer"),
        ("evses[0].connectors[0].max_amperage", True, "valid integer"),
        ("evses[0].connectors[0].max_electric_power", "300000", "valid integer"),
        ("opening_times.regular_hours[0].weekday", "1", "valid integer"),
        ("opening_times.regular_hours[0].weekday", False, "valid integer"),
        ("evses[0].images[0].width", 1600.5, "valid integer"),
        ("energy_mix.energy_sources[0].percentage", "41.5", "JSON number"),
        ("energy_mix.energy_sources[0].percentage", True, "JSON number"),
        ("energy_mix.environ_impact[0].amount", [291.3], "JSON number"),
        ("address", 117, "Not a valid string"),
        ("city", ["Berlin"], "Not a valid string"),
        ("id", 7, "Not a valid string"),
        ("evses[0].connectors[0].tariff_ids[0]", 2025, "Not a valid string"),
        ("coordinates.latitude", 52.531289, "Not a valid string"),
        ("publish", "true", "valid boolean"),
        ("publish", 1, "valid boolean"),
        ("charging_when_closed", "yes", "valid boolean"),
        ("opening_times.twentyfourseven", 0, "valid boolean"),
        ("energy_mix.is_green_energy", "false", "valid boolean"),
        ("coordinates", "52.531289,13.384652", "Expected a dictionary"),
        ("operator", ["Voltaro"], "Expected a dictionary"),
        ("evses", {"uid": "x"}, "Expected a list"),
        ("facilities", "WIFI", "Expected a list"),
        ("evses[0].connectors[0].tariff_ids", "VLT-HPC-2025", "Expected a list"),
        ("last_updated", 1740647691, "OCPI DateTime"),
        ("last_updated", "2025-02-27 09:14:51", "OCPI DateTime"),
        ("last_updated", "2025-02-27T10:14:51+01:00", "OCPI DateTime"),
        ("evses[1].last_updated", "27.02.2025", "OCPI DateTime"),
    ],
)
def test_wrong_type_is_refused(path: str, value: Any, fragment: str) -> None:
    assert_invalid(LocationSerializer, with_value(full(), path, value), path, fragment)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_numbers_are_refused(value: float) -> None:
    path = "energy_mix.energy_sources[0].percentage"
    assert_invalid(LocationSerializer, with_value(full(), path, value), path, "JSON number")


@pytest.mark.parametrize(
    ("path", "value", "fragment"),
    [
        ("energy_mix.energy_sources[0].percentage", 100.01, "at most 100"),
        ("energy_mix.energy_sources[0].percentage", -0.5, "at least 0"),
        ("energy_mix.environ_impact[0].amount", -1, "at least 0"),
        ("evses[0].connectors[0].max_voltage", -230, "greater than or equal to 0"),
        ("evses[0].connectors[0].max_electric_power", -1, "greater than or equal to 0"),
        ("opening_times.regular_hours[0].weekday", 0, "greater than or equal to 1"),
        ("opening_times.regular_hours[0].weekday", 8, "less than or equal to 7"),
        ("images[0].width", 100000, "less than or equal to 99999"),
    ],
)
def test_number_out_of_range_is_refused(path: str, value: Any, fragment: str) -> None:
    assert_invalid(LocationSerializer, with_value(full(), path, value), path, fragment)


@given(st.floats(min_value=0, max_value=100, allow_nan=False) | st.integers(0, 100))
def test_percentage_typed_as_the_decimal_of_its_json_spelling(value: float) -> None:
    data = with_value(full(), "energy_mix.energy_sources[0].percentage", value)
    typed = assert_valid(LocationSerializer, data).typed_data
    assert typed["energy_mix"]["energy_sources"][0]["percentage"] == Decimal(str(value))


# ---- enums ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("evses[0].status", "available"),
        ("evses[0].status", "FREE"),
        ("evses[0].status", 1),
        ("evses[0].status_schedule[0].status", "MAINTENANCE"),
        ("evses[0].connectors[0].standard", "IEC_62196_T2_combo"),
        ("evses[0].connectors[0].standard", "TYPE_2"),
        ("evses[1].connectors[1].standard", "IEC_60309_2_SINGLE_16"),
        ("evses[1].connectors[1].standard", "iec_60309_2_single_16"),
        ("evses[0].connectors[0].format", "Cable"),
        ("evses[0].connectors[0].power_type", "AC_3_PHASES"),
        ("evses[0].connectors[0].power_type", "DC "),
        ("evses[0].capabilities[0]", "rfid_reader"),
        ("evses[0].parking_restrictions[1]", "EV ONLY"),
        ("parking_type", "GARAGE"),
        ("facilities[1]", "SAUNA"),
        ("facilities[1]", None),
        ("energy_mix.energy_sources[0].source", "HYDRO"),
        ("energy_mix.environ_impact[0].category", "CO2"),
        ("images[0].category", "PHOTO"),
        ("operator.logo.category", "operator"),
    ],
)
def test_invalid_enum_value_is_refused(path: str, value: Any) -> None:
    assert_invalid(LocationSerializer, with_value(full(), path, value), path)


def test_enum_case_mismatch_names_the_enum_and_the_right_spelling() -> None:
    path = "evses[1].connectors[1].standard"
    message = assert_invalid(
        LocationSerializer, with_value(full(), path, "IEC_60309_2_SINGLE_16"), path
    )
    assert "ConnectorType" in message and '"IEC_60309_2_single_16"' in message


@pytest.mark.parametrize("standard", ConnectorType.values)
def test_every_connector_type_is_accepted(standard: str) -> None:
    assert_valid(ConnectorSerializer, with_value(connector(), "standard", standard))


# ---- coordinates ---------------------------------------------------------------------------

LATITUDE_RE = re.compile(r"-?[0-9]{1,2}\.[0-9]{5,7}")
LONGITUDE_RE = re.compile(r"-?[0-9]{1,3}\.[0-9]{5,7}")


@pytest.mark.parametrize(
    ("latitude", "longitude"),
    [
        ("52.53128", "13.38465"),
        ("0.00000", "0.00000"),
        ("-0.12345", "-0.1234567"),
        ("90.0000000", "180.000000"),
        ("-90.000000", "-180.00000"),
        ("-33.868819", "151.2092955"),
        ("9.1234567", "-151.196127"),
    ],
)
def test_valid_coordinates(latitude: str, longitude: str) -> None:
    assert_valid(GeoLocationSerializer, {"latitude": latitude, "longitude": longitude})


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("latitude", "52.5313", "must match"),  # 4 decimals
        ("latitude", "52.53128", ""),  # control: valid
        ("latitude", "52,531289", "must match"),
        ("latitude", "+52.531289", "must match"),
        ("latitude", " 52.53128", "must match"),
        ("latitude", "52.53128N", "must match"),
        ("latitude", "152.53128", "must match"),
        ("latitude", "52", "must match"),
        ("latitude", "", "may not be blank"),
        ("latitude", "91.00000", "between -90 and 90"),
        ("latitude", "-90.000001", "between -90 and 90"),
        ("latitude", "-33.8688197", "no more than 10 characters"),  # regex ok, string(10) not
        ("longitude", "13.3847", "must match"),
        ("longitude", "1013.38465", "must match"),
        ("longitude", "13.384652011", "must match"),
        ("longitude", "180.000001", "between -180 and 180"),
        ("longitude", "-181.00000", "between -180 and 180"),
        ("longitude", "-151.1961272", "no more than 11 characters"),
    ],
)
def test_invalid_coordinates(field: str, value: str, fragment: str) -> None:
    data = with_value({"latitude": "52.53128", "longitude": "13.38465"}, field, value)
    if not fragment:
        assert_valid(GeoLocationSerializer, data)
        return
    assert_invalid(GeoLocationSerializer, data, field, fragment)


@pytest.mark.parametrize(
    "path",
    ["coordinates.latitude", "evses[0].coordinates.longitude", "related_locations[1].latitude"],
)
def test_bad_coordinates_name_their_path(path: str) -> None:
    assert_invalid(LocationSerializer, with_value(full(), path, "195.12345"), path)


@given(st.from_regex(LATITUDE_RE, fullmatch=True))
def test_latitude_matching_the_regex_valid_iff_short_enough_and_in_range(latitude: str) -> None:
    # given: any string the spec's latitude regex matches
    data = {"latitude": latitude, "longitude": "4.89170"}
    # when
    valid = not message_for(GeoLocationSerializer, data)
    # then
    assert valid == (len(latitude) <= 10 and abs(Decimal(latitude)) <= 90)


@given(st.from_regex(LONGITUDE_RE, fullmatch=True))
def test_longitude_matching_the_regex_valid_iff_short_enough_and_in_range(
    longitude: str,
) -> None:
    data = {"latitude": "52.37403", "longitude": longitude}
    valid = not message_for(GeoLocationSerializer, data)
    assert valid == (len(longitude) <= 11 and abs(Decimal(longitude)) <= 180)


@given(st.text(alphabet="-+0123456789.,eE ", max_size=14))
def test_latitude_accepted_only_if_it_matches_the_regex(latitude: str) -> None:
    data = {"latitude": latitude, "longitude": "4.89170"}
    if not message_for(GeoLocationSerializer, data):
        assert LATITUDE_RE.fullmatch(latitude)
        assert len(latitude) <= 10 and abs(Decimal(latitude)) <= 90


@given(
    st.decimals(min_value=-90, max_value=90, places=7, allow_nan=False),
    st.integers(min_value=5, max_value=7),
)
def test_any_wgs84_latitude_with_5_to_7_decimals_fits_unless_over_10_characters(
    value: Decimal, places: int
) -> None:
    latitude = f"{value:.{places}f}"
    valid = not message_for(GeoLocationSerializer, {"latitude": latitude, "longitude": "0.00000"})
    assert valid == (len(latitude) <= 10)


# ---- time zone, country -------------------------------------------------------------------


@pytest.mark.parametrize(
    "zone", ["Europe/Berlin", "UTC", "America/Argentina/Buenos_Aires", "Asia/Kolkata", "Etc/GMT-14"]
)
def test_valid_time_zones(zone: str) -> None:
    assert_valid(LocationSerializer, with_value(full(), "time_zone", zone))


@pytest.mark.parametrize(
    "zone",
    [
        "Europe/Berlinn",
        "europe/berlin",
        "Europe/Berlin ",
        "UTC+1",
        "CEST",
        "Berlin",
        "../../etc/passwd",
        "",
    ],
)
def test_bad_time_zone_is_refused(zone: str) -> None:
    assert_invalid(LocationSerializer, with_value(full(), "time_zone", zone), "time_zone")


@pytest.mark.parametrize("country", ["DE", "deu", "Deu", "D3U", "DEUX"])
def test_country_must_be_alpha_3_upper_case(country: str) -> None:
    assert_invalid(LocationSerializer, with_value(full(), "country", country), "country")


@pytest.mark.parametrize(
    ("path", "value"),
    [("country_code", "DEU"), ("country_code", "D1"), ("party_id", "VOLT"), ("party_id", "V-T")],
)
def test_party_identity_formats(path: str, value: str) -> None:
    assert_invalid(LocationSerializer, with_value(full(), path, value), path)


@pytest.mark.parametrize("language", ["deu", "d", "1e", "d "])
def test_display_text_language_is_two_letters(language: str) -> None:
    path = "directions[0].language"
    assert_invalid(LocationSerializer, with_value(full(), path, language), path)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("operator.website", "voltaro.example.de"),
        ("images[0].url", "ftp://cdn.voltaro.example.de/entrance.jpg"),
        ("evses[0].connectors[0].terms_and_conditions", "not a url"),
    ],
)
def test_urls_must_be_http(path: str, value: str) -> None:
    assert_invalid(LocationSerializer, with_value(full(), path, value), path)


# ---- Hours ---------------------------------------------------------------------------------

WEEKDAYS = [{"weekday": 1, "period_begin": "08:00", "period_end": "18:00"}]


@pytest.mark.parametrize(
    ("hours", "error"),
    [
        ({"twentyfourseven": True}, None),
        ({"twentyfourseven": True, "regular_hours": []}, None),
        ({"twentyfourseven": True, "regular_hours": None}, None),
        ({"twentyfourseven": False, "regular_hours": WEEKDAYS}, None),
        ({"twentyfourseven": True, "regular_hours": WEEKDAYS}, "must be empty"),
        ({"twentyfourseven": False}, "at least one is required"),
        ({"twentyfourseven": False, "regular_hours": []}, "at least one is required"),
        ({"twentyfourseven": False, "regular_hours": None}, "at least one is required"),
    ],
)
def test_hours_regular_hours_rules(hours: dict[str, Any], error: str | None) -> None:
    data = with_value(full(), "opening_times", hours)
    if error is None:
        assert_valid(LocationSerializer, data)
    else:
        assert_invalid(LocationSerializer, data, "opening_times.regular_hours", error)


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("period_begin", "24:00", "HH:MM"),
        ("period_begin", "6:00", "HH:MM"),
        ("period_begin", "06:60", "HH:MM"),
        ("period_begin", "0600", "HH:MM"),
        ("period_begin", "06:00:00", "HH:MM"),
        ("period_end", "25:00", "HH:MM"),
        ("period_end", "06:00", "later than period_begin"),  # begins 06:00: equal
        ("period_end", "05:59", "later than period_begin"),
    ],
)
def test_regular_hours_times(field: str, value: str, fragment: str) -> None:
    path = f"opening_times.regular_hours[0].{field}"
    assert_invalid(LocationSerializer, with_value(full(), path, value), path, fragment)


def test_regular_hours_until_23_59_from_00_00() -> None:
    hours = {"weekday": 7, "period_begin": "00:00", "period_end": "23:59"}
    assert_valid(LocationSerializer, with_value(full(), "opening_times.regular_hours[6]", hours))


@pytest.mark.parametrize(
    "path",
    [
        "opening_times.exceptional_openings[0].period_end",
        "opening_times.exceptional_closings[0].period_end",
        "evses[0].status_schedule[0].period_end",
    ],
)
def test_period_may_not_end_before_it_begins(path: str) -> None:
    data = with_value(full(), path, "2020-01-01T00:00:00Z")
    assert_invalid(LocationSerializer, data, path, "later than period_begin")


# ---- publish / PublishTokenType -------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "path", "fragment"),
    [
        ({"uid": "04A2B3C4", "type": "RFID"}, None, None),
        ({"uid": "04A2B3C4", "type": "APP_USER", "group_id": "g1"}, None, None),
        ({"visual_number": "SCN-1", "issuer": "Southern Cross"}, None, None),
        ({"group_id": "depot-3"}, None, None),
        ({"group_id": "depot-3", "type": None, "issuer": None}, None, None),
        ({"uid": "04A2B3C4"}, "publish_allowed_to[0].type", "required when uid is set"),
        ({"uid": "04A2B3C4", "type": None}, "publish_allowed_to[0].type", "required when uid"),
        ({"visual_number": "SCN-1"}, "publish_allowed_to[0].issuer", "required when visual"),
        ({"type": "RFID"}, "publish_allowed_to[0]", "at least one of uid"),
        ({"issuer": "Southern Cross"}, "publish_allowed_to[0]", "at least one of uid"),
        ({}, "publish_allowed_to[0]", "at least one of uid"),
        ({"uid": None, "group_id": None}, "publish_allowed_to[0]", "at least one of uid"),
        ({"uid": "04A2B3C4", "type": "rfid"}, "publish_allowed_to[0].type", "TokenType"),
    ],
)
def test_publish_token_type_rules(
    token: dict[str, Any], path: str | None, fragment: str | None
) -> None:
    data = with_value(restricted(), "publish_allowed_to", [token])
    if path is None:
        assert_valid(LocationSerializer, data)
    else:
        assert_invalid(LocationSerializer, data, path, fragment or "")


def test_publish_allowed_to_only_when_publish_is_false() -> None:
    data = with_value(restricted(), "publish", True)
    assert_invalid(LocationSerializer, data, "publish_allowed_to", "only be used when publish")


@pytest.mark.parametrize("empty", [[], None])
def test_publish_true_with_empty_publish_allowed_to_is_fine(empty: Any) -> None:
    data = with_value(with_value(restricted(), "publish", True), "publish_allowed_to", empty)
    assert_valid(LocationSerializer, data)


# ---- uniqueness ----------------------------------------------------------------------------


def test_evse_uids_unique_within_a_location_case_insensitively() -> None:
    data = with_value(full(), "evses[1].uid", "BER-MITTE-07-A")
    assert_invalid(LocationSerializer, data, "evses[1].uid", "repeats")


def test_connector_ids_unique_within_an_evse() -> None:
    data = with_value(full(), "evses[0].connectors[1].id", "1")
    assert_invalid(LocationSerializer, data, "evses[0].connectors[1].id", "repeats")


def test_connector_ids_may_repeat_across_evses() -> None:
    data = full()
    assert data["evses"][0]["connectors"][0]["id"] == data["evses"][1]["connectors"][0]["id"]
    assert_valid(LocationSerializer, data)


# ---- unknown fields ------------------------------------------------------------------------


def _unknown_field_cases() -> list[Any]:
    cases = []
    for serializer, fixture in (
        (LocationSerializer, full),
        (LocationSerializer, restricted),
        (EvseSerializer, evse),
        (ConnectorSerializer, connector),
    ):
        for path in object_paths(fixture()):
            cases.append(pytest.param(serializer, fixture, path, id=f"{fixture.__name__}:{path}"))
    return cases


@pytest.mark.parametrize(("serializer", "fixture", "path"), _unknown_field_cases())
def test_unknown_field_is_refused_at_every_level(serializer: Any, fixture: Any, path: str) -> None:
    # given: a field the 2.2.1 tables do not define, on the object at `path`
    field = f"{path}.x_vendor_rating" if path else "x_vendor_rating"
    data = with_value(fixture(), field, 5)
    # then
    assert_invalid(serializer, data, field, "is not a field of this OCPI object")


def test_unknown_fields_kept_when_the_hub_allows_them(settings: Any) -> None:
    # given
    settings.OCPI_ALLOW_UNKNOWN_FIELDS = True
    data = with_value(full(), "evses[0].connectors[0].x_vendor_rating", 5)
    # when
    validated = assert_valid(LocationSerializer, data).validated_data
    # then: stored as received
    assert validated["evses"][0]["connectors"][0]["x_vendor_rating"] == 5


# ---- PATCH ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "serializer", [LocationPatchSerializer, EvsePatchSerializer, ConnectorPatchSerializer]
)
def test_patch_without_last_updated_is_refused(serializer: Any) -> None:
    assert message_for(serializer, {}) == "last_updated: This field is required."


def test_patch_of_status_without_last_updated_names_only_last_updated() -> None:
    assert message_for(EvsePatchSerializer, {"status": "CHARGING"}) == (
        "last_updated: This field is required."
    )


@pytest.mark.parametrize(
    ("serializer", "patch"),
    [
        (EvsePatchSerializer, {"status": "CHARGING", "last_updated": STAMP}),
        (EvsePatchSerializer, {"status": "REMOVED", "evse_id": None, "last_updated": STAMP}),
        (ConnectorPatchSerializer, {"tariff_ids": ["VLT-AC-2026"], "last_updated": STAMP}),
        (LocationPatchSerializer, {"name": "Ladepark Nordbahnhof", "last_updated": STAMP}),
        (LocationPatchSerializer, {"last_updated": STAMP}),
        (
            LocationPatchSerializer,
            {"opening_times": {"twentyfourseven": True}, "last_updated": STAMP},
        ),
        (LocationPatchSerializer, {"id": "BER-MITTE-07", "last_updated": STAMP}),
    ],
)
def test_valid_patch(serializer: Any, patch: dict[str, Any]) -> None:
    assert assert_valid(serializer, patch).validated_data == patch


@pytest.mark.parametrize(
    ("serializer", "patch", "path", "fragment"),
    [
        (EvsePatchSerializer, {"status": None}, "status", "may not be null"),
        (EvsePatchSerializer, {"status": "charging"}, "status", "Status"),
        (EvsePatchSerializer, {"uid": "u" * 37}, "uid", "no more than 36"),
        (EvsePatchSerializer, {"connectors": [{"id": "1"}]}, "connectors[0].standard", "required"),
        (ConnectorPatchSerializer, {"max_voltage": "400"}, "max_voltage", "valid integer"),
        (ConnectorPatchSerializer, {"tariff_ids": None, "color": "red"}, "color", "not a field"),
        (LocationPatchSerializer, {"country_code": "DEU"}, "country_code", ""),
        (LocationPatchSerializer, {"address": None}, "address", "may not be null"),
        (LocationPatchSerializer, {"time_zone": "Mitte"}, "time_zone", "IANA"),
        (
            LocationPatchSerializer,
            {"opening_times": {"regular_hours": WEEKDAYS}},
            "opening_times.twentyfourseven",
            "required",
        ),
        (
            LocationPatchSerializer,
            {"publish": True, "publish_allowed_to": [{"group_id": "g"}]},
            "publish_allowed_to",
            "only be used when publish",
        ),
        (LocationPatchSerializer, {"evses": [evse(), evse()]}, "evses[1].uid", "repeats"),
    ],
)
def test_invalid_patch(serializer: Any, patch: dict[str, Any], path: str, fragment: str) -> None:
    assert_invalid(serializer, {**patch, "last_updated": STAMP}, path, fragment)


@pytest.mark.parametrize("value", [None, "", "2025-03-01"])
def test_patch_last_updated_must_be_a_datetime(value: Any) -> None:
    assert_invalid(
        EvsePatchSerializer, {"status": "CHARGING", "last_updated": value}, "last_updated"
    )
