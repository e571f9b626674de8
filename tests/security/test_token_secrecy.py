"""No credentials token ever appears in logs, the exchange log, the outbox, the admin or an
error message (DESIGN §2, §7).

One run against the live hub and simulated partners on 127.0.0.1: registration both ways, a
rotation from each side, pushes both ways, routed calls, partners that echo the token they
were sent in their error messages, and callers presenting dead or malformed credentials — with
every logger at DEBUG. Then every token (Token A, the partners' tokens B, the hub's tokens C,
old and new) in every form it travels in is searched for in all of it.
"""

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from celery.signals import before_task_publish
from django.contrib.auth import get_user_model
from django.core import serializers
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from hub.models import (
    OcpiExchange,
    Platform,
    PlatformEndpoint,
    PlatformRole,
    PushAttempt,
    PushDelivery,
    Token,
)
from hub.ocpi.tokens import token_forms
from hub.services.delivery.sending import delivery_send
from hub.services.registry.credentials import credentials_rotate, hub_versions_url, platform_invite
from partners.simulated import SimulatedPartner
from tests.integration.hubnet import role, routing_headers
from tests.integration.test_location_broadcast import location, tariff
from tests.security.conftest import token_body

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ADMIN_MODELS = (Platform, PlatformRole, PlatformEndpoint, Token, OcpiExchange, PushDelivery)


class Secrets:
    """Every token seen during the run."""

    def __init__(self) -> None:
        self.tokens: set[str] = set()

    def add(self, *tokens: str | None) -> None:
        self.tokens.update(t for t in tokens if t)

    def add_partner(self, partner: SimulatedPartner) -> None:
        self.add(partner.token_a, partner.own_token, partner.hub_token)

    def found_in(self, where: str, text: str) -> list[str]:
        return [
            f"{where}: {form[:6]}... ({token[:6]}...)"
            for token in self.tokens
            for form in token_forms(token)
            if form in text
        ]


