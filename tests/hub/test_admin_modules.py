"""The tokens, sessions and commands admin: pages render with data, filters and search answer
"whose token is this, where did this session go, what happened to this command?", every page
is read-only, list queries stay bounded, and no partner token is ever rendered."""

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.db.models import Model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from hub.models import (
    AsyncKind,
    AsyncRequest,
    AsyncState,
    DeliveryStatus,
    Platform,
    PushDelivery,
    Session,
    Token,
    TokenOwner,
    TokenSource,
)
from hub.services.routing import async_results
from tests.factories import (
    AsyncRequestFactory,
    PushDeliveryFactory,
    SessionFactory,
    TokenFactory,
    TokenOwnerFactory,
    registered_party,
)
from tests.hub.admin_pages import change, changelist, html, results

pytestmark = pytest.mark.django_db


def delivered(receiver: Platform, module: str, object_key: str) -> PushDelivery:
    """NL*ABC's object delivered to DE*EMS (commands and charging profiles are POSTed)."""
    return PushDeliveryFactory(
        receiver=receiver,
        module=module,
        object_key=object_key,
        from_party_id="ABC",
        operation="POST" if module in ("commands", "chargingprofiles") else "PUT",
        status=DeliveryStatus.DELIVERED,
    )


@pytest.fixture
def one_of_each(cpo_platform: Platform, emsp_platform: Platform) -> dict[str, Model]:
    """One of everything the new pages show."""
    created = timezone.now() - timedelta(seconds=90)
    request = AsyncRequestFactory(
        requester=emsp_platform,
        receiver=cpo_platform,
        result_body={"result": "ACCEPTED"},
        result_received_at=created + timedelta(seconds=12),
        expires_at=created + timedelta(seconds=60),
        created_at=created,
    )
    return {
        "token": TokenFactory(owner=emsp_platform),
        "tokenowner": TokenOwnerFactory(),
        "session": SessionFactory(owner=cpo_platform),
        "asyncrequest": request,
    }


NEW_MODELS = ["token", "tokenowner", "session", "asyncrequest"]


