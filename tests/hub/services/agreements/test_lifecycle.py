"""Adding and changing agreements (`lifecycle`): every bad input refused with a message naming
the field and the value, nothing stored; the status transitions; and what applying one sends
(`apply`), once."""

import datetime
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from hub.celery import app
from hub.models import AgreementStatus, PushAttempt, PushDelivery, RoamingAgreement
from hub.ocpi.routing import PartyRef
from hub.services.agreements.apply import agreement_apply, agreements_apply_due
from hub.services.agreements.lifecycle import (
    AgreementTerms,
    agreement_add,
    agreement_end,
    agreement_resume,
    agreement_suspend,
    agreement_update,
    parse_party,
)
from hub.services.delivery.sending import delivery_send
from hub.tasks import agreements_apply_task
from tests.factories import (
    LocationFactory,
    PlatformRoleFactory,
    PushDeliveryFactory,
    RoamingAgreementFactory,
    TariffFactory,
    TokenFactory,
)

pytestmark = pytest.mark.django_db

CPO = PartyRef("NL", "CPO")
EMSP = PartyRef("DE", "EMS")
TODAY = timezone.localdate()
DAY = datetime.timedelta(days=1)


def terms(**changes: Any) -> AgreementTerms:
    values: dict[str, Any] = {"cpo": CPO, "emsp": EMSP, "valid_from": TODAY}
    values.update(changes)
    return AgreementTerms(**values)


def refused(call: Any, *args: Any) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as raised:
        call(*args)
    return raised.value.message_dict


def test_add_stores_normalised_terms(pair: dict[str, Any]) -> None:
    LocationFactory(party=("NL", "CPO"), location_id="LOC1")
    agreement, effects = agreement_add(
        terms(scopes=("tariffs", "locations"), location_ids=("loc1",), valid_to=TODAY + DAY)
    )
    assert (agreement.cpo_country_code, agreement.cpo_party_id) == ("NL", "CPO")
    assert agreement.scopes == ["locations", "tariffs"]  # canonical order
    assert agreement.location_ids == ["LOC1"]  # as stored
    assert agreement.status == AgreementStatus.ACTIVE
    assert agreement.in_force and effects.change == "started"


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"cpo": PartyRef("NL", "XXX")}, "cpo", "NL*XXX is not a party registered at the hub"),
        ({"cpo": PartyRef("DE", "EMT")}, "cpo", "DE*EMT is registered as EMSP, not as a CPO"),
        ({"emsp": PartyRef("DE", "ZZZ")}, "emsp", "DE*ZZZ is not a party registered at the hub"),
        ({"emsp": CPO}, "emsp", "NL*CPO is registered as CPO, not as an eMSP-type role"),
        ({"scopes": ("locations", "parking")}, "scopes", "unknown scope(s) parking"),
        ({"scopes": ()}, "scopes", "name at least one scope"),
        ({"scopes": ("evse_status",)}, "scopes", "it needs the locations scope"),
        ({"location_ids": ("NOPE",)}, "location_ids", "NL*CPO has no stored location NOPE"),
        ({"location_ids": ("LOCX",)}, "location_ids", "NL*CPO has no stored location LOCX"),
        (
            {"scopes": ("tariffs",), "location_ids": ("LOC1",)},
            "location_ids",
            "narrow the locations scope",
        ),
        ({"valid_to": TODAY - DAY}, "valid_to", f"is before valid_from {TODAY.isoformat()}"),
    ],
)
def test_bad_terms_are_refused_by_field(
    pair: dict[str, Any], changes: dict[str, Any], field: str, words: str
) -> None:
    LocationFactory(party=("NL", "CPO"), location_id="LOC1")
    LocationFactory(party=("NL", "XYZ"), location_id="LOCX")  # another CPO's location
    errors = refused(agreement_add, terms(**changes))
    assert any(words in message for message in errors[field]), errors
    assert not RoamingAgreement.objects.exists()


def test_overlapping_period_of_the_pair_is_refused(pair: dict[str, Any]) -> None:
    first = RoamingAgreementFactory(valid_from=TODAY, valid_to=TODAY + 10 * DAY)
    errors = refused(agreement_add, terms(valid_from=TODAY + 10 * DAY))
    assert errors["valid_from"] == [
        f"agreement {first.pk} between NL*CPO and DE*EMS ({TODAY.isoformat()}–"
        f"{(TODAY + 10 * DAY).isoformat()}, ACTIVE) overlaps {(TODAY + 10 * DAY).isoformat()}–"
        "open-ended; end it first or choose a period after it"
    ]
    # a suspended one still holds its period; an ended one does not
    agreement_suspend(first.pk)
    refused(agreement_add, terms(valid_from=TODAY + 5 * DAY))
    agreement_end(first.pk)
    agreement, _ = agreement_add(terms(valid_from=TODAY + 5 * DAY))
    assert agreement.status == AgreementStatus.ACTIVE
    # the period right after an existing one is fine
    agreement_add(terms(emsp=PartyRef("DE", "EMT"), valid_to=TODAY))
    agreement_add(terms(emsp=PartyRef("DE", "EMT"), valid_from=TODAY + DAY))


