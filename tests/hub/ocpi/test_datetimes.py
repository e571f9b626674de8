from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.ocpi.datetimes import DateTimeFormatError, format_datetime, parse_datetime


def test_format_datetime_whole_seconds_ends_in_z() -> None:
    # given
    value = datetime(2015, 6, 29, 20, 39, 9, tzinfo=UTC)
    # when
    text = format_datetime(value)
    # then
    assert text == "2015-06-29T20:39:09Z"


def test_format_datetime_converts_other_zones_to_utc_with_millis() -> None:
    value = datetime(2015, 6, 29, 22, 39, 9, 123456, tzinfo=timezone(timedelta(hours=2)))
    assert format_datetime(value) == "2015-06-29T20:39:09.123Z"


def test_format_datetime_naive_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        format_datetime(datetime(2015, 6, 29))  # noqa: DTZ001


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2015-06-29T20:39:09Z", datetime(2015, 6, 29, 20, 39, 9, tzinfo=UTC)),
        ("2015-06-29T20:39:09", datetime(2015, 6, 29, 20, 39, 9, tzinfo=UTC)),
        ("2015-06-29T20:39:09.2Z", datetime(2015, 6, 29, 20, 39, 9, 200000, tzinfo=UTC)),
        ("2015-06-29T20:39:09.123Z", datetime(2015, 6, 29, 20, 39, 9, 123000, tzinfo=UTC)),
        ("2015-06-29T20:39:09+00:00", datetime(2015, 6, 29, 20, 39, 9, tzinfo=UTC)),
    ],
)
def test_parse_datetime_spec_forms_accepted(text: str, expected: datetime) -> None:
    assert parse_datetime(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "2015-06-29T20:39:09+02:00",  # offsets other than UTC are not OCPI
        "2015-06-29 20:39:09Z",
        "2015-13-29T20:39:09Z",
        "2015-06-29T20:39:09.1234567890Z",  # over 25 characters
        "yesterday",
        "",
    ],
)
def test_parse_datetime_invalid_refused(text: str) -> None:
    with pytest.raises(DateTimeFormatError):
        parse_datetime(text)


@given(
    st.datetimes(
        min_value=datetime(1970, 1, 1), max_value=datetime(9999, 1, 1), timezones=st.just(UTC)
    )
)
def test_format_then_parse_round_trips_to_the_millisecond(value: datetime) -> None:
    text = format_datetime(value)
    assert len(text) <= 25
    assert parse_datetime(text) == value.replace(microsecond=value.microsecond // 1000 * 1000)