class TestPagesRender:
    @pytest.mark.parametrize("model", NEW_MODELS)
    def test_changelist_and_change_page(
        self, admin_client: Client, one_of_each: dict[str, Model], model: str
    ) -> None:
        obj = one_of_each[model]
        response = admin_client.get(changelist(model))
        assert response.status_code == 200
        assert list(response.context["cl"].result_list) == [obj]
        assert admin_client.get(change(model, obj.pk)).status_code == 200

    def test_token_list_shows_the_document_fields(
        self, admin_client: Client, one_of_each: dict[str, Model]
    ) -> None:
        page = html(admin_client.get(changelist("token")))
        assert "DE*EMS" in page
        assert "abc123" in page  # the uid as the eMSP spelled it
        assert "DE-EMS-C00000001-A" in page
        assert "Blue Mobility" in page
        assert "DF000-2001-8999" in page
        assert "ALLOWED" in page
        assert "object_tree=DE%2FEMS%2FABC123%2FRFID" in page

    def test_token_change_page_shows_document_owners_and_links(
        self, admin_client: Client, one_of_each: dict[str, Model]
    ) -> None:
        token = one_of_each["token"]
        page = html(admin_client.get(change("token", token.pk)))
        assert "&quot;visual_number&quot;: &quot;DF000-2001-8999&quot;" in page  # pretty JSON
        assert "Deliveries of this token" in page
        assert "DE*EMS (from Tokens module, last seen" in page  # the token-owner index
        assert reverse("admin:hub_tokenowner_changelist") + "?uid=ABC123&amp;type=RFID" in page
        assert "ambiguous" not in page
        assert 'name="_save"' not in page

    def test_token_page_flags_an_ambiguous_uid(
        self, admin_client: Client, one_of_each: dict[str, Model]
    ) -> None:
        TokenOwnerFactory(party=("FR", "OTH"), source=TokenSource.COMMAND)
        page = html(admin_client.get(change("token", one_of_each["token"].pk)))
        assert "2 owners: ambiguous without TO." in page
        assert "FR*OTH (from Command" in page

    def test_session_list_and_change_page(
        self, admin_client: Client, one_of_each: dict[str, Model]
    ) -> None:
        session = one_of_each["session"]
        page = html(admin_client.get(changelist("session")))
        assert "Sess1" in page  # as the CPO spelled it
        assert "NL*ABC" in page
        assert "DE*EMS" in page
        assert "12.5" in page
        assert "object_tree=NL%2FABC%2FSESS1" in page
        detail = html(admin_client.get(change("session", session.pk)))
        assert "&quot;charging_periods&quot;" in detail
        assert "T-PERIOD-7" in detail  # inside the periods
        assert "Deliveries of this session" in detail
        assert "RFID abc123 (contract DE-EMS-C00000001-A)" in detail
        assert "session_id__iexact=SESS1" in detail  # to its commands and profiles
        assert "location_id=LOC1" in detail

    def test_async_request_list_columns(
        self, admin_client: Client, one_of_each: dict[str, Model]
    ) -> None:
        response = admin_client.get(changelist("asyncrequest"))
        page = html(response)
        assert "Commands &amp; charging profiles" in page
        assert "DE*EMS → NL*ABC" in page
        assert "background:#2e7d32" in page  # RESULT_RECEIVED is green
        admin = response.context["cl"].model_admin
        row = response.context["cl"].result_list[0]
        assert admin.response_result(row) == "ACCEPTED"
        assert admin.result_result(row) == "ACCEPTED"
        assert admin.time_to_result(row) == "12.0 s"

    def test_async_request_change_page(
        self, admin_client: Client, one_of_each: dict[str, Model]
    ) -> None:
        row = one_of_each["asyncrequest"]
        page = html(admin_client.get(change("asyncrequest", row.pk)))
        assert "https://emsp.example/ocpi/commands/START_SESSION/42" in page
        assert "&quot;timeout&quot;: 30" in page  # the CPO's answer
        assert "&quot;contract_id&quot;: &quot;DE-EMS-C00000001-A&quot;" in page  # the request
        assert "Result deliveries" in page
        assert "Exchanges of this flow" in page
        assert "?correlation_id=corr-cmd-1" in page
        assert f"object_tree=command%2F{row.pk}" in page
        assert "Blue eMSP Platform" in page
        assert "Acme CPO Platform" in page


class TestAsyncColumns:
    @pytest.mark.parametrize(
        ("fields", "response_text", "result_text", "time_text"),
        [
            (
                {
                    "response_body": {"result": "REJECTED", "timeout": 0},
                    "state": AsyncState.REFUSED,
                },
                "REJECTED",
                "—",
                "—",
            ),
            (
                {"response_body": {"hub_error": "Timeout forwarding"}, "state": AsyncState.FAILED},
                "hub: Timeout forwarding",
                "—",
                "—",
            ),
            (
                {
                    "operation": "RESERVE_NOW",
                    "result_body": {"result": "ACCEPTED"},
                    "later_results": [{"result": "CANCELED_RESERVATION"}],
                    "result_received_at_delta": 125,
                },
                "ACCEPTED",
                "ACCEPTED, then CANCELED_RESERVATION",
                "2 min 5 s",
            ),
            (
                {"result_body": {"result": "TIMEOUT"}, "state": AsyncState.TIMED_OUT},
                "ACCEPTED",
                "TIMEOUT",
                "—",
            ),
        ],
    )
    def test_answers_and_results(
        self,
        admin_client: Client,
        cpo_platform: Platform,
        emsp_platform: Platform,
        fields: dict[str, Any],
        response_text: str,
        result_text: str,
        time_text: str,
    ) -> None:
        fields = dict(fields)
        delta = fields.pop("result_received_at_delta", None)
        row = AsyncRequestFactory(requester=emsp_platform, receiver=cpo_platform, **fields)
        if delta is not None:
            row.result_received_at = row.created_at + timedelta(seconds=delta)
            row.save()
        response = admin_client.get(changelist("asyncrequest"))
        admin = response.context["cl"].model_admin
        (listed,) = response.context["cl"].result_list
        assert response_text in admin.response_result(listed)
        assert admin.result_result(listed) == result_text
        assert admin.time_to_result(listed) == time_text
        assert admin_client.get(change("asyncrequest", row.pk)).status_code == 200


