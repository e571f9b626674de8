"""The per-process directory copies (hub.ocpi.directory_cache): a token's platform and roles,
a module's receivers. They save queries, and every change to the directory is seen by the very
next request: a revoked token is refused at once (anything else is a security bug), a role
change counts at once, a new receiver endpoint gets the next broadcast."""

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import caches
from django.db import connection
from django.test.utils import CaptureQueriesContext

from hub.models import ConnectionStatus, Platform, PlatformRole, PlatformToken, PushDelivery
from hub.ocpi import directory_cache
from hub.services.registry.credentials import platform_reactivate, platform_suspend
from hub.services.registry.status import platform_set_status
from tests.conftest import OcpiTestClient
from tests.factories import PlatformEndpointFactory, PlatformRoleFactory, registered_party
from tests.factories.parties import issue_token
from tests.integration.test_location_broadcast import location

pytestmark = pytest.mark.django_db

URL = "/ocpi/2.2.1/cpo/locations/NL/CP1/LOC1"


@pytest.fixture(autouse=True)
def _copies_on(settings: Any) -> Iterator[None]:
    """The copies on (they are off without Redis), in this one process."""
    settings.OCPI_DIRECTORY_CACHE_S = 30
    directory_cache.clear_local()
    yield
    directory_cache.clear_local()


@pytest.fixture
def cpo() -> tuple[Platform, str]:
    return registered_party("CPO", "NL", "CP1")


def get_location(client: OcpiTestClient, token: str, url: str = URL) -> Any:
    return client.request("GET", url, token=token)


def queries_of(table: str, fn: Any) -> int:
    with CaptureQueriesContext(connection) as captured:
        fn()
    return sum(f'"{table}"' in q["sql"] for q in captured.captured_queries)


def warm(client: OcpiTestClient, token: str) -> None:
    """Two calls: the first stamps last_seen_at (which drops the copy), the second copies."""
    assert client.request("PUT", URL, json=location(), token=token).status_code in (200, 201)
    assert get_location(client, token).status_code == 200


def test_a_known_token_is_read_from_the_copy(
    ocpi_client: OcpiTestClient, cpo: tuple[Platform, str]
) -> None:
    _, token = cpo
    warm(ocpi_client, token)
    # when / then: neither the token nor the roles are read again
    assert queries_of("hub_platformtoken", lambda: get_location(ocpi_client, token)) == 0
    assert queries_of("hub_platformrole", lambda: get_location(ocpi_client, token)) == 0
    assert get_location(ocpi_client, token).json()["status_code"] == 1000


def test_copies_are_off_at_zero(
    ocpi_client: OcpiTestClient, cpo: tuple[Platform, str], settings: Any
) -> None:
    settings.OCPI_DIRECTORY_CACHE_S = 0
    _, token = cpo
    warm(ocpi_client, token)
    assert queries_of("hub_platformtoken", lambda: get_location(ocpi_client, token)) == 1


def test_a_deleted_token_is_refused_at_once(
    ocpi_client: OcpiTestClient, cpo: tuple[Platform, str]
) -> None:
    platform, token = cpo
    warm(ocpi_client, token)
    # when: the token is revoked by a queryset delete (no per-object save)
    platform.tokens.all().delete()
    # then
    response = get_location(ocpi_client, token)
    assert (response.status_code, response.json()["status_code"]) == (401, 2000)


def test_a_token_deleted_one_by_one_is_refused_at_once(
    ocpi_client: OcpiTestClient, cpo: tuple[Platform, str]
) -> None:
    platform, token = cpo
    warm(ocpi_client, token)
    for issued in PlatformToken.objects.filter(platform=platform):
        issued.delete()
    assert get_location(ocpi_client, token).status_code == 401


def test_rotation_kills_the_old_token_and_opens_the_new_one_at_once(
    ocpi_client: OcpiTestClient, cpo: tuple[Platform, str]
) -> None:
    platform, old = cpo
    warm(ocpi_client, old)
    # when: a new token is issued and the old one dropped (what a rotation stores)
    new = issue_token(platform)
    platform.tokens.exclude(digest=PlatformToken.objects.latest("pk").digest).delete()
    # then
    assert get_location(ocpi_client, old).status_code == 401
    assert get_location(ocpi_client, new).status_code == 200


def test_a_suspension_is_refused_at_once_and_a_reactivation_let_in(
    ocpi_client: OcpiTestClient, cpo: tuple[Platform, str]
) -> None:
    platform, token = cpo
    warm(ocpi_client, token)
    platform_suspend(platform=platform)
    response = get_location(ocpi_client, token)
    assert response.status_code == 401
    assert "suspended" in response.json()["status_message"]
    platform_reactivate(platform=Platform.objects.get(pk=platform.pk))
    assert get_location(ocpi_client, token).status_code == 200


def test_an_unregistration_by_update_is_seen_at_once(
    ocpi_client: OcpiTestClient, cpo: tuple[Platform, str]
) -> None:
    platform, token = cpo
    warm(ocpi_client, token)
    Platform.objects.filter(pk=platform.pk).update(status=ConnectionStatus.SUSPENDED)
    assert get_location(ocpi_client, token).status_code == 401


