"""Every routed view checks whom the caller speaks for before it forwards anything (issue 10
defect 2; `ClientOwnedObjectMixin.initial`, `require_cpo_role`, `require_receiver_role`,
`RoutedViewMixin.forward` failing closed).

Once, `cpo_gateway` locations and tariffs forwarded a GET with TO = an eMSP before checking the
URL's party: a CPO read another CPO's objects from the eMSP with the hub's token. One attack per
routed view: a party asks, through the hub, a real partner for what is not its own, or uses a
gateway its role has no business with. Each is refused and no partner server is reached.
"""

from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIRequestFactory

from hub.api.routed import RoutedViewMixin
from hub.ocpi.exceptions import ServerError
from hub.ocpi.views import OcpiAPIView
from tests.cpo_gateway.api.test_cdrs import cdr
from tests.security.conftest import snapshot
from tests.security.routed import Roaming

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

RESPONSE_URL = "http://127.0.0.1:9/ocpi/emsp/2.2.1/chargingprofiles/results/r1"
PROFILE = {"start_date_time": "2024-05-01T10:00:00Z", "charging_profile": {}}
# view class name: (caller, TO, method, path, query, body, HTTP status, OCPI status)
ATTACKS: dict[str, tuple[Any, ...]] = {
    # CP2 reads CP1's objects from the eMSP (the reported defect: locations and tariffs)
    "LocationReceiverView": ("cp2", "ms1", "GET", "cpo/locations/NL/CP1/LOC1", None, None),
    "TariffReceiverView": ("cp2", "ms1", "GET", "cpo/tariffs/NL/CP1/T1", None, None),
    "SessionReceiverView": ("cp2", "ms1", "GET", "cpo/sessions/NL/CP1/S1", None, None),
    # an eMSP on the CPO side
    "TokenSenderListView": ("ms2", "ms1", "GET", "cpo/tokens", None, None),
    "TokenAuthorizeView": ("ms2", "ms1", "POST", "cpo/tokens/TOK1/authorize", None, None),
    "ActiveChargingProfileSenderView": (
        "ms2",
        "ms1",
        "PUT",
        "cpo/chargingprofiles/S1",
        None,
        PROFILE,
    ),
    # MS2 posts a CDR of CP1's (not forwarded synchronously; owner_party before ingest)
    "CdrReceiverView": ("ms2", "ms1", "POST", "cpo/cdrs", None, cdr(("DE", "MS1"), id="C-9")),
    # a CPO on the eMSP side, reading another CPO's objects through it
    "LocationSenderListView": ("cp2", "cp1", "GET", "emsp/locations", None, None),
    "LocationSenderObjectView": ("cp2", "cp1", "GET", "emsp/locations/LOC1", None, None),
    "TariffSenderListView": ("cp2", "cp1", "GET", "emsp/tariffs", None, None),
    "CdrSenderListView": ("cp2", "cp1", "GET", "emsp/cdrs", None, None),
    "SessionSenderListView": (
        "cp2",
        "cp1",
        "GET",
        "emsp/sessions",
        {"date_from": "2024-01-01T00:00:00Z"},
        None,
    ),
    "ChargingPreferencesView": (
        "cp2",
        "cp1",
        "PUT",
        "emsp/sessions/S1/charging_preferences",
        None,
        {"profile_type": "REGULAR"},
    ),
    "CommandReceiverView": ("cp2", "cp1", "POST", "emsp/commands/STOP_SESSION", None, {}),
    "ChargingProfileReceiverView": (
        "cp2",
        "cp1",
        "GET",
        "emsp/chargingprofiles/S1",
        {"duration": "60", "response_url": RESPONSE_URL},
        None,
    ),
    # MS2 reads MS1's token from the CPO
    "TokenReceiverView": ("ms2", "cp1", "GET", "emsp/tokens/DE/MS1/TOK1", None, None),
}


@pytest.mark.parametrize("view", list(ATTACKS))
def test_routed_view_checks_the_owner_before_forwarding(roaming: Roaming, view: str) -> None:
    caller, to, method, path, query, body = ATTACKS[view]
    before = snapshot()
    # when
    response = roaming.call(
        getattr(roaming, caller),
        method,
        f"/ocpi/2.2.1/{path}",
        to=getattr(roaming, to),
        query=query,
        json=body,
    )
    # then: refused as not the caller's (404/2001) or not its role (403), nothing sent
    envelope = response.json()
    assert (response.status_code, envelope["status_code"]) in ((404, 2001), (403, 2000)), envelope
    assert roaming.received() == []
    assert roaming.leaked(response) == []
    assert snapshot() == before


def test_the_owner_of_the_url_party_is_still_forwarded(roaming: Roaming) -> None:
    """The control: CP1 reading its own location from the eMSP is forwarded."""
    roaming.call(roaming.cp1, "GET", "/ocpi/2.2.1/cpo/locations/NL/CP1/LOC1", to=roaming.ms1)
    assert roaming.received() == ["GET /ocpi/2.2.1/locations/NL/CP1/LOC1"]


def _routed_views() -> set[str]:
    names: set[str] = set()

    def walk(patterns: list[URLPattern | URLResolver]) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns)
                continue
            view = getattr(pattern.callback, "view_class", None)
            if view is not None and issubclass(view, RoutedViewMixin):
                names.add(view.__name__)

    walk(get_resolver().url_patterns)
    return names


def test_every_routed_view_is_attacked() -> None:
    """A new routed view must join ATTACKS (and the table in docs/security.md)."""
    assert _routed_views() == set(ATTACKS)


class _Careless(RoutedViewMixin, OcpiAPIView):
    ocpi_module = "locations"

    def get(self, request: Any) -> Any:
        return self.forward(request, ("X",))


def test_forward_without_an_access_check_fails_closed(db: None) -> None:
    request = APIRequestFactory().get("/ocpi/2.2.1/emsp/locations/X")
    view = _Careless()
    drf_request = view.initialize_request(request)
    with pytest.raises(ServerError, match="forwards before its access check"):
        view.forward(drf_request, ("X",))
