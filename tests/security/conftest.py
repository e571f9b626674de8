"""The cross-party world of the security suite: two CPO platforms and two eMSP platforms, each
holding objects the others must neither read nor change.

- NL*CP1 and NL*CP2 (CPOs): a location and a tariff each; CP1 ran sessions and CDRs for tokens
  of both eMSPs.
- DE*MS1 and DE*MS2 (eMSPs): a token each (pushed through the hub), sessions S-1 / S-2 and CDRs
  C-1 / C-2 at CP1.

`snapshot()` captures every stored row a refused request could change, so each case asserts
that nothing did.
"""

import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.core import serializers

from hub.models import (
    AsyncRequest,
    Cdr,
    Evse,
    Location,
    Platform,
    PlatformEndpoint,
    PlatformRole,
    PlatformToken,
    ProxiedUrl,
    PushDelivery,
    Session,
    Tariff,
    Token,
    TokenOwner,
)
from tests.conftest import OcpiTestClient
from tests.cpo_gateway.api.test_cdrs import cdr
from tests.cpo_gateway.api.test_sessions import session
from tests.factories import PlatformEndpointFactory, registered_party
from tests.fixtures import load_ocpi_fixture
from tests.integration.test_location_broadcast import location, tariff
from tests.security.resolver import FakeResolver
from tests.security.routed import roaming  # noqa: F401 - the routed world's fixture

# Every row a request could create or change; the exchange log (which records refusals too)
# and `Platform.last_seen_at` (touched by any authenticated call) are not state.
_STATE_MODELS = (
    Location,
    Evse,
    Tariff,
    Token,
    TokenOwner,
    Session,
    Cdr,
    PushDelivery,
    AsyncRequest,
    ProxiedUrl,
    Platform,
    PlatformRole,
    PlatformEndpoint,
    PlatformToken,
)


def snapshot() -> list[dict[str, Any]]:
    """Every stored state row, serialized (compare two snapshots with ==)."""
    rows: list[dict[str, Any]] = []
    for model in _STATE_MODELS:
        for row in serializers.serialize("python", model.objects.order_by("pk")):
            row["fields"].pop("last_seen_at", None)
            rows.append(row)
    return rows


@dataclass
class Party:
    """One platform of the world with its single party and access token."""

    platform: Platform
    token: str
    country_code: str
    party_id: str

    @property
    def ref(self) -> tuple[str, str]:
        return (self.country_code, self.party_id)

    def headers(self, frm: tuple[str, str] | None = None, to: tuple[str, str] | None = None) -> Any:
        """OCPI routing headers: FROM defaults to this party, TO is left out unless given."""
        frm = frm or self.ref
        headers = {"OCPI-from-country-code": frm[0], "OCPI-from-party-id": frm[1]}
        if to:
            headers.update({"OCPI-to-country-code": to[0], "OCPI-to-party-id": to[1]})
        return headers


def token_body(owner: tuple[str, str], uid: str) -> dict[str, Any]:
    return {
        **load_ocpi_fixture("tokens", "token_rfid"),
        "country_code": owner[0],
        "party_id": owner[1],
        "uid": uid,
    }


@dataclass
class World:
    cp1: Party
    cp2: Party
    ms1: Party
    ms2: Party
    client: OcpiTestClient

    def call(self, party: Party, method: str, path: str, **kwargs: Any) -> Any:
        return self.client.request(method, path, token=party.token, **kwargs)


def _party(role: str, country_code: str, party_id: str, *receivers: str) -> Party:
    platform, token = registered_party(role, country_code, party_id, name=f"{party_id} {role}")
    for module in receivers:
        PlatformEndpointFactory(platform=platform, identifier=module, role="RECEIVER")
    return Party(platform, token, country_code, party_id)


def _ok(response: Any) -> None:
    assert response.status_code in (200, 201), response.content
    assert response.json()["status_code"] == 1000, response.json()


@pytest.fixture
def world(db: None, ocpi_client: OcpiTestClient, settings: Any) -> World:
    settings.OCPI_BASE_URL = "http://testserver"
    w = World(
        cp1=_party("CPO", "NL", "CP1", "tokens"),
        cp2=_party("CPO", "NL", "CP2", "tokens"),
        ms1=_party("EMSP", "DE", "MS1", "sessions", "cdrs", "locations", "tariffs"),
        ms2=_party("EMSP", "DE", "MS2", "sessions", "cdrs", "locations", "tariffs"),
        client=ocpi_client,
    )
    for cpo in (w.cp1, w.cp2):
        pid = cpo.party_id
        _ok(w.call(cpo, "PUT", f"/ocpi/2.2.1/cpo/locations/NL/{pid}/LOC1", json=location_of(pid)))
        _ok(w.call(cpo, "PUT", f"/ocpi/2.2.1/cpo/tariffs/NL/{pid}/T1", json=tariff_of(pid)))
    for emsp, n in ((w.ms1, 1), (w.ms2, 2)):
        path = f"/ocpi/2.2.1/emsp/tokens/DE/{emsp.party_id}/TOK{n}"
        _ok(w.call(emsp, "PUT", path, json=token_body(emsp.ref, f"TOK{n}")))
        body = session(owner=emsp.ref, id=f"S-{n}")
        _ok(w.call(w.cp1, "PUT", f"/ocpi/2.2.1/cpo/sessions/NL/CP1/S-{n}", json=body))
        _ok(w.call(w.cp1, "POST", "/ocpi/2.2.1/cpo/cdrs", json=cdr(emsp.ref, id=f"C-{n}")))
    return w


def location_of(party_id: str) -> dict[str, Any]:
    body = location()
    body["party_id"] = party_id
    return body


def tariff_of(party_id: str) -> dict[str, Any]:
    body = tariff()
    body["party_id"] = party_id
    return body


@pytest.fixture
def unchanged(world: World) -> Callable[[], None]:
    """Call the returned check after a refused request: it fails if any state row changed
    since the world was set up."""
    before = snapshot()

    def check() -> None:
        assert snapshot() == before

    return check


def assert_refused(response: Any, http_status: int, ocpi_status: int, *words: str) -> None:
    """An OCPI refusal: HTTP status, OCPI status code and a message naming `words`."""
    body = response.json()
    assert (response.status_code, body["status_code"]) == (http_status, ocpi_status), body
    for word in words:
        assert word in body["status_message"], body
    assert body.get("data") in (None, [], {}), body


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> FakeResolver:
    """A resolver the test controls (`dns.answer(name, [addresses], ...)`), for this test."""
    resolver = FakeResolver()
    monkeypatch.setattr(socket, "getaddrinfo", resolver.getaddrinfo)
    return resolver