def test_ending_closes_the_validity_period_today(pair: dict[str, Any]) -> None:
    # settlement reads the period, not the status: an ended agreement must stop there
    open_ended = RoamingAgreementFactory(valid_from=TODAY - 40 * DAY)
    longer = RoamingAgreementFactory(
        emsp_party_id="EMT", valid_from=TODAY - DAY, valid_to=TODAY + 30 * DAY
    )
    shorter = RoamingAgreementFactory(
        emsp_party_id="EMU", valid_from=TODAY - 9 * DAY, valid_to=TODAY - 2 * DAY
    )
    never_started = RoamingAgreementFactory(
        emsp_party_id="EMV", valid_from=TODAY + 5 * DAY, in_force=False
    )
    for agreement in (open_ended, longer, shorter, never_started):
        agreement_end(agreement.pk)
        agreement.refresh_from_db()
        assert agreement.status == AgreementStatus.ENDED
    assert open_ended.valid_to == TODAY
    assert longer.valid_to == TODAY
    assert shorter.valid_to == TODAY - 2 * DAY  # already over: kept
    assert never_started.valid_to == never_started.valid_from


def test_a_party_holding_both_roles_cannot_agree_with_itself(pair: dict[str, Any]) -> None:
    PlatformRoleFactory(platform=pair["cpo"], role="EMSP", country_code="NL", party_id="CPO")
    errors = refused(agreement_add, terms(emsp=CPO))
    assert errors["emsp"] == ["NL*CPO is the CPO party itself: an agreement is between two parties"]


def test_update_validates_against_the_others(pair: dict[str, Any]) -> None:
    first = RoamingAgreementFactory(valid_from=TODAY, valid_to=TODAY + DAY)
    second = RoamingAgreementFactory(valid_from=TODAY + 5 * DAY, in_force=False)
    agreement_update(first.pk, terms(valid_to=TODAY + 2 * DAY))  # itself is no overlap
    errors = refused(agreement_update, first.pk, terms(valid_to=TODAY + 6 * DAY))
    assert f"agreement {second.pk}" in errors["valid_from"][0]
    first.refresh_from_db()
    assert first.valid_to == TODAY + 2 * DAY  # the refused change changed nothing


@pytest.mark.parametrize(
    ("status", "call", "words"),
    [
        (AgreementStatus.SUSPENDED, agreement_suspend, "is SUSPENDED; only ACTIVE can become"),
        (AgreementStatus.ACTIVE, agreement_resume, "is ACTIVE; only SUSPENDED can become ACTIVE"),
        (AgreementStatus.ENDED, agreement_end, "is ENDED; only ACTIVE or SUSPENDED can become"),
    ],
)
def test_transitions_refused_from_the_wrong_status(
    pair: dict[str, Any], status: str, call: Any, words: str
) -> None:
    agreement = RoamingAgreementFactory(status=status)
    errors = refused(call, agreement.pk)
    assert words in errors["status"][0]
    agreement.refresh_from_db()
    assert agreement.status == status


def test_unknown_agreement_id(pair: dict[str, Any]) -> None:
    assert refused(agreement_suspend, 999)["agreement"] == ["there is no roaming agreement 999"]


def test_parse_party_accepts_the_spellings() -> None:
    assert parse_party("nl-cpo", "cpo") == CPO
    assert parse_party("NL*CPO", "cpo") == CPO
    with pytest.raises(ValidationError) as raised:
        parse_party("NL-CPOX", "cpo")
    assert raised.value.message_dict == {
        "cpo": ["'NL-CPOX' is not a party: give country code and party id as CC-PID"]
    }


def deliveries(**filters: Any) -> list[tuple[str, str, str]]:
    return sorted(
        PushDelivery.objects.filter(**filters).values_list("module", "object_key", "to_party_id")
    )


def test_start_pushes_cpo_data_and_clientinfo_once(
    agreements_mode: None, pair: dict[str, Any]
) -> None:
    LocationFactory(party=("NL", "CPO"), location_id="LOC1", owner=pair["cpo"])
    LocationFactory(party=("NL", "CPO"), location_id="LOC2", owner=pair["cpo"])
    LocationFactory(party=("NL", "CPO"), location_id="PRIV", owner=pair["cpo"], publish=False)
    TariffFactory(country_code="NL", party_id="CPO", tariff_id="T1", owner=pair["cpo"])
    agreement, effects = agreement_add(terms(location_ids=("LOC1", "PRIV"), scopes=("locations",)))
    assert effects.change == "started"
    assert deliveries() == [
        ("hubclientinfo", "DE/EMS/EMSP", "CPO"),
        ("hubclientinfo", "NL/CPO/CPO", "EMS"),
        ("locations", "NL/CPO/LOC1", "EMS"),  # not LOC2 (not named), not PRIV (private)
    ]
    # applying again does nothing more
    assert agreement_apply(agreement.pk).change == "unchanged"
    assert PushDelivery.objects.count() == 3


