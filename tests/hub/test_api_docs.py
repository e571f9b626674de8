"""Swagger UI and ReDoc are served from the hub's own static files (DESIGN §8: no CDN): every
script, stylesheet, icon and link of their pages is local, and each static one resolves
through the staticfiles finders (so `collectstatic` ships it)."""

from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.test import Client

pytestmark = pytest.mark.django_db

DOC_PAGES = ("/api/docs/", "/api/redoc/")
SCHEMA_URL = "/api/schema/"


class _References(HTMLParser):
    """Every URL a page makes the browser load or follow: src, href, and <redoc spec-url>."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href", "spec-url", "data", "action") and value:
                self.urls.append((tag, value))


def _references(html: str) -> list[tuple[str, str]]:
    parser = _References()
    parser.feed(html)
    return parser.urls


def _is_local(url: str) -> bool:
    parts = urlsplit(url)
    return not parts.scheme and not parts.netloc  # relative, or an absolute path on the hub


def _static_url() -> str:
    # Django prefixes a relative STATIC_URL ("static/") with the script name: "/static/".
    url = settings.STATIC_URL
    return url if url.startswith("/") else "/" + url


@pytest.mark.parametrize("page", DOC_PAGES)
def test_docs_page_loads_only_local_assets(client: Client, page: str) -> None:
    # given / when
    response = client.get(page)
    # then
    assert response.status_code == 200
    html = response.content.decode()
    references = _references(html)
    scripts = [url for tag, url in references if tag == "script"]
    assert scripts, f"{page} loads no script: the test would prove nothing"
    for tag, url in references:
        assert _is_local(url), f"{page}: <{tag}> loads {url} from outside the hub"
        path = urlsplit(url).path
        assert path.startswith(_static_url()) or path == SCHEMA_URL, f"{page}: {url}"
    # No URL with a scheme anywhere, inline scripts and styles included (fonts, badges).
    assert "://" not in html, f"{page} names an external URL"


@pytest.mark.parametrize("page", DOC_PAGES)
def test_docs_static_assets_resolve_through_the_finders(client: Client, page: str) -> None:
    html = client.get(page).content.decode()
    static = [
        urlsplit(url).path.removeprefix(_static_url())
        for _, url in _references(html)
        if urlsplit(url).path.startswith(_static_url())
    ]
    assert static
    for relative in static:
        assert finders.find(relative) is not None, f"{page}: {relative} is not a static file"


def test_swagger_ui_runs_without_the_external_validator(client: Client) -> None:
    # Swagger UI's default validatorUrl shows a badge image from validator.swagger.io.
    html = client.get("/api/docs/").content.decode()
    assert '"validatorUrl": null' in html


def test_docs_pages_point_at_the_served_schema(client: Client) -> None:
    for page in DOC_PAGES:
        html = client.get(page).content.decode()
        assert SCHEMA_URL in html, page
    schema: Any = client.get(SCHEMA_URL)
    assert schema.status_code == 200
    assert b"OcpiEnvelope" in schema.content