class TestTokenFilters:
    @pytest.fixture
    def tokens(self, emsp_platform: Platform) -> dict[str, Token]:
        other, _ = registered_party(role="EMSP", country_code="FR", party_id="OTH")
        return {
            "rfid": TokenFactory(owner=emsp_platform, uid="abc123"),
            "app": TokenFactory(
                owner=emsp_platform,
                uid="app-77",
                type="APP_USER",
                contract_id="DE-EMS-C00000077-B",
                visual_number="",
                whitelist="NEVER",
            ),
            "invalid": TokenFactory(
                owner=emsp_platform,
                uid="dead01",
                contract_id="DE-EMS-C00000099-C",
                visual_number="OLD-CARD-99",
                valid=False,
            ),
            "fr": TokenFactory(
                owner=other,
                uid="abc123",
                party=("FR", "OTH"),
                contract_id="FR-OTH-C12345678-D",
                visual_number="FR 1234",
                whitelist="ALWAYS",
            ),
        }

    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ({"party": "FR*OTH"}, {"fr"}),
            ({"party": "DE*EMS"}, {"rfid", "app", "invalid"}),
            ({"type": "APP_USER"}, {"app"}),
            ({"valid__exact": "0"}, {"invalid"}),
            ({"whitelist": "NEVER"}, {"app"}),
            ({"whitelist": "ALWAYS"}, {"fr"}),
            ({"q": "abc123"}, {"rfid", "fr"}),  # one uid at two eMSPs
            ({"q": "ABC123", "party": "DE*EMS"}, {"rfid"}),
            ({"q": "de-ems-c00000077-b"}, {"app"}),  # a contract id, any case
            ({"q": "C00000099"}, {"invalid"}),  # a fragment
            ({"q": "old-card"}, {"invalid"}),  # a visual number
            ({"q": "fr*oth"}, {"fr"}),
            ({"q": "nothing-like-it"}, set()),
        ],
    )
    def test_filters_and_search(
        self,
        admin_client: Client,
        tokens: dict[str, Token],
        query: dict[str, str],
        expected: set[str],
    ) -> None:
        wanted = {tokens[name] for name in expected}
        assert set(results(admin_client, "token", query)) == wanted

    def test_party_filter_lists_emsps_only(
        self, admin_client: Client, cpo_platform: Platform, tokens: dict[str, Token]
    ) -> None:
        response = admin_client.get(changelist("token"))
        party_filter = next(f for f in response.context["cl"].filter_specs if f.title == "party")
        assert [value for value, _ in party_filter.lookup_choices] == ["DE*EMS", "FR*OTH"]

    def test_deliveries_link_finds_this_token_only(
        self, admin_client: Client, cpo_platform: Platform, tokens: dict[str, Token]
    ) -> None:
        wanted = delivered(cpo_platform, "tokens", "DE/EMS/ABC123/RFID")
        delivered(cpo_platform, "tokens", "DE/EMS/ABC123/APP_USER")
        delivered(cpo_platform, "tokens", "FR/OTH/ABC123/RFID")
        delivered(cpo_platform, "sessions", "DE/EMS/ABC123/RFID")
        response = admin_client.get(change("token", tokens["rfid"].pk))
        link = response.context["deliveries_url"]
        assert list(admin_client.get(link).context["cl"].result_list) == [wanted]

    def test_owner_index_link_and_back(
        self, admin_client: Client, tokens: dict[str, Token]
    ) -> None:
        mine = TokenOwnerFactory(uid="abc123")
        TokenOwnerFactory(uid="abc123", type="APP_USER")
        found = results(admin_client, "tokenowner", {"uid": "ABC123", "type": "RFID"})
        assert found == [mine]
        page = html(admin_client.get(changelist("tokenowner")))
        assert reverse("admin:hub_token_changelist") + "?uid=ABC123&amp;type=RFID" in page
        back = results(admin_client, "token", {"uid": "ABC123", "type": "RFID"})
        assert set(back) == {tokens["rfid"], tokens["fr"]}


