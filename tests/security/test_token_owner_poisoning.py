"""Token-owner poisoning (issue 10, defect 5): a CPO names another eMSP in the `cdr_token` of
its sessions and CDRs for a uid an eMSP pushed itself. The eMSP's own word stays the routing
truth; the CPO's contradiction is a finding on the session/CDR, shown in the admin.

Live hub and simulated partners on 127.0.0.1 (real handshakes, real HTTP).
"""

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from hub.models import Cdr, Session, TokenOwner, TokenSource
from hub.ocpi.routing import PartyRef
from hub.services.routing.token_index import token_owner_learn, token_owners_of
from tests.cpo_gateway.api.test_cdrs import cdr
from tests.cpo_gateway.api.test_sessions import session
from tests.integration.hubnet import network, routing_headers

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

UID = "TOK1"


def emsp_token(owner: tuple[str, str]) -> dict[str, Any]:
    return {
        "country_code": owner[0],
        "party_id": owner[1],
        "uid": UID,
        "type": "RFID",
        "contract_id": f"{owner[0]}-{owner[1]}-{UID}",
        "issuer": "Mobility Service One",
        "valid": True,
        "whitelist": "NEVER",
        "last_updated": "2024-05-01T10:00:00Z",
    }


def hostile_token(owner: tuple[str, str]) -> dict[str, Any]:
    return {"country_code": owner[0], "party_id": owner[1], "uid": UID, "type": "RFID"} | {
        "contract_id": "XX-XXX-1"
    }


@pytest.fixture
def net(hub_url: str) -> Iterator[Any]:
    with network(cpos=2, emsps=2) as parties:
        yield parties


def open_routed(frm: tuple[str, str]) -> dict[str, str]:
    headers = routing_headers(frm=frm)
    del headers["OCPI-to-country-code"], headers["OCPI-to-party-id"]
    return headers


def authorize(cpo: Any, frm: tuple[str, str]) -> Any:
    return cpo.request(
        "POST",
        f"tokens/{UID}/authorize",
        role="SENDER",
        json={"location_id": "LOC1"},
        headers=open_routed(frm),
    )


@pytest.fixture
def superuser_client() -> Client:
    user = get_user_model().objects.create_superuser("staff", "staff@hub.local", "pw-for-tests")
    client = Client()
    client.force_login(user)
    return client


def test_hostile_cpo_cannot_make_an_emsp_token_ambiguous(
    net: Any, superuser_client: Client
) -> None:
    (cpo1, _), (cpo2, _) = net["cpos"]
    (ms1, _), (_ms2, _) = net["emsps"]
    # given: eMSP DE*MS1 pushed its token TOK1 to the hub, and authorizes it
    ms1.set_objects("tokens", [emsp_token(("DE", "MS1"))])
    pushed = ms1.request(
        "PUT", f"tokens/DE/MS1/{UID}", role="RECEIVER", json=emsp_token(("DE", "MS1"))
    )
    assert pushed.json()["status_code"] == 1000
    # when: hostile CPO NL*CP2 sends a session and a CDR naming DE*MS2 for that uid
    hostile = {"country_code": "NL", "party_id": "CP2"}
    body = session(owner=("DE", "MS2"), id="SES-EVIL", **hostile)
    body["cdr_token"] = hostile_token(("DE", "MS2"))
    put = cpo2.request(
        "PUT",
        "sessions/NL/CP2/SES-EVIL",
        role="RECEIVER",
        json=body,
        headers=open_routed(("NL", "CP2")),
    )
    bill = cdr(owner=("DE", "MS2"), id="CDR-EVIL", **hostile)
    bill["cdr_token"] = hostile_token(("DE", "MS2"))
    posted = cpo2.request(
        "POST", "cdrs", role="RECEIVER", json=bill, headers=open_routed(("NL", "CP2"))
    )
    # then: both are accepted (the CPO's bill still goes to the eMSP it names) ...
    assert put.json()["status_code"] == 1000, put.json()
    assert posted.json()["status_code"] == 1000, posted.json()
    # ... but the index still knows only DE*MS1, by its own push
    assert token_owners_of(UID, "RFID") == [PartyRef("DE", "MS1")]
    assert list(TokenOwner.objects.values_list("party_id", "source")) == [("MS1", "TOKENS")]
    # and open-routed authorization by an honest CPO still reaches DE*MS1
    response = authorize(cpo1, ("NL", "CP1"))
    assert response.json()["status_code"] == 1000, response.json()
    assert response.json()["data"]["allowed"] == "ALLOWED"
    assert response.headers["OCPI-from-party-id"] == "MS1"
    assert ms1.wait_for(lambda r: r.path.endswith(f"/tokens/{UID}/authorize"), timeout=5)
    # and the mismatch is stored on the session and the CDR
    evil_session = Session.objects.get(session_id="SES-EVIL")
    evil_cdr = Cdr.objects.get(cdr_id="CDR-EVIL")
    assert (evil_session.token_party_id, evil_session.token_owner_finding) == ("MS2", "DE*MS1")
    assert (evil_cdr.token_party_id, evil_cdr.token_owner_finding) == ("MS2", "DE*MS1")
    assert "TOKEN_OWNER_MISMATCH" in {f["code"] for f in evil_cdr.findings}
    # and shown in the admin: a column, and a filter that finds exactly these
    for model, key in (("session", "SES-EVIL"), ("cdr", "CDR-EVIL")):
        url = reverse(f"admin:hub_{model}_changelist")
        flagged = superuser_client.get(url, {"token_owner_mismatch": "yes"})
        assert flagged.status_code == 200
        text = flagged.content.decode()
        assert key in text and "issued by DE*MS1" in text and "token owner mismatch" in text
        clean = superuser_client.get(url, {"token_owner_mismatch": "no"}).content.decode()
        assert key not in clean


def test_matching_cpo_assertion_never_downgrades_the_emsp_s_own_word(db: None) -> None:
    owner = PartyRef("DE", "MS1")
    token_owner_learn(owner=owner, uid=UID, token_type="RFID", source=TokenSource.TOKENS)
    # a CPO naming the same owner: no finding, and the row stays authoritative
    assert token_owner_learn(owner=owner, uid=UID, token_type="RFID", source="SESSION") == ""
    assert TokenOwner.objects.get().source == TokenSource.TOKENS
    # a CPO naming another owner: a finding, and nothing recorded for it
    other = PartyRef("DE", "MS2")
    assert token_owner_learn(owner=other, uid=UID, token_type="RFID", source="CDR") == "DE*MS1"
    assert token_owners_of(UID, "RFID") == [owner]
    assert TokenOwner.objects.count() == 1


def test_emsp_push_outranks_earlier_cpo_assertions(db: None) -> None:
    # given: before the eMSP ever spoke, two CPOs named two owners (the uid is ambiguous)
    for party_id in ("MS2", "MS3"):
        token_owner_learn(
            owner=PartyRef("DE", party_id), uid=UID, token_type="RFID", source="SESSION"
        )
    assert len(token_owners_of(UID, "RFID")) == 2
    # when: DE*MS1 pushes its token
    token_owner_learn(owner=PartyRef("DE", "MS1"), uid=UID, token_type="RFID", source="TOKENS")
    # then: it alone routes
    assert token_owners_of(UID, "RFID") == [PartyRef("DE", "MS1")]
