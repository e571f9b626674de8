"""The correlation page (hub.admin.correlation, hub.services.correlation): one correlation
id's exchanges, deliveries and attempts, command and result, session and CDR in time order,
nothing of other flows and no token; the correlation id written on sessions and CDRs by the
OCPI write itself; links to the page from every row's admin page; who may open it."""

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from hub.models import (
    AsyncRequest,
    Cdr,
    ExchangeDirection,
    Platform,
    PushDelivery,
    Session,
)
from hub.services.correlation import correlation_trail
from tests.conftest import OcpiTestClient
from tests.cpo_gateway.api.test_sessions import session as session_document
from tests.factories import (
    AsyncRequestFactory,
    CdrFactory,
    OcpiExchangeFactory,
    PlatformEndpointFactory,
    PushAttemptFactory,
    PushDeliveryFactory,
    SessionFactory,
    registered_party,
)
from tests.hub.admin_pages import change, html

pytestmark = pytest.mark.django_db

PAGE = "/admin/hub/correlation/"
FLOW = "flow-0001"


def staff_client(*groups: str) -> Client:
    user = User.objects.create_user("staff-" + "-".join(groups or ("none",)), is_staff=True)
    for name in groups:
        user.groups.add(Group.objects.get(name=name))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def flow(cpo_platform: Platform, emsp_platform: Platform) -> dict[str, Any]:
    """A START_SESSION of DE*EMS to NL*ABC routed through the hub, its result relayed back,
    and a session and CDR written under the same id; other flows' rows beside it."""
    t0 = timezone.now() - timedelta(minutes=10)
    s = timedelta(seconds=1)
    cpo_platform.outbound_token = "SECRET-OUTBOUND-TOKEN"
    cpo_platform.save()
    inbound = OcpiExchangeFactory(
        correlation_id=FLOW,
        direction=ExchangeDirection.INBOUND,
        method="POST",
        url="http://hub.example/ocpi/2.2.1/emsp/commands/START_SESSION",
        module="commands",
        platform=emsp_platform,
        created_at=t0,
    )
    command = AsyncRequestFactory(
        requester=emsp_platform, receiver=cpo_platform, correlation_id=FLOW, created_at=t0 + s
    )
    AsyncRequest.objects.filter(pk=command.pk).update(
        result_received_at=t0 + 4 * s, result_body={"result": "ACCEPTED"}
    )
    hop = OcpiExchangeFactory(
        correlation_id=FLOW,
        direction=ExchangeDirection.OUTBOUND,
        method="POST",
        url="http://cpo.example/ocpi/cpo/2.2.1/commands/START_SESSION",
        module="commands",
        platform=cpo_platform,
        created_at=t0 + 2 * s,
    )
    # the CPO posts the result with a correlation id of its own: found by its URL
    result_post = OcpiExchangeFactory(
        correlation_id="cpo-own-id",
        direction=ExchangeDirection.INBOUND,
        method="POST",
        url=f"http://hub.example/ocpi/2.2.1/cpo/commands/START_SESSION/{command.pk}",
        module="commands",
        platform=cpo_platform,
        created_at=t0 + 4 * s,
    )
    relay = PushDeliveryFactory(
        receiver=emsp_platform,
        module="commands",
        object_key=f"commands/{command.pk}/result/0",
        operation="POST",
        correlation_id=FLOW,
        created_at=t0 + 5 * s,
    )
    attempt = PushAttemptFactory(delivery=relay, started_at=t0 + 6 * s, http_status=200)
    session = SessionFactory(correlation_id=FLOW)
    Session.objects.filter(pk=session.pk).update(updated_at=t0 + 7 * s)
    cdr = CdrFactory(correlation_id=FLOW)
    Cdr.objects.filter(pk=cdr.pk).update(received_at=t0 + 8 * s)
    # another flow
    OcpiExchangeFactory(correlation_id="flow-other", created_at=t0 + 3 * s)
    PushDeliveryFactory(receiver=emsp_platform, correlation_id="flow-other", object_key="X/Y/Z")
    SessionFactory(session_id="OTHER", correlation_id="flow-other")
    return {
        "inbound": inbound,
        "command": command,
        "hop": hop,
        "result_post": result_post,
        "relay": relay,
        "attempt": attempt,
        "session": session,
        "cdr": cdr,
    }


