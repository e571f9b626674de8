"""Versions module: authentication forms, Token A scope, per-caller endpoints."""

import pytest

from hub.models import TokenScope
from tests.conftest import OcpiTestClient
from tests.factories import PlatformFactory, issue_token, registered_party

pytestmark = pytest.mark.django_db


def test_versions_without_token_401_enveloped(ocpi_client: OcpiTestClient) -> None:
    response = ocpi_client.get("/ocpi/versions")
    assert response.status_code == 401
    assert response.json()["status_code"] == 2000
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize(
    "header",
    ["Token", "Token ", "Bearer abc", "Basic dXNlcjpwYXNz", "Token not-a-known-token"],
)
def test_versions_bad_authorization_401(ocpi_client: OcpiTestClient, header: str) -> None:
    response = ocpi_client.get("/ocpi/versions", headers={"Authorization": header})
    assert response.status_code == 401
    assert "status_message" in response.json()


def test_versions_token_a_base64_and_raw_accepted(ocpi_client: OcpiTestClient) -> None:
    # given
    platform = PlatformFactory(registered=False, status="PLANNED")
    token_a = issue_token(platform, TokenScope.REGISTRATION)
    # when
    encoded = ocpi_client.get("/ocpi/versions", token=token_a, form="base64")
    raw = ocpi_client.get("/ocpi/versions/", token=token_a, form="raw")
    # then
    for response in (encoded, raw):
        assert response.status_code == 200
        body = response.json()
        assert body["status_code"] == 1000
        assert body["data"] == [{"version": "2.2.1", "url": "http://127.0.0.1:8000/ocpi/2.2.1"}]


def test_version_details_token_a_lists_every_endpoint(ocpi_client: OcpiTestClient) -> None:
    platform = PlatformFactory(registered=False, status="PLANNED")
    token_a = issue_token(platform, TokenScope.REGISTRATION)
    response = ocpi_client.get("/ocpi/2.2.1", token=token_a)
    data = response.json()["data"]
    assert data["version"] == "2.2.1"
    identifiers = {(e["identifier"], e["role"]) for e in data["endpoints"]}
    assert ("credentials", "SENDER") in identifiers
    assert ("hubclientinfo", "SENDER") in identifiers


def test_version_details_registered_caller(ocpi_client: OcpiTestClient) -> None:
    _, token = registered_party("CPO", "NL", "ABC")
    response = ocpi_client.get("/ocpi/2.2.1/", token=token)
    assert response.status_code == 200
    urls = {e["identifier"]: e["url"] for e in response.json()["data"]["endpoints"]}
    assert urls["credentials"] == "http://127.0.0.1:8000/ocpi/2.2.1/credentials"


def test_token_a_refused_outside_versions_and_credentials(ocpi_client: OcpiTestClient) -> None:
    platform = PlatformFactory(registered=False, status="PLANNED")
    token_a = issue_token(platform, TokenScope.REGISTRATION)
    response = ocpi_client.get("/ocpi/2.2.1/hubclientinfo", token=token_a)
    assert response.status_code == 401


def test_suspended_platform_refused(ocpi_client: OcpiTestClient) -> None:
    _, token = registered_party("CPO", "NL", "SUS", status="SUSPENDED")
    response = ocpi_client.get("/ocpi/versions", token=token)
    assert response.status_code == 401
    assert "suspended" in response.json()["status_message"]


def test_request_ids_echoed_and_generated(ocpi_client: OcpiTestClient) -> None:
    _, token = registered_party("CPO", "NL", "IDS")
    sent = ocpi_client.get("/ocpi/versions", token=token)
    assert sent["X-Request-ID"] == sent.sent_headers["X-Request-ID"]
    assert sent["X-Correlation-ID"] == sent.sent_headers["X-Correlation-ID"]
    bare = ocpi_client.django.get("/ocpi/versions")
    assert bare["X-Request-ID"] and bare["X-Correlation-ID"]


def test_unknown_ocpi_path_404_enveloped(ocpi_client: OcpiTestClient) -> None:
    _, token = registered_party("CPO", "NL", "NFD")
    response = ocpi_client.get("/ocpi/2.2.1/nothing-here", token=token)
    assert response.status_code == 404
    assert response.json()["status_code"] == 2000


def test_method_not_allowed_enveloped(ocpi_client: OcpiTestClient) -> None:
    _, token = registered_party("CPO", "NL", "MNA")
    response = ocpi_client.post("/ocpi/versions", json={}, token=token)
    assert response.status_code == 405
    assert response.json()["status_code"] == 2000


def test_from_header_of_another_party_refused(ocpi_client: OcpiTestClient) -> None:
    # given: a CPO NL*ABC and another platform's party DE*XYZ
    _, token = registered_party("CPO", "NL", "ABC")
    registered_party("EMSP", "DE", "XYZ")
    # when: the CPO claims to be DE*XYZ
    response = ocpi_client.get(
        "/ocpi/2.2.1/hubclientinfo",
        token=token,
        headers={"OCPI-from-country-code": "DE", "OCPI-from-party-id": "XYZ"},
    )
    # then
    assert response.status_code == 200
    body = response.json()
    assert body["status_code"] == 2001
    assert "OCPI-from" in body["status_message"]
    assert "data" not in body


def test_from_header_of_own_party_any_case_accepted(ocpi_client: OcpiTestClient) -> None:
    _, token = registered_party("CPO", "NL", "ABC")
    response = ocpi_client.get(
        "/ocpi/2.2.1/hubclientinfo",
        token=token,
        headers={"OCPI-from-country-code": "nl", "OCPI-from-party-id": "abc"},
    )
    assert response.json()["status_code"] == 1000


@pytest.mark.parametrize(
    "headers",
    [
        {"OCPI-from-country-code": "NL"},
        {"OCPI-from-country-code": "NLD", "OCPI-from-party-id": "ABC"},
        {"OCPI-to-country-code": "NL", "OCPI-to-party-id": "ABCD"},
    ],
)
def test_malformed_routing_headers_2001(
    ocpi_client: OcpiTestClient, headers: dict[str, str]
) -> None:
    _, token = registered_party("CPO", "NL", "ABC")
    response = ocpi_client.get("/ocpi/2.2.1/hubclientinfo", token=token, headers=headers)
    assert response.json()["status_code"] == 2001


@pytest.mark.parametrize("path", ["/ocpi/2.2.1/", "/ocpi//2.2.1", "/ocpi/2.2.1//"])
def test_trailing_and_doubled_slashes_reach_the_same_endpoint(
    ocpi_client: OcpiTestClient, path: str
) -> None:
    _, token = registered_party("CPO", "NL", "SLA")
    response = ocpi_client.get(path, token=token)
    assert response.status_code == 200
    assert response.json()["data"]["version"] == "2.2.1"
