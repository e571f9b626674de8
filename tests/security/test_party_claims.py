"""Partners do not choose their own parties (issue 10, defect 8; hub.services.registry.parties).

- An invite (ocpi_invite --party, the admin form, ocpi_connect --party) may name the parties it
  is for: credentials claiming any other are refused (2001, naming the party), nothing changes.
- Without named parties the first registration's parties are fixed; a later PUT adding one
  leaves it PENDING for staff (approve/reject in the admin) while the old roles keep working.
- A party a PUT leaves out stays reserved to its platform until staff release it.
- Every change is in the party audit log, with who and when.

Refusals are checked on the in-process client (the hub refuses before calling anyone); the
flows run on the live hub with simulated partners on 127.0.0.1, both registration directions.
"""

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from hub.models import (
    ClaimState,
    PartyAction,
    PartyAuditEntry,
    PartyClaim,
    Platform,
    PlatformRole,
)
from hub.services.registry.credentials import hub_versions_url, platform_invite
from partners.ocpi import OcpiCallError
from partners.simulated import SimulatedPartner
from tests.conftest import OcpiTestClient
from tests.factories import PartyClaimFactory, registered_party
from tests.integration.hubnet import role
from tests.security.conftest import assert_refused, snapshot

V = "/ocpi/2.2.1"


def credentials(*roles: tuple[str, str, str]) -> dict[str, Any]:
    return {
        "token": "partner-token",
        "url": "https://partner.example.com/ocpi/versions",
        "roles": [role(*r) for r in roles],
    }


def state() -> tuple[Any, ...]:
    """Every state row, claims and audit entries included."""
    return (
        snapshot(),
        list(PartyClaim.objects.order_by("pk").values()),
        list(PartyAuditEntry.objects.order_by("pk").values()),
    )


def parties_of(platform: Platform) -> set[str]:
    return {f"{r.country_code}*{r.party_id} {r.role}" for r in platform.roles.all()}


def claims() -> set[tuple[str, str, str]]:
    return {
        (f"{c.country_code}*{c.party_id} {c.role}", c.state, c.platform.name)
        for c in PartyClaim.objects.select_related("platform")
    }


def actions(party_id: str) -> list[str]:
    return list(
        PartyAuditEntry.objects.filter(party_id=party_id)
        .order_by("pk")
        .values_list("action", flat=True)
    )


# --- refusals, before anything is called ------------------------------------------------------


@pytest.mark.django_db
def test_post_claiming_a_party_the_invite_does_not_name_is_refused(
    ocpi_client: OcpiTestClient,
) -> None:
    # given: an invite for NL*ABC CPO only
    call_command("ocpi_invite", name="ABC", party=["NL-ABC:CPO"], json=True)
    platform = Platform.objects.get(name="ABC")
    token_a = platform_invite(name="ABC", platform=platform)[1]
    before = state()
    # when: its Token A holder claims NL*ABC and NL*XYZ (or NL*ABC as an eMSP)
    for claimed, named in (
        ([("CPO", "NL", "ABC"), ("CPO", "NL", "XYZ")], "roles[1]: NL*XYZ CPO"),
        ([("EMSP", "NL", "ABC")], "roles[0]: NL*ABC EMSP"),
    ):
        response = ocpi_client.post(f"{V}/credentials", json=credentials(*claimed), token=token_a)
        # then: 2001 naming the party and what the invite allows; nothing changed
        assert_refused(response, 200, 2001, named, "not a party this platform was invited for")
        assert "NL*ABC CPO" in response.json()["status_message"]
    assert state() == before