def test_the_trail_is_every_record_of_the_flow_in_time_order(flow: dict[str, Any]) -> None:
    trail = correlation_trail(FLOW)
    assert [(event.kind, event.obj.pk) for event in trail.events] == [
        ("exchange", flow["inbound"].pk),
        ("command", flow["command"].pk),
        ("exchange", flow["hop"].pk),
        ("exchange", flow["result_post"].pk),
        ("command result", flow["command"].pk),
        ("delivery", flow["relay"].pk),
        ("attempt", flow["attempt"].pk),
        ("session", flow["session"].pk),
        ("cdr", flow["cdr"].pk),
    ]
    assert trail.truncated == []
    times = [event.at for event in trail.events]
    assert times == sorted(times)


def test_the_page_lists_the_trail_with_links_and_no_token(
    admin_client: Client, flow: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    with django_assert_max_num_queries(15):
        response = admin_client.get(PAGE, {"id": FLOW})
    assert response.status_code == 200
    rows = response.context["rows"]
    assert [row.kind for row in rows] == [
        "exchange Partner → hub",
        "command",
        "exchange Hub → partner",
        "exchange Partner → hub",
        "command result",
        "delivery",
        "attempt",
        "session",
        "CDR",
    ]
    assert rows[0].url == change("ocpiexchange", flow["inbound"].pk)
    assert rows[1].url == change("asyncrequest", flow["command"].pk)
    assert rows[4].outcome == "ACCEPTED"
    assert rows[5].url == rows[6].url == change("pushdelivery", flow["relay"].pk)
    assert rows[7].url == change("session", flow["session"].pk)
    assert rows[8].url == change("cdr", flow["cdr"].pk)
    page = html(response)
    assert "flow-other" not in page and "OTHER" not in page
    # neither the platform's token nor the command's token object (its uid) is shown
    assert "SECRET-OUTBOUND-TOKEN" not in page
    assert "abc123" not in page
    assert f"/admin/hub/ocpiexchange/?correlation_id={FLOW}" in page


def test_an_unknown_id_says_so_and_no_id_shows_the_form(admin_client: Client) -> None:
    response = admin_client.get(PAGE, {"id": "never-seen"})
    assert response.status_code == 200
    assert response.context["rows"] == []
    assert "Nothing recorded under this correlation id." in html(response)
    empty = admin_client.get(PAGE)
    assert empty.status_code == 200
    assert "rows" not in empty.context
    assert 'name="id"' in html(empty)
    blank = admin_client.get(PAGE, {"id": "  "})
    assert "rows" not in blank.context and "This field is required." in html(blank)


def test_every_row_s_admin_page_links_to_its_trail(
    admin_client: Client, flow: dict[str, Any]
) -> None:
    link = reverse("admin:hub-correlation") + f"?id={FLOW}"
    for model, key in (
        ("ocpiexchange", "inbound"),
        ("pushdelivery", "relay"),
        ("asyncrequest", "command"),
        ("session", "session"),
        ("cdr", "cdr"),
    ):
        page = html(admin_client.get(change(model, flow[key].pk)))
        assert link in page, model
    # and the exchange log's list column
    listing = html(admin_client.get("/admin/hub/ocpiexchange/"))
    assert link in listing


def test_a_session_put_records_its_correlation_id_and_shows_on_the_trail(
    admin_client: Client,
) -> None:
    """The real write path: the CPO's PUT stores the session with its X-Correlation-ID, and the
    trail has the inbound exchange, the session and its delivery to the eMSP."""
    cpo, token = registered_party("CPO", "NL", "CP1")
    emsp, _ = registered_party("EMSP", "DE", "MS1")
    PlatformEndpointFactory(platform=emsp, identifier="sessions", role="RECEIVER")
    response = OcpiTestClient(token).put(
        "/ocpi/2.2.1/cpo/sessions/NL/CP1/SES-0001",
        json=session_document(),
        headers={"X-Correlation-ID": "put-flow-1"},
    )
    assert response.status_code == 201, response.content  # created
    assert Session.objects.get().correlation_id == "put-flow-1"
    assert PushDelivery.objects.get().correlation_id == "put-flow-1"
    kinds = [event.kind for event in correlation_trail("put-flow-1").events]
    assert kinds[0] == "exchange" and "session" in kinds and "delivery" in kinds
    page = admin_client.get(PAGE, {"id": "put-flow-1"})
    assert [row.kind for row in page.context["rows"]][:1] == ["exchange Partner → hub"]


def test_the_viewer_role_may_open_it(flow: dict[str, Any]) -> None:
    response = staff_client("viewer").get(PAGE, {"id": FLOW})
    assert response.status_code == 200
    assert len(response.context["rows"]) == 9


def test_staff_without_the_log_permission_may_not(flow: dict[str, Any]) -> None:
    assert staff_client().get(PAGE, {"id": FLOW}).status_code == 403


def test_anonymous_get_the_login_page() -> None:
    response = Client().get(PAGE, {"id": FLOW})
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
