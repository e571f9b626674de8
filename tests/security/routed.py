"""A routed world for the direct-routing attacks (dot segments, owner checks, token echo): a real
CPO (NL*CP1) and a real eMSP (DE*MS1), each a `SimulatedPartner` on 127.0.0.1 that accepts the
hub's token and answers its credentials GET with that token, plus two attackers the hub knows
but that run no server: another CPO (NL*CP2) and another eMSP (DE*MS2).

Each partner got its token by registering with a stand-in hub (as in
tests/hub/services/test_forwarding.py), so the hub's record of it holds a token the partner
really accepts: a request that escapes the endpoint would be answered, not refused with 401.

`tests/security/conftest.py` makes the `roaming` fixture available to the suite.
"""

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from hub.models import Platform
from hub.ocpi.tokens import token_forms
from partners.ocpi import role
from partners.simulated import SimulatedPartner
from tests.conftest import OcpiTestClient
from tests.factories import (
    PlatformEndpointFactory,
    PlatformFactory,
    PlatformRoleFactory,
    issue_token,
)

CPO_MODULES = [
    ("credentials", "SENDER"),
    ("locations", "SENDER"),
    ("tariffs", "SENDER"),
    ("sessions", "SENDER"),
    ("cdrs", "SENDER"),
    ("tokens", "RECEIVER"),
    ("commands", "RECEIVER"),
    ("chargingprofiles", "RECEIVER"),
]
EMSP_MODULES = [
    ("credentials", "SENDER"),
    ("locations", "RECEIVER"),
    ("tariffs", "RECEIVER"),
    ("sessions", "RECEIVER"),
    ("cdrs", "RECEIVER"),
    ("tokens", "SENDER"),
    ("commands", "SENDER"),
    ("chargingprofiles", "SENDER"),
]


@dataclass
class Member:
    """A platform of the routed world: the hub's record, the token it calls the hub with and,
    for the real partners, the server."""

    platform: Platform
    token: str
    country_code: str
    party_id: str
    server: SimulatedPartner | None = None

    @property
    def ref(self) -> tuple[str, str]:
        return (self.country_code, self.party_id)

    def headers(self, to: tuple[str, str] | None = None) -> dict[str, str]:
        headers = {"OCPI-from-country-code": self.country_code, "OCPI-from-party-id": self.party_id}
        if to is not None:
            headers.update({"OCPI-to-country-code": to[0], "OCPI-to-party-id": to[1]})
        return headers


@dataclass
class Roaming:
    cp1: Member
    ms1: Member
    cp2: Member
    ms2: Member
    client: OcpiTestClient

    @property
    def servers(self) -> list[SimulatedPartner]:
        return [m.server for m in (self.cp1, self.ms1) if m.server is not None]

    def call(
        self, member: Member, method: str, path: str, *, to: Member | None = None, **kwargs: Any
    ) -> Any:
        headers = {**member.headers(to.ref if to else None), **kwargs.pop("headers", {})}
        return self.client.request(method, path, token=member.token, headers=headers, **kwargs)

    def received(self) -> list[str]:
        """Every request the real partners received, as `METHOD path`."""
        return [f"{r.method} {r.path}" for s in self.servers for r in s.received]

    def hub_tokens(self) -> list[str]:
        """Every form of every token the hub uses at a partner: none may reach a caller."""
        forms: list[str] = []
        for member in (self.cp1, self.ms1, self.cp2, self.ms2):
            token = member.platform.outbound_token
            forms.extend(token_forms(token))
            # The raw form inside JSON may be escaped; base64 of the base64 is how a partner
            # would echo an Authorization header it decoded once.
            forms.append(base64.b64encode(token.encode()).decode())
        return [form for form in forms if form]

    @staticmethod
    def leaked_text(response: Any) -> str:
        """The answer as a caller reads it: body bytes and every header."""
        return response.content.decode("utf-8", "replace") + "".join(
            f"{name}: {value}\n" for name, value in response.items()
        )

    def leaked(self, response: Any) -> list[str]:
        """The forms of the hub's tokens found in the answer (none may be)."""
        text = self.leaked_text(response)
        return [form[:6] + "..." for form in self.hub_tokens() if form in text]


def _partner_member(
    partner: SimulatedPartner, kind: str, country_code: str, party_id: str
) -> Member:
    platform = PlatformFactory(name=f"{party_id} {kind}", outbound_token=partner.own_token)
    PlatformRoleFactory(platform=platform, role=kind, country_code=country_code, party_id=party_id)
    for module, interface in partner.modules:
        PlatformEndpointFactory(
            platform=platform, identifier=module, role=interface, url=partner.module_url(module)
        )
    return Member(platform, issue_token(platform), country_code, party_id, partner)


def _attacker(kind: str, country_code: str, party_id: str) -> Member:
    platform = PlatformFactory(name=f"{party_id} {kind}")
    PlatformRoleFactory(platform=platform, role=kind, country_code=country_code, party_id=party_id)
    return Member(platform, issue_token(platform), country_code, party_id)


@pytest.fixture
def roaming(db: None, ocpi_client: OcpiTestClient, settings: Any) -> Iterator[Roaming]:
    settings.OCPI_BASE_URL = "http://testserver"
    with (
        SimulatedPartner(roles=[role("HUB", "NL", "HUB")], name="stand-in-1") as stand_in_1,
        SimulatedPartner(roles=[role("HUB", "NL", "HUB")], name="stand-in-2") as stand_in_2,
        SimulatedPartner(roles=[role("CPO", "NL", "CP1")], modules=CPO_MODULES, name="cp1") as cpo,
        SimulatedPartner(
            roles=[role("EMSP", "DE", "MS1")], modules=EMSP_MODULES, name="ms1"
        ) as emsp,
    ):
        # One stand-in hub each: a stand-in takes one registration (its Token A is then used).
        for partner, stand_in in ((cpo, stand_in_1), (emsp, stand_in_2)):
            partner.register_with(stand_in.versions_url, stand_in.token_a)
            partner.clear_received()
        yield Roaming(
            cp1=_partner_member(cpo, "CPO", "NL", "CP1"),
            ms1=_partner_member(emsp, "EMSP", "DE", "MS1"),
            cp2=_attacker("CPO", "NL", "CP2"),
            ms2=_attacker("EMSP", "DE", "MS2"),
            client=ocpi_client,
        )
