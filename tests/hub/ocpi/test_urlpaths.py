"""`hub.ocpi.urlpaths`: what an outbound path may hold, and what lies below an endpoint."""

import pytest

from hub.ocpi.exceptions import NotFoundError
from hub.ocpi.partner_pages import next_page_url
from hub.ocpi.urlpaths import check_path_segment, is_below, join_segments, segment_escapes

E = "http://127.0.0.1:5000/ocpi/2.2.1/locations"


@pytest.mark.parametrize(
    ("url", "below"),
    [
        (E, True),
        (E + "/", True),
        (E + "/NL/CP1/LOC1", True),
        ("HTTP://127.0.0.1:5000/ocpi/2.2.1/locations/x?a=..", True),
        (E + "/../credentials", False),
        (E + "/%2E%2E/credentials", False),
        (E + "/%2e%2E/x", False),
        (E + "/%252E%252E/credentials", False),
        (E + "/a%2F..%2F..%2Fcredentials", False),
        (E + "/a%5Cb", False),
        ("http://127.0.0.1:5001/ocpi/2.2.1/locations/x", False),
        ("https://127.0.0.1:5000/ocpi/2.2.1/locations/x", False),
        (E + "s/x", False),
        ("http://127.0.0.1:5000/ocpi/2.2.1/locationsX", False),
    ],
)
def test_is_below(url: str, below: bool) -> None:
    assert is_below(url, E) is below


def test_default_ports_are_the_same_origin() -> None:
    assert is_below("http://h/x/y", "http://h:80/x")
    assert is_below("https://h:443/x/y", "https://h/x")


@pytest.mark.parametrize(
    "value", [".", "..", "%2E", "%2e%2E", ".%2e", "%252E%252e", "a/b", "a%2Fb", "a%252fb", "a\\b"]
)
def test_escaping_segments_are_refused_with_the_field_named(value: str) -> None:
    assert segment_escapes(value)
    with pytest.raises(NotFoundError, match="location_id") as raised:
        check_path_segment("location_id", value)
    assert (raised.value.http_status, raised.value.ocpi_status) == (404, 2001)


@pytest.mark.parametrize("value", ["...", "a.b", "LOC1", "A%2541", "x~y"])
def test_plain_segments_pass(value: str) -> None:
    assert not segment_escapes(value)


def test_join_segments_leaves_nothing_safe() -> None:
    assert join_segments(["NL", "CP1", "a b?#%/"[:-1]]) == "/NL/CP1/a%20b%3F%23%25"
    assert join_segments([]) == ""
    with pytest.raises(NotFoundError, match="path segment 2"):
        join_segments(["NL", ".."])


def test_a_next_link_out_of_the_endpoint_becomes_an_offset_page() -> None:
    current = E + "?limit=2"
    assert next_page_url(E + "/%2E%2E/credentials", current, E, 2) == E + "?limit=2&offset=2"
    assert next_page_url(E + "/../credentials", current, E, 2) == E + "?limit=2&offset=2"