class TestTokenOwnerIndex:
    @pytest.fixture
    def owners(self) -> dict[str, TokenOwner]:
        return {
            "tokens": TokenOwnerFactory(uid="abc123"),
            "command": TokenOwnerFactory(uid="abc999", source=TokenSource.COMMAND),
            "session": TokenOwnerFactory(
                uid="xyz-1", party=("FR", "OTH"), type="APP_USER", source=TokenSource.SESSION
            ),
            "cdr": TokenOwnerFactory(uid="abc123", party=("BE", "CDR"), source=TokenSource.CDR),
        }

    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ({"source__exact": "COMMAND"}, {"command"}),
            ({"source__exact": "CDR"}, {"cdr"}),
            ({"type": "APP_USER"}, {"session"}),
            ({"q": "abc123"}, {"tokens", "cdr"}),
            ({"q": "ABC"}, {"tokens", "command", "cdr"}),  # the beginning of a uid
            ({"q": "xyz-1"}, {"session"}),
            ({"q": "be*cdr"}, {"cdr"}),
        ],
    )
    def test_filters_and_search(
        self,
        admin_client: Client,
        owners: dict[str, TokenOwner],
        query: dict[str, str],
        expected: set[str],
    ) -> None:
        wanted = {owners[name] for name in expected}
        assert set(results(admin_client, "tokenowner", query)) == wanted

    def test_list_columns(self, admin_client: Client, owners: dict[str, TokenOwner]) -> None:
        page = html(admin_client.get(changelist("tokenowner")))
        assert "FR*OTH" in page
        assert "Session" in page  # the source's label