@pytest.fixture
def debug_logging(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every logger at DEBUG (the settings keep httpx and httpcore at WARNING)."""
    caplog.set_level(logging.DEBUG)
    for name in list(logging.root.manager.loggerDict):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


@pytest.fixture
def published() -> Iterator[list[str]]:
    """The arguments and headers of every Celery task the hub enqueues during the test."""
    seen: list[str] = []

    def record(body: Any = None, headers: Any = None, **_: Any) -> None:
        seen.append(repr(body) + repr(headers))

    before_task_publish.connect(record, weak=False)
    yield seen
    before_task_publish.disconnect(record)


def deliver_pending() -> None:
    """Send every pending delivery in this process (what the worker does), so its logs are
    captured at DEBUG too."""
    for delivery_id in PushDelivery.objects.filter(status="PENDING").values_list("pk", flat=True):
        delivery_send(delivery_id=delivery_id)


def echo_token_errors(partner: SimulatedPartner, path: str) -> None:
    """Make `partner` answer requests under `path` with an error echoing the token it got."""
    token = partner.own_token
    assert token
    message = f"Token {token} is not valid here (raw {token})"
    envelope = {"status_code": 2001, "status_message": message, "timestamp": "2024-01-01T00:00:00Z"}
    partner.set_behaviour(path, envelope=envelope)


def admin_pages(admin: Client) -> Iterator[tuple[str, str]]:
    for model in ADMIN_MODELS:
        name = model._meta.model_name
        changelist = reverse(f"admin:hub_{name}_changelist")
        yield changelist, admin.get(changelist).content.decode()
        for pk in model.objects.values_list("pk", flat=True)[:20]:
            url = reverse(f"admin:hub_{name}_change", args=[pk])
            response = admin.get(url)
            assert response.status_code == 200, url
            yield url, response.content.decode()


def test_no_token_in_logs_exchange_log_outbox_admin_or_error_messages(
    hub_url: str,
    debug_logging: pytest.LogCaptureFixture,
    published: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    secrets = Secrets()
    answers: list[str] = []
    with (
        SimulatedPartner(roles=[role("CPO", "NL", "CP1")]) as cpo,
        SimulatedPartner(roles=[role("EMSP", "DE", "MS1")]) as ms1,
        SimulatedPartner(roles=[role("EMSP", "DE", "MS2")]) as ms2,
    ):
        # given: CPO and MS1 register with Token A (partner-initiated)...
        for partner, name in ((cpo, "CPO"), (ms1, "MS1")):
            _, token_a = platform_invite(name=name)
            secrets.add(token_a)
            partner.register_with(hub_versions_url(), token_a)
            secrets.add_partner(partner)
        # ...and the hub registers with MS2 using MS2's Token A (hub-initiated)
        call_command("ocpi_connect", versions_url=ms2.versions_url, token_a=ms2.token_a, name="MS2")
        secrets.add_partner(ms2)
        # when: the CPO rotates with PUT, the hub rotates MS2's credentials
        old_cpo_token = cpo.hub_token
        cpo.update_credentials()
        credentials_rotate(platform=Platform.objects.get(name="MS2"))
        for partner in (cpo, ms1, ms2):
            secrets.add_partner(partner)
        assert len(secrets.tokens) >= 9
        # when: pushes both ways; MS1 echoes the hub's token in its error for tariffs
        echo_token_errors(ms1, "tariffs")
        frm_cpo = routing_headers(frm=("NL", "CP1"))
        for path, body in (("locations/NL/CP1/LOC1", location()), ("tariffs/NL/CP1/T1", tariff())):
            response = cpo.request("PUT", path, role="RECEIVER", json=body, headers=frm_cpo)
            assert response.status_code == 201, response.text
        token_path = "tokens/DE/MS1/TOK1"
        response = ms1.request(
            "PUT", token_path, role="RECEIVER", json=token_body(("DE", "MS1"), "TOK1")
        )
        assert response.status_code == 201, response.text
        deliver_pending()
        assert ms2.requests_to("/ocpi/2.2.1/tariffs/NL/CP1/T1")
        assert PushDelivery.objects.filter(status="FAILED", receiver__name="MS1").exists()
        # when: routed calls, one to a CPO that echoes the hub's token in its error
        direct = ms1.request(
            "GET", "locations", role="SENDER", headers=routing_headers(("NL", "CP1"))
        )
        answers.append(direct.text)
        echo_token_errors(cpo, "tariffs")
        relayed = ms1.request(
            "GET", "tariffs", role="SENDER", headers=routing_headers(("NL", "CP1"))
        )
        assert relayed.json()["status_code"] == 2001 and "***" in relayed.json()["status_message"]
        answers.append(relayed.text)
        # when: callers present dead, foreign and malformed credentials
        assert old_cpo_token
        for token, form in ((old_cpo_token, None), (cpo.token_a, None), (ms2.own_token, "raw")):
            refused = cpo.request("GET", hub_versions_url(), token=token, token_encoding=form)
            assert refused.status_code == 401
            answers.append(refused.text)
        for header in (f"Bearer {cpo.hub_token}", f"Token  {cpo.hub_token} x", f"{cpo.hub_token}"):
            refused = cpo.request(
                "GET", hub_versions_url(), headers={"Authorization": header}, send_token=False
            )
            assert refused.status_code == 401
            answers.append(refused.text)
    # then: no token anywhere
    found: list[str] = []
    for record in debug_logging.records:
        found += secrets.found_in(
            f"log {record.name}", record.getMessage() + (record.exc_text or "")
        )
    found += secrets.found_in("stdout/stderr", "".join(capsys.readouterr()))
    for model in (OcpiExchange, PushDelivery, PushAttempt):
        found += secrets.found_in(
            model.__name__, serializers.serialize("json", model.objects.all())
        )
    found += secrets.found_in("task publish", "\n".join(published))
    for text in answers:
        found += secrets.found_in("answer to a caller", text)
    admin = Client()
    get_user_model().objects.create_superuser("sec-admin", "a@example.com", "pw")
    admin.login(username="sec-admin", password="pw")  # noqa: S106 - test credentials
    pages = list(admin_pages(admin))
    for url, html in pages:
        found += secrets.found_in(f"admin {url}", html)
    assert not found, "\n".join(found)
    # and the run did log and record what the search covered
    assert len(debug_logging.records) > 50 and OcpiExchange.objects.count() > 20
    assert published and len(pages) > 20