@pytest.mark.django_db
def test_put_claiming_an_undeclared_party_of_a_named_platform_is_refused(
    ocpi_client: OcpiTestClient,
) -> None:
    platform, token = registered_party("CPO", "NL", "ABC", parties_named=True)
    before = state()
    response = ocpi_client.put(
        f"{V}/credentials",
        json=credentials(("CPO", "NL", "ABC"), ("CPO", "NL", "NEW")),
        token=token,
    )
    assert_refused(response, 200, 2001, "roles[1]: NL*NEW CPO", "not a party this platform")
    assert state() == before
    assert parties_of(platform) == {"NL*ABC CPO"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "claim_state", [ClaimState.DROPPED, ClaimState.PENDING, ClaimState.INVITED]
)
def test_a_party_reserved_to_another_platform_cannot_be_claimed(
    ocpi_client: OcpiTestClient, claim_state: str
) -> None:
    # given: NL*OLD CPO is reserved to platform "Holder" (dropped, pending or invited)
    holder, _ = registered_party("CPO", "NL", "HLD", name="Holder")
    PartyClaimFactory(
        platform=holder, country_code="NL", party_id="OLD", role="CPO", state=claim_state
    )
    _, token_a = platform_invite(name="Newcomer")
    _, other_token = registered_party("CPO", "NL", "OTH")
    before = state()
    body = credentials(("CPO", "NL", "OLD"))
    # when: a newcomer registers with it, and a registered platform PUTs it
    posted = ocpi_client.post(f"{V}/credentials", json=body, token=token_a)
    put = ocpi_client.put(f"{V}/credentials", json=body, token=other_token)
    # then: both refused, naming the party; nothing changed
    for response in (posted, put):
        assert_refused(response, 200, 2001, "roles[0]: NL*OLD CPO is reserved to another platform")
    assert state() == before


@pytest.mark.django_db
def test_ocpi_invite_parties_are_checked_and_audited() -> None:
    registered_party("CPO", "NL", "TKN")
    with pytest.raises(CommandError, match="not COUNTRY-PARTY:ROLE"):
        call_command("ocpi_invite", name="Bad", party=["NLABC"])
    with pytest.raises(CommandError, match="role must be one of"):
        call_command("ocpi_invite", name="Bad", party=["NL-ABC:BOSS"])
    with pytest.raises(CommandError, match="NL\\*TKN CPO is registered to another platform"):
        call_command("ocpi_invite", name="Bad", party=["NL-TKN:CPO"])
    assert not Platform.objects.filter(name="Bad").exists()
    # a good one: named parties reserved to the invited platform, each audited
    call_command("ocpi_invite", name="Good", party=["NL-ABC:CPO", "nl*abc:emsp"], json=True)
    good = Platform.objects.get(name="Good")
    assert good.parties_named
    assert claims() == {
        ("NL*ABC CPO", ClaimState.INVITED, "Good"),
        ("NL*ABC EMSP", ClaimState.INVITED, "Good"),
    }
    entry = PartyAuditEntry.objects.filter(party_id="ABC").first()
    assert entry is not None
    assert (entry.action, entry.actor) == (PartyAction.INVITED, "staff (manage.py ocpi_invite)")


@pytest.mark.django_db
def test_admin_invite_form_names_parties(admin_client: Client) -> None:
    registered_party("CPO", "NL", "TKN")
    url = reverse("admin:hub_platform_invite")
    refused = admin_client.post(url, {"name": "P", "parties": "NL-TKN:CPO"})
    assert refused.status_code == 200
    assert "NL*TKN CPO is registered to another platform" in refused.content.decode()
    assert not Platform.objects.filter(name="P").exists()
    accepted = admin_client.post(url, {"name": "P", "parties": "NL-ABC:CPO, DE-ABC:EMSP"})
    assert accepted.status_code == 200
    assert {c[0] for c in claims()} == {"NL*ABC CPO", "DE*ABC EMSP"}
    assert set(PartyAuditEntry.objects.values_list("actor", flat=True)) == {"staff admin"}


# --- the flows, on the live hub ---------------------------------------------------------------


@pytest.fixture
def staff() -> Client:
    user = get_user_model().objects.create_superuser("staff", "staff@hub.local", "pw-for-tests")
    client = Client()
    client.force_login(user)
    return client