class TestSessionFilters:
    @pytest.fixture
    def sessions(self, cpo_platform: Platform, emsp_platform: Platform) -> dict[str, Session]:
        other_cpo, _ = registered_party(role="CPO", country_code="BE", party_id="XYZ")
        registered_party(role="EMSP", country_code="FR", party_id="OTH")
        long_ago = timezone.now().replace(year=2020, month=6, day=1)
        return {
            "active": SessionFactory(owner=cpo_platform, session_id="S1"),
            "done": SessionFactory(
                owner=cpo_platform,
                session_id="S2",
                status="COMPLETED",
                uid="card-22",
                contract_id="DE-EMS-C00000022-X",
                location_id="Loc2",
                start_date_time=long_ago,
            ),
            "fr": SessionFactory(
                owner=cpo_platform,
                session_id="S3",
                emsp=("FR", "OTH"),
                uid="fr-token",
                contract_id="FR-OTH-C00000003-Y",
            ),
            "be": SessionFactory(
                owner=other_cpo, session_id="S1", party=("BE", "XYZ"), uid="card-22"
            ),
        }

    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ({"status": "COMPLETED"}, {"done"}),
            ({"status": "ACTIVE"}, {"active", "fr", "be"}),
            ({"party": "BE*XYZ"}, {"be"}),
            ({"party": "NL*ABC"}, {"active", "done", "fr"}),
            ({"emsp": "FR*OTH"}, {"fr"}),
            ({"emsp": "DE*EMS"}, {"active", "done", "be"}),
            ({"q": "s1"}, {"active", "be"}),  # session ids are unique per CPO only
            ({"q": "s1", "party": "BE*XYZ"}, {"be"}),
            ({"q": "loc2"}, {"done"}),  # a location id
            ({"q": "CARD-22"}, {"done", "be"}),  # a token uid, any case
            ({"q": "fr-oth-c00000003-y"}, {"fr"}),  # a contract id
            ({"q": "fr*oth"}, {"fr"}),  # an eMSP party
            ({"q": "be*xyz"}, {"be"}),  # a CPO party
            ({"q": "S"}, set()),  # exact only: no fragment scan
            ({"start_date_time__year": "2020"}, {"done"}),  # the date hierarchy
            ({"start_date_time__year": "2020", "start_date_time__month": "6"}, {"done"}),
        ],
    )
    def test_filters_and_search(
        self,
        admin_client: Client,
        sessions: dict[str, Session],
        query: dict[str, str],
        expected: set[str],
    ) -> None:
        wanted = {sessions[name] for name in expected}
        assert set(results(admin_client, "session", query)) == wanted

    def test_filter_choices_come_from_the_registry(
        self, admin_client: Client, sessions: dict[str, Session]
    ) -> None:
        response = admin_client.get(changelist("session"))
        specs = {f.title: f for f in response.context["cl"].filter_specs}
        assert [v for v, _ in specs["CPO party"].lookup_choices] == ["BE*XYZ", "NL*ABC"]
        assert [v for v, _ in specs["eMSP party (token owner)"].lookup_choices] == [
            "DE*EMS",
            "FR*OTH",
        ]

    def test_token_page_links_to_its_sessions(
        self, admin_client: Client, emsp_platform: Platform, sessions: dict[str, Session]
    ) -> None:
        token = TokenFactory(owner=emsp_platform, uid="card-22")
        page = admin_client.get(change("token", token.pk))
        url = changelist("session") + "?q=CARD-22&emsp=DE%2AEMS"
        assert url.replace("&", "&amp;") in html(page)
        assert set(admin_client.get(url).context["cl"].result_list) == {
            sessions["done"],
            sessions["be"],
        }

    def test_deliveries_link_finds_this_session_only(
        self, admin_client: Client, emsp_platform: Platform, sessions: dict[str, Session]
    ) -> None:
        wanted = delivered(emsp_platform, "sessions", "NL/ABC/S1")
        delivered(emsp_platform, "sessions", "NL/ABC/S10")
        delivered(emsp_platform, "sessions", "BE/XYZ/S1")
        delivered(emsp_platform, "cdrs", "NL/ABC/S1")
        response = admin_client.get(change("session", sessions["active"].pk))
        link = response.context["deliveries_url"]
        assert list(admin_client.get(link).context["cl"].result_list) == [wanted]


