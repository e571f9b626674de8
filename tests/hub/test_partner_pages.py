"""Next pages of a partner's list: its Link when usable, else the hub's own offset."""

from hub.ocpi.partner_pages import next_page_url, usable_link

ENDPOINT = "http://127.0.0.1:8123/ocpi/cpo/2.2.1/locations/"
FIRST = f"{ENDPOINT}?date_from=2024-05-01T00%3A00%3A00Z&offset=0&limit=2"
# extrawest-ocpi's Link: https on an http server, enum names, `date_from=None`
BROKEN = (
    "https://127.0.0.1:8123/ocpi/cpo/VersionNumber.v_2_2_1/ModuleID.locations/"
    "?date_from=None&date_to=None&offset=2&limit=2"
)


def test_a_link_on_the_endpoint_is_followed_as_given() -> None:
    link = f"{ENDPOINT}?cursor=abc"
    assert next_page_url(link, FIRST, ENDPOINT, 2) == link
    # relative, and below the endpoint (a hub's proxied page)
    assert next_page_url("/ocpi/cpo/2.2.1/locations/page/1", FIRST, ENDPOINT, 2) == (
        "http://127.0.0.1:8123/ocpi/cpo/2.2.1/locations/page/1"
    )


def test_an_unusable_link_becomes_the_next_offset_with_the_same_filters() -> None:
    assert next_page_url(BROKEN, FIRST, ENDPOINT, 2) == (
        f"{ENDPOINT}?date_from=2024-05-01T00%3A00%3A00Z&limit=2&offset=2"
    )
    second = f"{ENDPOINT}?limit=2&offset=2"
    assert next_page_url(BROKEN, second, ENDPOINT, 2) == f"{ENDPOINT}?limit=2&offset=4"


def test_no_next_page_without_a_link_or_without_progress() -> None:
    assert next_page_url(None, FIRST, ENDPOINT, 2) is None
    assert next_page_url(BROKEN, FIRST, ENDPOINT, 0) is None


def test_usable_means_same_origin_and_at_or_below_the_endpoint_path() -> None:
    assert usable_link(ENDPOINT.rstrip("/"), ENDPOINT)
    assert usable_link(f"{ENDPOINT}x/y?z=1", ENDPOINT)
    assert not usable_link(BROKEN, ENDPOINT)
    assert not usable_link("http://127.0.0.1:8123/ocpi/cpo/2.2.1/locationsX", ENDPOINT)
    assert not usable_link("http://127.0.0.1:9999/ocpi/cpo/2.2.1/locations/", ENDPOINT)
    assert not usable_link("https://evil.example/ocpi/cpo/2.2.1/locations/", ENDPOINT)
