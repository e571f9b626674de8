"""The next page of a partner's list: its `Link`, checked before the hub follows it.

2.2.1 transport_and_format, Pagination: a Sender's `Link: <url>; rel="next"` repeats the
request for the next page. Some partners build it wrong — extrawest-ocpi hard-codes `https`,
writes enum names into the path and `/cpo/` for every role — and following such a link either
fails or carries the partner's token somewhere else. So the hub follows a link only when it
stays on the endpoint's origin and below its path; otherwise it asks for the next page itself
with `offset`/`limit`, which every 2.2.1 Sender list accepts, keeping the other parameters.

Used by the pull sync and by routed GETs (the hub's proxied next-page URL targets the result).
"""

from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

from hub.ocpi.urlpaths import is_below

__all__ = ["next_page_url", "usable_link"]


def usable_link(link: str, endpoint_url: str) -> bool:
    """Is `link` on `endpoint_url`'s origin and at or below its path? Dot segments, raw or
    percent-encoded, are resolved first (`hub.ocpi.urlpaths.is_below`): a Link of
    `{endpoint}/../credentials` would take the hub's token out of the endpoint."""
    return is_below(link, endpoint_url)


def _offset_page(current_url: str, endpoint_url: str, received: int) -> str:
    """`current_url`'s parameters on the endpoint, `offset` moved on by `received`."""
    pairs = parse_qsl(urlsplit(current_url).query, keep_blank_values=True)
    offset = 0
    for name, value in pairs:
        if name == "offset" and value.isdigit():
            offset = int(value)
    kept = [(name, value) for name, value in pairs if name != "offset"]
    query = urlencode([*kept, ("offset", str(offset + received))])
    return urlsplit(endpoint_url)._replace(query=query, fragment="").geturl()


def next_page_url(
    link: str | None, current_url: str, endpoint_url: str, received: int
) -> str | None:
    """The URL of the next page after `current_url` (a page of `endpoint_url`'s list that
    returned `received` objects), given the page's `rel="next"` target `link`.

    None when there is no next page: no link, or an unusable one on a page that returned
    nothing (an offset would not advance).
    """
    if link is None:
        return None
    target = urljoin(current_url, link)
    if usable_link(target, endpoint_url):
        return target
    if received <= 0:
        return None
    return _offset_page(current_url, endpoint_url, received)
