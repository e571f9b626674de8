"""The OpenAPI schema documents the OCPI conventions a partner engineer needs (2.2.1
transport_and_format, status_codes): the envelope, every status code, the routing and id
headers, the Authorization header and pagination, with examples."""

import base64
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import call_command

from hub.ocpi.datetimes import parse_datetime
from hub.ocpi.schema_docs import EXAMPLE_TIMESTAMP, EXAMPLE_TOKEN_HEADER, STATUS_CODES
from hub.ocpi.status import OcpiStatus

# The codes of 2.2.1 status_codes.asciidoc, and 4000, the generic code of its hub range (4xxx).
SPEC_CODES = {1000, 2000, 2001, 2002, 2003, 2004, 3000, 3001, 3002, 3003, 4000, 4001, 4002, 4003}


@pytest.fixture(scope="module")
def schema(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = Path(tmp_path_factory.mktemp("schema")) / "schema.yaml"
    call_command("spectacular", validate=True, fail_on_warn=True, file=str(out))
    return dict(yaml.safe_load(out.read_text()))


def test_every_status_code_is_described() -> None:
    assert {int(code) for code in OcpiStatus} == SPEC_CODES
    assert set(STATUS_CODES) == set(OcpiStatus)


def test_guide_documents_envelope_status_codes_headers_auth_and_pagination(
    schema: dict[str, Any],
) -> None:
    guide = schema["info"]["description"]
    for field in ("data", "status_code", "status_message", "timestamp"):
        assert f"`{field}`" in guide, field
    for code in SPEC_CODES:
        assert re.search(rf"^\| {code} \|", guide, re.MULTILINE), code
    for header in (
        "OCPI-from-country-code",
        "OCPI-from-party-id",
        "OCPI-to-country-code",
        "OCPI-to-party-id",
        "X-Request-ID",
        "X-Correlation-ID",
        "X-Total-Count",
        "X-Limit",
        "Link",
    ):
        assert header in guide, header
    for parameter in ("offset", "limit", "date_from", "date_to"):
        assert f"`{parameter}`" in guide, parameter
    assert "Authorization: Token <base64(credentials token)>" in guide


def test_components_name_envelope_status_code_and_datetime(schema: dict[str, Any]) -> None:
    components = schema["components"]["schemas"]
    envelope = components["OcpiEnvelope"]
    assert set(envelope["properties"]) == {"data", "status_code", "status_message", "timestamp"}
    assert envelope["required"] == ["status_code", "timestamp"]
    described = components["OcpiStatusCode"]["description"]
    assert all(f"| {code} |" in described for code in SPEC_CODES)
    datetime_schema = components["OcpiDateTime"]
    assert re.fullmatch(datetime_schema["pattern"], datetime_schema["example"])


def test_examples_are_what_the_hub_writes() -> None:
    # The example timestamp is an OCPI DateTime, and the example header is base64 of the token
    # without the newline the spec's own example encodes.
    assert parse_datetime(EXAMPLE_TIMESTAMP) is not None
    assert len(EXAMPLE_TIMESTAMP) <= 25 and EXAMPLE_TIMESTAMP.endswith("Z")
    scheme, _, value = EXAMPLE_TOKEN_HEADER.partition(" ")
    assert scheme == "Token" and base64.b64decode(value) == b"example-token"


def test_security_scheme_explains_both_token_forms(schema: dict[str, Any]) -> None:
    scheme = schema["components"]["securitySchemes"]["OcpiToken"]
    assert scheme["name"] == "Authorization"
    assert EXAMPLE_TOKEN_HEADER in scheme["description"]
    assert "raw token" in scheme["description"]
    assert "Token A" in scheme["description"]


def test_operations_carry_header_examples_and_error_examples(schema: dict[str, Any]) -> None:
    get = schema["paths"]["/ocpi/2.2.1/emsp/locations"]["get"]
    headers = {p["name"]: p for p in get["parameters"] if p["in"] == "header"}
    assert headers["OCPI-to-country-code"]["schema"]["example"] == "DE"
    assert "one of your own parties" in headers["OCPI-from-country-code"]["description"]
    unauthorized = get["responses"]["401"]["content"]["application/json"]
    assert unauthorized["example"]["status_message"] == "Unknown credentials token"
    envelope = get["responses"]["200"]["content"]["application/json"]["schema"]
    assert envelope["properties"]["timestamp"]["example"] == EXAMPLE_TIMESTAMP


def test_paginated_lists_document_the_pagination_headers(schema: dict[str, Any]) -> None:
    paths = schema["paths"]
    for path in ("/ocpi/2.2.1/emsp/locations", "/ocpi/2.2.1/hubclientinfo"):
        get = paths[path]["get"]
        headers = get["responses"]["200"]["headers"]
        assert {"X-Total-Count", "X-Limit", "Link"} <= set(headers), path
        assert 'rel="next"' in headers["Link"]["example"]
        query = {p["name"]: p for p in get["parameters"] if p["in"] == "query"}
        assert query["date_from"]["schema"]["example"] == "2026-11-01T00:00:00Z"
    # A single object is no list.
    one = paths["/ocpi/2.2.1/emsp/locations/{location_id}"]["get"]
    assert "X-Total-Count" not in one["responses"]["200"]["headers"]