class TestAsyncRequestFilters:
    @pytest.fixture
    def requests(self, cpo_platform: Platform, emsp_platform: Platform) -> dict[str, AsyncRequest]:
        scsp, _ = registered_party(role="SCSP", country_code="NL", party_id="SCS")
        other_cpo, _ = registered_party(role="CPO", country_code="BE", party_id="XYZ")
        start = AsyncRequestFactory(
            requester=emsp_platform, receiver=cpo_platform, result_body={"result": "ACCEPTED"}
        )
        stop = AsyncRequestFactory(
            requester=emsp_platform,
            receiver=cpo_platform,
            operation="STOP_SESSION",
            state=AsyncState.WAITING,
            session_id="Sess-9",
            location_id="",
            correlation_id="corr-stop",
        )
        profile = AsyncRequestFactory(
            requester=scsp,
            receiver=other_cpo,
            kind=AsyncKind.CHARGING_PROFILE,
            operation="SET",
            state=AsyncState.TIMED_OUT,
            session_id="Sess-9",
            location_id="",
            correlation_id="corr-profile",
        )
        AsyncRequest.objects.filter(pk=profile.pk).update(
            requester_country_code="NL",
            requester_party_id="SCS",
            receiver_country_code="BE",
            receiver_party_id="XYZ",
        )
        return {"start": start, "stop": stop, "profile": profile}

    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ({"kind__exact": "CHARGING_PROFILE"}, {"profile"}),
            ({"kind__exact": "COMMAND"}, {"start", "stop"}),
            ({"operation": "STOP_SESSION"}, {"stop"}),
            ({"operation": "SET"}, {"profile"}),
            ({"state__exact": "WAITING"}, {"stop"}),
            ({"state__exact": "TIMED_OUT"}, {"profile"}),
            ({"requester": "NL*SCS"}, {"profile"}),
            ({"requester": "DE*EMS"}, {"start", "stop"}),
            ({"receiver": "BE*XYZ"}, {"profile"}),
            ({"receiver": "NL*ABC"}, {"start", "stop"}),
            ({"q": "sess-9"}, {"stop", "profile"}),  # a session id, any case
            ({"q": "loc1"}, {"start"}),  # a location id
            ({"q": "corr-profile"}, {"profile"}),  # a correlation id
            ({"q": "nl*scs"}, {"profile"}),  # a requester party
            ({"q": "be*xyz"}, {"profile"}),  # a receiver party
            ({"q": str(uuid.uuid4())}, set()),
        ],
    )
    def test_filters_and_search(
        self,
        admin_client: Client,
        requests: dict[str, AsyncRequest],
        query: dict[str, str],
        expected: set[str],
    ) -> None:
        wanted = {requests[name] for name in expected}
        assert set(results(admin_client, "asyncrequest", query)) == wanted

    def test_search_by_id_and_pasted_hub_url(
        self, admin_client: Client, requests: dict[str, AsyncRequest]
    ) -> None:
        row = requests["stop"]
        assert results(admin_client, "asyncrequest", {"q": str(row.pk)}) == [row]
        pasted = f"https://hub.example/ocpi/2.2.1/cpo/commands/STOP_SESSION/{row.pk}"
        assert results(admin_client, "asyncrequest", {"q": pasted}) == [row]

    def test_requester_choices_exclude_cpos(
        self, admin_client: Client, requests: dict[str, AsyncRequest]
    ) -> None:
        response = admin_client.get(changelist("asyncrequest"))
        specs = {f.title: f for f in response.context["cl"].filter_specs}
        assert [v for v, _ in specs["requester"].lookup_choices] == ["DE*EMS", "NL*SCS"]
        assert [v for v, _ in specs["receiver"].lookup_choices] == ["BE*XYZ", "NL*ABC"]

    @pytest.mark.parametrize(
        ("name", "module"), [("start", "commands"), ("profile", "chargingprofiles")]
    )
    def test_result_deliveries_link(
        self,
        admin_client: Client,
        emsp_platform: Platform,
        requests: dict[str, AsyncRequest],
        name: str,
        module: str,
    ) -> None:
        row = requests[name]
        # The keys as the service writes them: the first result and a later one.
        first = delivered(emsp_platform, module, async_results._result_key(row, 0))
        later = delivered(emsp_platform, module, async_results._result_key(row, 1))
        other = requests["stop"]
        delivered(emsp_platform, "commands", async_results._result_key(other, 0))
        response = admin_client.get(change("asyncrequest", row.pk))
        link = response.context["result_deliveries_url"]
        assert set(admin_client.get(link).context["cl"].result_list) == {first, later}

    def test_exchange_log_link(
        self, admin_client: Client, requests: dict[str, AsyncRequest]
    ) -> None:
        response = admin_client.get(change("asyncrequest", requests["stop"].pk))
        assert response.context["exchanges_url"].endswith("?correlation_id=corr-stop")
        assert admin_client.get(response.context["exchanges_url"]).status_code == 200


