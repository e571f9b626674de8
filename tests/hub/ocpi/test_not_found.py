"""Any URL under /ocpi/ that matches no route is answered 404 + envelope, for every method,
with CSRF checks on as in production (`hub.urls`, `hub.ocpi.handlers.not_found`).

A real server decodes `%2F`, so `PUT /ocpi/2.2.1/cpo/tariffs/..%2F../CP1/X` reaches Django as
`/ocpi/2.2.1/cpo/tariffs/../../CP1/X`, which no route matches: the catch-all view answered
Django's HTML 403 (CSRF failure) instead, as for any write to an unknown OCPI URL. The test
client skips CSRF checks unless told, which is why this was only seen through `make fuzz`.
"""

import base64

import pytest
from django.test import Client

from tests.factories import registered_party

PATHS = [
    "/ocpi/2.2.1/cpo/tariffs/../../CP1/X",
    "/ocpi/2.2.1/emsp/locations/../../../../credentials",
    "/ocpi/2.2.1/nothing-here",
]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("method", ["get", "put", "post", "patch", "delete"])
def test_unknown_ocpi_url_is_404_with_an_envelope_under_csrf_checks(
    db: None, path: str, method: str
) -> None:
    token = registered_party("CPO", "NL", "CP1")[1]
    client = Client(
        enforce_csrf_checks=True,
        headers={"Authorization": f"Token {base64.b64encode(token.encode()).decode()}"},
    )
    body = {} if method == "get" else {"data": "{}", "content_type": "application/json"}
    response = getattr(client, method)(path, **body)
    assert response.status_code == 404, response.content[:200]
    envelope = response.json()
    assert envelope["status_code"] == 2000 and path in envelope["status_message"]
