"""The hub's one Link-header parser (`hub.ocpi.links`): what the pull sync, the CDR
reconciliation and the forwarder read as a partner's next page."""

import pytest

from hub.ocpi.links import link_relations, parse_next_link

BASE = "https://cpo.example.com/ocpi/2.2.1/locations?offset=0&limit=50"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('<https://a/p?offset=2&limit=2>; rel="next"', "https://a/p?offset=2&limit=2"),
        ("<https://a/p>;rel=next", "https://a/p"),
        ('<https://a/1>; rel="prev", <https://a/3>; rel="next"', "https://a/3"),
        ('<https://a/3>; rel="next last"', "https://a/3"),
        ('<https://a/3>; rel="nextpage"', None),
        ('<https://a/1>; rel="prev"', None),
        ("", None),
        (None, None),
        # the relation type is case-insensitive, and only the first `rel` counts (RFC 8288)
        ('<https://a/3>; REL="Next"', "https://a/3"),
        ('<https://a/3>; rel="prev"; rel="next"', None),
        # a quoted parameter may hold `;`, `,` and the word rel without being one
        ('<https://a/1>; title="a; rel=next, b"; rel="prev"', None),
        ('<https://a/2>; title="x, y"; rel="next"', "https://a/2"),
        ("<https://a/1>; rel=prev, <https://a/2>; rel=next", "https://a/2"),
    ],
)
def test_next_link_parsing(header: str | None, expected: str | None) -> None:
    assert parse_next_link(header) == expected


def test_a_next_link_is_resolved_against_the_page_it_came_with() -> None:
    link = '<https://cpo.example.com/ocpi/2.2.1/locations?offset=50&limit=50>; rel="next"'
    assert parse_next_link(link, BASE) == (
        "https://cpo.example.com/ocpi/2.2.1/locations?offset=50&limit=50"
    )
    assert parse_next_link('<https://x/a>; rel="prev", <https://x/b>; rel=next', BASE) == (
        "https://x/b"
    )
    assert parse_next_link('<https://x/a>; rel="prev"', BASE) is None
    assert parse_next_link(None, BASE) is None
    assert parse_next_link('</ocpi/2.2.1/locations?offset=5>; rel="next"', BASE) == (
        "https://cpo.example.com/ocpi/2.2.1/locations?offset=5"
    )
    # an empty target is the page itself: the pull's loop guard stops it
    assert parse_next_link('<>; rel="next"', BASE) == BASE


def test_link_relations() -> None:
    assert link_relations('; rel="next last"') == ["next", "last"]
    assert link_relations("; title=x") == []
    assert link_relations("") == []