def test_start_with_tokens_sends_the_cpo_the_emsps_tokens(
    agreements_mode: None, pair: dict[str, Any]
) -> None:
    TokenFactory(party=("DE", "EMS"), uid="abc1", owner=pair["emsp"])
    TokenFactory(party=("DE", "EMT"), uid="OTHER1", owner=pair["other"])
    agreement_add(terms(scopes=("tokens",)))
    assert ("tokens", "DE/EMS/ABC1/RFID", "CPO") in deliveries()
    assert not PushDelivery.objects.filter(object_key__startswith="DE/EMT/")
    assert not PushDelivery.objects.filter(module="locations")


def test_stop_pushes_clientinfo_only(agreements_mode: None, pair: dict[str, Any]) -> None:
    LocationFactory(party=("NL", "CPO"), location_id="LOC1", owner=pair["cpo"])
    agreement = RoamingAgreementFactory()
    _, effects = agreement_suspend(agreement.pk)
    assert effects.change == "stopped"
    assert deliveries() == [
        ("hubclientinfo", "DE/EMS/EMSP", "CPO"),
        ("hubclientinfo", "NL/CPO/CPO", "EMS"),
    ]
    agreement.refresh_from_db()
    assert not agreement.in_force
    _, effects = agreement_resume(agreement.pk)
    assert effects.change == "started"
    assert ("locations", "NL/CPO/LOC1", "EMS") in deliveries()


def test_open_mode_records_in_force_without_pushing(pair: dict[str, Any]) -> None:
    LocationFactory(party=("NL", "CPO"), location_id="LOC1", owner=pair["cpo"])
    agreement, effects = agreement_add(terms())
    assert agreement.in_force and effects.change == "started"
    assert not PushDelivery.objects.exists()


def test_daily_run_applies_what_the_dates_moved(
    agreements_mode: None, pair: dict[str, Any]
) -> None:
    starting = RoamingAgreementFactory(valid_from=TODAY, in_force=False)
    ending = RoamingAgreementFactory(
        emsp_party_id="EMT", valid_from=TODAY - 5 * DAY, valid_to=TODAY - DAY, in_force=True
    )
    future = RoamingAgreementFactory(
        cpo_party_id="CPO", emsp_party_id="EMT", valid_from=TODAY + DAY, in_force=False
    )
    assert agreements_apply_due() == {"started": 1, "stopped": 1}
    assert agreements_apply_due() == {"started": 0, "stopped": 0}  # idempotent
    for agreement, in_force in ((starting, True), (ending, False), (future, False)):
        agreement.refresh_from_db()
        assert agreement.in_force is in_force


@pytest.mark.parametrize(
    ("module", "key", "from_party", "status"),
    [
        ("locations", "NL/CPO/LOC1", ("NL", "HUB"), "CANCELLED"),  # state: dropped
        ("cdrs", "NL/CPO/CDR1", ("NL", "CPO"), "DEAD"),  # money: kept for staff to resend
    ],
)
def test_a_delivery_queued_before_suspension_is_not_sent(
    agreements_mode: None,
    pair: dict[str, Any],
    module: str,
    key: str,
    from_party: tuple[str, str],
    status: str,
) -> None:
    agreement = RoamingAgreementFactory()
    delivery = PushDeliveryFactory(
        receiver=pair["emsp"],
        module=module,
        object_key=key,
        from_country_code=from_party[0],
        from_party_id=from_party[1],
    )
    agreement_suspend(agreement.pk)
    # the receiver is at 127.0.0.1:9 (nothing listens): an attempt would fail, not finish
    assert delivery_send(delivery_id=delivery.pk) == "not allowed"
    delivery.refresh_from_db()
    assert delivery.status == status
    assert delivery.last_error.startswith(
        "not allowed: no roaming agreement in force between NL*CPO and DE*EMS for "
    )
    assert delivery.attempts == 0
    assert not PushAttempt.objects.filter(delivery=delivery).exists()


def test_the_daily_task_is_beat_scheduled_and_runs(
    agreements_mode: None, pair: dict[str, Any]
) -> None:
    schedule = {entry["task"]: entry for entry in app.conf.beat_schedule.values()}
    assert "hub.agreements_apply" in schedule
    starting = RoamingAgreementFactory(valid_from=TODAY, in_force=False)
    assert agreements_apply_task.name == "hub.agreements_apply"
    assert agreements_apply_task.apply().get() == {"started": 1, "stopped": 0}
    starting.refresh_from_db()
    assert starting.in_force