def test_a_change_in_another_process_is_seen_at_once(
    ocpi_client: OcpiTestClient, cpo: tuple[Platform, str]
) -> None:
    """Another process's change arrives as a new generation in the shared cache only."""
    platform, token = cpo
    warm(ocpi_client, token)
    with connection.cursor() as cursor:  # no signal in this process
        cursor.execute("DELETE FROM hub_platformtoken WHERE platform_id = %s", [platform.pk])
    # the copy still answers until the generation moves...
    assert get_location(ocpi_client, token).status_code == 200
    # ...which is what the other process's invalidate() does
    caches[directory_cache.CACHE_ALIAS].set(directory_cache.GENERATION_KEY, "from-elsewhere")
    assert get_location(ocpi_client, token).status_code == 401


def test_a_role_taken_away_is_seen_at_once(
    ocpi_client: OcpiTestClient, cpo: tuple[Platform, str]
) -> None:
    platform, token = cpo
    warm(ocpi_client, token)
    PlatformRole.objects.filter(platform=platform).delete()
    response = get_location(ocpi_client, token)
    assert (response.status_code, response.json()["status_code"]) == (404, 2001)


def test_a_role_added_is_seen_at_once(
    ocpi_client: OcpiTestClient, cpo: tuple[Platform, str]
) -> None:
    platform, token = cpo
    warm(ocpi_client, token)
    other = "/ocpi/2.2.1/cpo/locations/NL/CP2/LOC1"
    assert get_location(ocpi_client, token, other).status_code == 404
    PlatformRoleFactory(platform=platform, role="CPO", country_code="NL", party_id="CP2")
    response = get_location(ocpi_client, token, other)
    # the party is the caller's now: the location is unknown, not the party
    assert response.json()["status_code"] == 2003


def test_a_copy_read_while_the_directory_changes_is_not_kept() -> None:
    loads = []

    def load() -> str:
        loads.append(1)
        if len(loads) == 1:
            directory_cache.invalidate()  # a change commits while this read runs
        return "value"

    assert directory_cache.cached("key", load) == "value"
    assert directory_cache.cached("key", load) == "value"
    assert directory_cache.cached("key", load) == "value"
    assert len(loads) == 2  # read again after the change, then kept


def test_an_unreadable_cache_reads_the_database(
    ocpi_client: OcpiTestClient, cpo: tuple[Platform, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, token = cpo
    warm(ocpi_client, token)
    cache = caches[directory_cache.CACHE_ALIAS]

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("cache down")

    monkeypatch.setattr(cache, "get", broken)
    assert queries_of("hub_platformtoken", lambda: get_location(ocpi_client, token)) == 1


def receivers() -> list[tuple[str, str]]:
    return sorted(
        PushDelivery.objects.filter(module="locations").values_list("to_party_id", "object_key")
    )


def patch_evse(client: OcpiTestClient, token: str, second: int) -> None:
    body = {"status": "CHARGING", "last_updated": f"2024-05-01T10:{second:02d}:00Z"}
    assert client.request("PATCH", URL + "/EVSE1", json=body, token=token).status_code == 200


def test_a_new_receiver_endpoint_gets_the_next_broadcast(
    ocpi_client: OcpiTestClient, cpo: tuple[Platform, str]
) -> None:
    _, token = cpo
    first, _ = registered_party("EMSP", "DE", "MS1")
    PlatformEndpointFactory(platform=first, identifier="locations", role="RECEIVER")
    second, _ = registered_party("EMSP", "DE", "MS2")
    warm(ocpi_client, token)
    PushDelivery.objects.all().delete()
    patch_evse(ocpi_client, token, 5)
    assert receivers() == [("MS1", "NL/CP1/LOC1/EVSE1")]
    # when: the second eMSP publishes its locations RECEIVER endpoint
    PlatformEndpointFactory(platform=second, identifier="locations", role="RECEIVER")
    patch_evse(ocpi_client, token, 6)
    # then
    assert receivers() == [("MS1", "NL/CP1/LOC1/EVSE1"), ("MS2", "NL/CP1/LOC1/EVSE1")]


def test_a_receiver_going_offline_gets_no_more_broadcasts(
    ocpi_client: OcpiTestClient, cpo: tuple[Platform, str]
) -> None:
    _, token = cpo
    emsp, _ = registered_party("EMSP", "DE", "MS1")
    PlatformEndpointFactory(platform=emsp, identifier="locations", role="RECEIVER")
    warm(ocpi_client, token)
    PushDelivery.objects.all().delete()
    platform_set_status(platform=emsp, status=ConnectionStatus.OFFLINE)
    patch_evse(ocpi_client, token, 5)
    assert receivers() == []


def test_receivers_are_read_from_the_copy(
    ocpi_client: OcpiTestClient, cpo: tuple[Platform, str]
) -> None:
    _, token = cpo
    emsp, _ = registered_party("EMSP", "DE", "MS1")
    PlatformEndpointFactory(platform=emsp, identifier="locations", role="RECEIVER")
    warm(ocpi_client, token)
    patch_evse(ocpi_client, token, 5)
    assert queries_of("hub_platformendpoint", lambda: patch_evse(ocpi_client, token, 6)) == 0
