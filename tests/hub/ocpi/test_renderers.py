"""The orjson renderer (`hub.ocpi.renderers`) against DRF's JSONRenderer, which it replaces:
the same bytes for what the hub renders (envelopes, datetimes, Decimals, lazy strings, UTF-8,
U+2028), DRF's own output where orjson refuses (integers beyond 64 bits) or indentation is
asked for, and stored JSON text spliced in verbatim."""

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from django.utils.translation import gettext_lazy
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework.renderers import JSONRenderer

from hub.models import Location
from hub.ocpi.renderers import OcpiJSONRenderer, StoredJson, stored_json_of, with_stored_json
from tests.factories import LocationFactory

ours = OcpiJSONRenderer()
drf = JSONRenderer()


def test_an_envelope_renders_as_drf_renders_it() -> None:
    data = {
        "data": [
            {
                "id": "LOC1",
                "name": "Gare du Nord é ü 漢字 🚗",
                "coordinates": {"latitude": "52.370216", "longitude": "4.895168"},
                "last_updated": datetime(2024, 5, 1, 12, 30, 5, 123456, tzinfo=UTC),
                "opening": datetime(2024, 5, 1, 8, tzinfo=timezone(timedelta(hours=2))),
                "price": Decimal("0.2500"),
                "uid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
                "max_power": 22.5,
                "evses": [],
                "flags": [True, False, None],
                "tuple": (1, 2),
                "separator": "a\u2028b\u2029c",
                "control": 'tab\tnew\nline\x01quote"back\\slash',
            }
        ],
        "status_code": 1000,
        "status_message": gettext_lazy("Success"),
        "timestamp": datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
    }

    assert ours.render(data) == drf.render(data)


def test_an_integer_beyond_64_bits_falls_back_to_drf() -> None:
    data = {"price": 2**70, "negative": -(2**65)}

    rendered = ours.render(data)

    assert rendered == drf.render(data)
    assert json.loads(rendered) == data


def test_indentation_asked_for_is_drf_layout() -> None:
    data = {"data": {"a": [1, 2]}, "status_code": 1000}
    media = "application/json; indent=2"

    assert ours.render(data, media, {}) == drf.render(data, media, {})
    assert b"\n  " in ours.render(data, media, {})


def test_nothing_renders_as_nothing() -> None:
    assert ours.render(None) == b"" == drf.render(None)


def test_stored_json_is_spliced_in_verbatim() -> None:
    text = '{"id": "LOC1", "name": "caf\\u00e9", "n": 1.50, "x": [1, 2]}'
    page = {"data": [StoredJson(text), StoredJson("[]")], "status_code": 1000}

    rendered = ours.render(page)

    assert rendered == b'{"data":[' + text.encode() + b',[]],"status_code":1000}'
    assert json.loads(rendered)["data"][0] == json.loads(text)


def test_stored_json_beside_a_big_integer_is_decoded_by_the_fallback() -> None:
    page = {"data": [StoredJson('{"a": 1}')], "big": 2**70}

    assert json.loads(ours.render(page)) == {"data": [{"a": 1}], "big": 2**70}


@pytest.mark.django_db
def test_a_stored_location_reads_back_as_its_document() -> None:
    location = LocationFactory()

    (row,) = with_stored_json(Location.objects.filter(pk=location.pk), "location_id")

    assert json.loads(stored_json_of(row).text) == location.data
    assert json.loads(ours.render({"data": [stored_json_of(row)]}))["data"] == [location.data]


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.text()
    | st.decimals(allow_nan=False, allow_infinity=False, places=4, max_value=10**9)
    | st.datetimes(timezones=st.just(UTC)),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_any_document_renders_byte_for_byte_as_drf(value: Any) -> None:
    assert ours.render({"data": value}) == drf.render({"data": value})


@settings(max_examples=300, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_a_float_renders_to_the_same_value(value: float) -> None:
    # The same shortest round-trip digits; only an exponent's padding may differ (1e-07, 1e-7).
    assert json.loads(ours.render([value])) == json.loads(drf.render([value])) == [value]


def test_nan_which_drf_refuses_renders_as_null() -> None:
    with pytest.raises(ValueError, match="not JSON compliant"):
        drf.render([float("nan")])

    assert ours.render([float("nan"), float("inf")]) == b"[null,null]"