class TestReadOnly:
    @pytest.mark.parametrize("model", NEW_MODELS)
    def test_no_add_change_or_delete(
        self, admin_client: Client, one_of_each: dict[str, Model], model: str
    ) -> None:
        obj = one_of_each[model]
        before = type(obj)._default_manager.filter(pk=obj.pk).values().get()
        assert admin_client.get(reverse(f"admin:hub_{model}_add")).status_code == 403
        assert admin_client.post(reverse(f"admin:hub_{model}_add"), {}).status_code == 403
        response = admin_client.post(change(model, obj.pk), {"status": "INVALID", "uid": "X"})
        assert response.status_code == 403
        delete = reverse(f"admin:hub_{model}_delete", args=[obj.pk])
        assert admin_client.get(delete).status_code == 403
        assert admin_client.post(delete, {"post": "yes"}).status_code == 403
        assert type(obj)._default_manager.filter(pk=obj.pk).values().get() == before

    @pytest.mark.parametrize("model", NEW_MODELS)
    def test_no_bulk_delete_action(
        self, admin_client: Client, one_of_each: dict[str, Model], model: str
    ) -> None:
        response = admin_client.get(changelist(model))
        assert response.context["action_form"] is None
        assert 'name="_save"' not in html(admin_client.get(change(model, one_of_each[model].pk)))


class TestBoundedQueries:
    """50 rows cost the same handful of queries as one: nothing is fetched per row."""

    def _assert_bounded(
        self, client: Client, model: str, assert_max: Any, rows: int = 50, limit: int = 10
    ) -> None:
        client.get(changelist(model))  # warm the session
        with assert_max(limit):
            response = client.get(changelist(model))
        assert len(response.context["cl"].result_list) == rows

    def test_tokens(
        self, admin_client: Client, emsp_platform: Platform, django_assert_max_num_queries: Any
    ) -> None:
        for n in range(50):
            TokenFactory(owner=emsp_platform, uid=f"uid-{n}", contract_id=f"DE-EMS-C{n:08d}-A")
        self._assert_bounded(admin_client, "token", django_assert_max_num_queries)

    def test_token_owners(self, admin_client: Client, django_assert_max_num_queries: Any) -> None:
        for n in range(50):
            TokenOwnerFactory(uid=f"uid-{n}")
        self._assert_bounded(admin_client, "tokenowner", django_assert_max_num_queries)

    def test_sessions(
        self, admin_client: Client, cpo_platform: Platform, django_assert_max_num_queries: Any
    ) -> None:
        for n in range(50):
            SessionFactory(owner=cpo_platform, session_id=f"S{n}")
        self._assert_bounded(admin_client, "session", django_assert_max_num_queries)

    def test_async_requests(
        self,
        admin_client: Client,
        cpo_platform: Platform,
        emsp_platform: Platform,
        django_assert_max_num_queries: Any,
    ) -> None:
        for n in range(50):
            AsyncRequestFactory(
                requester=emsp_platform,
                receiver=cpo_platform,
                result_body={"result": "ACCEPTED"},
                later_results=[{"result": "CANCELED_RESERVATION"}] if n % 2 else [],
                correlation_id=f"corr-{n}",
                result_received_at=timezone.now(),
            )
        self._assert_bounded(admin_client, "asyncrequest", django_assert_max_num_queries)


class TestOutboundTokenNeverShown:
    def test_no_new_page_renders_a_partner_token(
        self,
        admin_client: Client,
        one_of_each: dict[str, Model],
        cpo_platform: Platform,
        emsp_platform: Platform,
    ) -> None:
        secrets = [cpo_platform.outbound_token, emsp_platform.outbound_token]
        assert all(secrets)
        pages = [changelist(model) for model in NEW_MODELS]
        pages += [change(model, one_of_each[model].pk) for model in NEW_MODELS]
        pages += [
            changelist("token") + "?q=abc123",
            changelist("session") + "?q=NL*ABC",
            changelist("asyncrequest") + f"?q={one_of_each['asyncrequest'].pk}",
            changelist("asyncrequest") + "?receiver=NL*ABC",
        ]
        for url in pages:
            response = admin_client.get(url)
            assert response.status_code == 200, url
            page = html(response)
            for secret in secrets:
                assert secret not in page, url