def admin_action(staff: Client, action: str, party_id: str) -> None:
    claim = PartyClaim.objects.get(party_id=party_id)
    response = staff.post(
        reverse("admin:hub_partyclaim_changelist"),
        {"action": action, "_selected_action": [str(claim.pk)]},
    )
    assert response.status_code == 302, response.content


@pytest.fixture
def sim(hub_url: str) -> Iterator[SimulatedPartner]:
    with SimulatedPartner(roles=[role("CPO", "NL", "SIM")]) as partner:
        yield partner


class TestClaimFlows:
    pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

    def test_first_registration_fixes_parties_and_additions_wait_for_approval(
        self, sim: SimulatedPartner, staff: Client
    ) -> None:
        # given: an invite without parties; the partner registers as NL*SIM CPO
        platform, token_a = platform_invite(name="Sim")
        sim.register_with(hub_versions_url(), token_a)
        assert parties_of(platform) == {"NL*SIM CPO"}
        assert actions("SIM") == [PartyAction.CLAIMED]
        # when: a PUT adds NL*SI2 CPO
        sim.roles.append(role("CPO", "NL", "SI2"))
        sim.update_credentials()
        # then: the PUT succeeded for the rest and named the pending party
        answer = sim.sent[-1].response_json
        assert answer["status_code"] == 1000
        assert "NL*SI2 CPO: awaiting approval" in answer["status_message"]
        assert parties_of(platform) == {"NL*SIM CPO"}
        assert claims() == {("NL*SI2 CPO", ClaimState.PENDING, "Sim")}
        # and the old role keeps working with the new token
        pushed = sim.request(
            "GET", hub_versions_url().removesuffix("/versions") + "/2.2.1/hubclientinfo"
        )
        assert pushed.status_code == 200
        # and nobody else can claim the pending party meanwhile
        _, other = platform_invite(name="Other")
        refused = sim.request(
            "POST",
            f"{hub_versions_url().removesuffix('/versions')}/2.2.1/credentials",
            token=other,
            json=credentials(("CPO", "NL", "SI2")),
        )
        assert "NL*SI2 CPO is reserved to another platform" in refused.json()["status_message"]
        # when: staff approve it in the admin
        admin_action(staff, "approve_action", "SI2")
        # then: a working role, audited with the staff user
        assert parties_of(platform) == {"NL*SIM CPO", "NL*SI2 CPO"}
        assert not PartyClaim.objects.exists()
        approved = PartyAuditEntry.objects.get(party_id="SI2", action=PartyAction.APPROVED)
        assert (approved.actor, approved.user.username) == ("staff staff", "staff")
        assert actions("SI2") == [PartyAction.REQUESTED, PartyAction.APPROVED]
        # when: another PUT adds NL*SI3, which staff reject
        sim.roles.append(role("CPO", "NL", "SI3"))
        sim.update_credentials()
        admin_action(staff, "reject_action", "SI3")
        assert parties_of(platform) == {"NL*SIM CPO", "NL*SI2 CPO"}
        assert not PartyClaim.objects.exists()
        assert actions("SI3") == [PartyAction.REQUESTED, PartyAction.REJECTED]

    def test_dropped_party_stays_reserved_until_released(
        self, sim: SimulatedPartner, staff: Client, hub_url: str
    ) -> None:
        # given: the partner registered as NL*SIM and NL*SI2, then PUTs without NL*SIM
        sim.roles.append(role("CPO", "NL", "SI2"))
        platform, token_a = platform_invite(name="Sim")
        sim.register_with(hub_versions_url(), token_a)
        sim.roles = [role("CPO", "NL", "SI2")]
        sim.update_credentials()
        assert parties_of(platform) == {"NL*SI2 CPO"}
        assert claims() == {("NL*SIM CPO", ClaimState.DROPPED, "Sim")}
        # when: another partner tries to register as NL*SIM
        with SimulatedPartner(roles=[role("CPO", "NL", "SIM")], name="thief") as thief:
            _, thief_a = platform_invite(name="Thief")
            with pytest.raises(OcpiCallError, match="NL\\*SIM CPO is reserved to another"):
                thief.register_with(hub_versions_url(), thief_a)
            assert not PlatformRole.objects.filter(platform__name="Thief").exists()
            # when: staff release it; then the next claim gets it
            admin_action(staff, "release_action", "SIM")
            thief.register_with(hub_versions_url(), thief_a)
        assert parties_of(Platform.objects.get(name="Thief")) == {"NL*SIM CPO"}
        assert actions("SIM") == [
            PartyAction.CLAIMED,
            PartyAction.DROPPED,
            PartyAction.RELEASED,
            PartyAction.CLAIMED,
        ]

    def test_dropped_party_comes_back_to_its_own_platform(self, sim: SimulatedPartner) -> None:
        sim.roles.append(role("CPO", "NL", "SI2"))
        platform, token_a = platform_invite(name="Sim")
        sim.register_with(hub_versions_url(), token_a)
        sim.roles = [role("CPO", "NL", "SI2")]
        sim.update_credentials()
        sim.roles.append(role("CPO", "NL", "SIM"))
        sim.update_credentials()
        assert parties_of(platform) == {"NL*SIM CPO", "NL*SI2 CPO"}
        assert not PartyClaim.objects.exists()

    def test_invite_naming_the_partner_s_parties_registers(self, sim: SimulatedPartner) -> None:
        platform, token_a = platform_invite(name="Sim", parties=[("NL", "SIM", "CPO")])
        sim.register_with(hub_versions_url(), token_a)
        assert parties_of(platform) == {"NL*SIM CPO"}
        assert not PartyClaim.objects.exists()  # the invited party became a working role
        assert actions("SIM") == [PartyAction.INVITED, PartyAction.CLAIMED]

    def test_ocpi_connect_refuses_a_partner_claiming_undeclared_parties(
        self, sim: SimulatedPartner
    ) -> None:
        # when: the hub registers at a partner for NL*ABC CPO, and it answers as NL*SIM CPO
        with pytest.raises(CommandError, match="roles\\[0\\]: NL\\*SIM CPO is not a party") as exc:
            call_command(
                "ocpi_connect",
                versions_url=sim.versions_url,
                token_a=sim.token_a,
                name="Sim",
                party=["NL-ABC:CPO"],
            )
        # then: OCPI 2001, nothing stored, and the partner was told (its registration deleted)
        assert "(OCPI 2001)" in str(exc.value)
        assert not Platform.objects.exists()
        assert not PartyClaim.objects.exists()
        assert not sim.registered
        # when: the hub connects for the party the partner does claim
        call_command(
            "ocpi_connect",
            versions_url=sim.versions_url,
            token_a=sim.issue_token_a(),
            name="Sim",
            party=["NL-SIM:CPO"],
        )
        platform = Platform.objects.get(name="Sim")
        assert platform.parties_named
        assert parties_of(platform) == {"NL*SIM CPO"}

    def test_ocpi_connect_without_parties_then_a_rotation_adds_one_pending(
        self, sim: SimulatedPartner
    ) -> None:
        from hub.services.registry.credentials import credentials_rotate

        call_command("ocpi_connect", versions_url=sim.versions_url, token_a=sim.token_a, name="Sim")
        platform = Platform.objects.get(name="Sim")
        assert parties_of(platform) == {"NL*SIM CPO"}
        # the partner now answers with an extra party: it waits for staff
        sim.roles.append(role("EMSP", "NL", "SIM"))
        credentials_rotate(platform=platform)
        assert parties_of(platform) == {"NL*SIM CPO"}
        assert claims() == {("NL*SIM EMSP", ClaimState.PENDING, "Sim")}
