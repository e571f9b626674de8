"""Partner URLs pointing into the hub's own network (DESIGN §7): with `OCPI_ALLOW_PRIVATE_URLS`
off, private, loopback, link-local, metadata, unspecified and IPv4-mapped addresses are refused
in every spelling and through DNS names that resolve to them — at every place a partner hands
the hub a URL. The outbound client connects only to the address it checked (no DNS-rebinding
window), while partners on 127.0.0.1 keep working when private URLs are allowed (the test
settings' default)."""

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from django.core.management import CommandError, call_command

import hub.ocpi.client as client_module
from hub.models import OcpiExchange, Platform, ProxiedUrlKind, PushDelivery
from hub.ocpi.client import OcpiClient, OcpiTransportError, UrlNotAllowedError
from hub.ocpi.routing import PartyRef
from hub.ocpi.urlpolicy import check_url
from hub.services.delivery.sending import delivery_send
from hub.services.registry.credentials import platform_invite
from hub.services.routing.forwarding import proxy_url
from partners.simulated import SimulatedPartner
from tests.conftest import OcpiTestClient
from tests.security.conftest import World, assert_refused
from tests.security.resolver import FakeResolver

pytestmark = pytest.mark.django_db

# A global unicast address (never connected to: only named by the fake resolver).
PUBLIC = "93.184.216.34"

REFUSED_HOSTS = {
    "private-10": "10.1.2.3",
    "private-172": "172.16.0.1",
    "private-192": "192.168.1.1",
    "loopback": "127.0.0.1",
    "loopback-8": "127.255.0.9",
    "loopback-v6": "[::1]",
    "link-local": "169.254.10.10",
    "metadata": "169.254.169.254",
    "link-local-v6": "[fe80::1]",
    "metadata-v6": "[fd00:ec2::254]",
    "unspecified": "0.0.0.0",  # noqa: S104 - a URL under test, nothing binds it
    "mapped-v6": "[::ffff:127.0.0.1]",
    "mapped-v6-metadata": "[::ffff:169.254.169.254]",
    "decimal": "2130706433",
    "octal": "017700000001",
    "hex": "0x7f.1",
    "hex-dotted": "0x7f.0x0.0x0.0x1",
    "localhost": "localhost",
}
# Names the fake resolver answers: one private address among public ones is enough.
REFUSED_NAMES = {
    "name-private": ["10.0.0.5"],
    "name-metadata": ["169.254.169.254"],
    "name-mixed": [PUBLIC, "192.168.0.7"],
    "name-mapped": ["::ffff:10.0.0.1"],
    "name-v6-ula": ["fd12:3456::1"],
}


@pytest.fixture
def production_policy(settings: Any) -> None:
    settings.OCPI_ALLOW_PRIVATE_URLS = False


def refused_urls(dns: FakeResolver) -> Iterator[tuple[str, str]]:
    for label, host in REFUSED_HOSTS.items():
        yield label, f"http://{host}/ocpi/versions"
    for label, addresses in REFUSED_NAMES.items():
        name = f"{label}.partner.test"
        dns.answer(name, addresses)
        yield label, f"https://{name}/ocpi/versions"


@pytest.mark.usefixtures("production_policy")
def test_every_private_spelling_and_name_is_refused_by_the_policy(dns: FakeResolver) -> None:
    for label, url in refused_urls(dns):
        with pytest.raises(UrlNotAllowedError, match="private, loopback, link-local"):
            check_url(url)
        assert label


@pytest.mark.usefixtures("production_policy")
def test_public_names_and_addresses_pass_the_policy(dns: FakeResolver) -> None:
    dns.answer("cpo.partner.test", [PUBLIC, "2606:2800:220:1::1"])
    check_url("https://cpo.partner.test/ocpi/versions")
    check_url(f"http://{PUBLIC}/ocpi/versions")


@pytest.fixture
def listener_server() -> Iterator[SimulatedPartner]:
    """A real server on 127.0.0.1 that must never be reached."""
    with SimulatedPartner() as partner:
        yield partner


@pytest.mark.usefixtures("production_policy")
def test_client_reaches_nothing_on_loopback_in_any_spelling(
    listener_server: SimulatedPartner, dns: FakeResolver
) -> None:
    # given: every spelling of the listener's loopback address, and names resolving to it
    dns.answer("rebound.partner.test", ["127.0.0.1"])
    dns.answer("mapped.partner.test", ["::ffff:127.0.0.1"])
    hosts = ["127.0.0.1", "2130706433", "017700000001", "0x7f.1", "localhost", "[::ffff:127.0.0.1]"]
    hosts += ["rebound.partner.test", "mapped.partner.test"]
    for host in hosts:
        url = f"http://{host}:{listener_server.port}/ocpi/versions"
        # when / then
        with pytest.raises(UrlNotAllowedError):
            OcpiClient(token="t").get(url, module="versions")
    assert listener_server.received == []


@pytest.mark.usefixtures("production_policy")
def test_name_rebinding_to_loopback_after_the_check_cannot_connect(
    listener_server: SimulatedPartner, dns: FakeResolver
) -> None:
    # given: a name that answers public to the first lookup (the policy check) and the
    # listener's loopback address to every later one (the connect)
    dns.answer("rebind.partner.test", [PUBLIC], ["127.0.0.1"])
    url = f"http://rebind.partner.test:{listener_server.port}/ocpi/versions"
    # when
    with pytest.raises((UrlNotAllowedError, OcpiTransportError)):
        OcpiClient(token="t").get(url, module="versions")
    # then: the connection was never made to what the second answer said
    assert listener_server.received == []
    assert len(dns.lookups) >= 2


def test_partner_on_loopback_by_name_works_with_private_urls_allowed(
    listener_server: SimulatedPartner, dns: FakeResolver
) -> None:
    # given: the test settings allow private URLs; a name resolving to the listener
    dns.answer("sim.partner.test", ["127.0.0.1"])
    url = f"http://sim.partner.test:{listener_server.port}/ocpi/versions"
    # when
    result = OcpiClient(token=listener_server.token_a).get(url, module="versions")
    # then: connected to the checked address, the Host header still names the partner
    assert result.ok
    (received,) = listener_server.received
    assert received.headers["Host"] == f"sim.partner.test:{listener_server.port}"


def test_pinned_backend_checks_the_addresses_it_connects_to(
    dns: FakeResolver, settings: Any, listener_server: SimulatedPartner
) -> None:
    # given: the pooled client's backend, asked to connect to a name whose answer is private
    settings.OCPI_ALLOW_PRIVATE_URLS = False
    dns.answer("direct.partner.test", [PUBLIC, "127.0.0.1"])
    backend = client_module.PolicyCheckedBackend()
    # when / then: refused before any connect
    with pytest.raises(UrlNotAllowedError):
        backend.connect_tcp("direct.partner.test", listener_server.port, timeout=1)
    assert listener_server.received == []


# ---- every place a partner hands the hub a URL ------------------------------------------------


@pytest.mark.usefixtures("production_policy")
def test_connect_to_a_private_versions_url_is_refused_and_stores_nothing(
    dns: FakeResolver,
) -> None:
    for label, url in refused_urls(dns):
        with pytest.raises(CommandError, match="3001"):
            call_command("ocpi_connect", versions_url=url, token_a="tok-a", name=f"P {label}")
    assert not Platform.objects.exists()
    assert not OcpiExchange.objects.filter(http_status__isnull=False).exists()


@pytest.mark.usefixtures("production_policy")
def test_post_credentials_with_a_private_url_is_3001(
    ocpi_client: OcpiTestClient, dns: FakeResolver
) -> None:
    platform, token_a = platform_invite(name="Invited")
    for label, url in refused_urls(dns):
        # when: the partner registers with a versions URL into the hub's network
        body = credentials(url)
        response = ocpi_client.post("/ocpi/2.2.1/credentials", json=body, token=token_a)
        # then: refused, the platform unregistered
        assert_url_refused(response, url, label)
    platform.refresh_from_db()
    assert not platform.registered and not platform.roles.exists()
    assert not OcpiExchange.objects.filter(direction="OUT", http_status__isnull=False).exists()


@pytest.mark.usefixtures("production_policy")
def test_put_credentials_with_a_private_url_is_3001_and_keeps_the_registration(
    world: World, unchanged: Callable[[], None], dns: FakeResolver
) -> None:
    for label, url in refused_urls(dns):
        response = world.call(world.ms1, "PUT", "/ocpi/2.2.1/credentials", json=credentials(url))
        assert_url_refused(response, url, label)
    unchanged()
    assert world.call(world.ms1, "GET", "/ocpi/2.2.1/emsp/locations").status_code == 200


def assert_url_refused(response: Any, url: str, label: str) -> None:
    """A credentials `url` refused: 3001 naming it (the hub would not call it), or 2001 where
    the spelling is not even a URL to the validator (decimal, octal and hex hosts). The
    message never says what the hub's resolver answered for a name."""
    message = response.json()["status_message"]
    if response.json()["status_code"] == 2001:
        assert_refused(response, 200, 2001, "url: Enter a valid URL")
        assert label in ("decimal", "octal", "hex", "hex-dotted"), message
    else:
        assert_refused(response, 200, 3001, url, "refused")
    for address in ("10.0.0.5", "169.254.169.254", "192.168.0.7", "10.0.0.1", "fd12"):
        assert address not in message or address in url, message


def credentials(url: str) -> dict[str, Any]:
    return {
        "token": "partner-token-b",
        "url": url,
        "roles": [
            {
                "role": "EMSP",
                "country_code": "DE",
                "party_id": "NEW",
                "business_details": {"name": "New"},
            }
        ],
    }


class _PublicPartner:
    """A partner at `https://partner.test` (resolving to a public address) whose versions and
    details the hub reads through a `MockTransport` in place of the pooled client: its
    details may list any endpoint URL."""

    def __init__(self, details_url: str, endpoint_url: str) -> None:
        self.details_url = details_url
        self.endpoint_url = endpoint_url

    def __call__(self, request: httpx.Request) -> httpx.Response:
        def ok(data: Any) -> httpx.Response:
            return httpx.Response(
                200, json={"data": data, "status_code": 1000, "timestamp": "2024-01-01T00:00:00Z"}
            )

        if request.url.path == "/ocpi/versions":
            return ok([{"version": "2.2.1", "url": self.details_url}])
        endpoints = [
            {"identifier": "credentials", "role": "RECEIVER", "url": "https://partner.test/c"},
            {"identifier": "locations", "role": "RECEIVER", "url": self.endpoint_url},
        ]
        return ok({"version": "2.2.1", "endpoints": endpoints})


@pytest.mark.usefixtures("production_policy")
@pytest.mark.parametrize(
    ("details", "endpoint"),
    [
        ("https://partner.test/ocpi/2.2.1", "http://169.254.169.254/latest/meta-data"),
        ("https://partner.test/ocpi/2.2.1", "http://[::ffff:10.0.0.1]/ocpi/locations"),
        ("https://partner.test/ocpi/2.2.1", "http://internal.partner.test/ocpi/locations"),
        ("http://10.0.0.1/ocpi/2.2.1", "https://partner.test/ocpi/locations"),
    ],
    ids=["endpoint-metadata", "endpoint-mapped", "endpoint-name", "details-url"],
)
def test_version_details_pointing_into_the_hub_network_are_3001(
    ocpi_client: OcpiTestClient,
    dns: FakeResolver,
    monkeypatch: pytest.MonkeyPatch,
    details: str,
    endpoint: str,
) -> None:
    # given: a public partner whose version details (or its details URL) point inside
    dns.answer("partner.test", [PUBLIC])
    dns.answer("internal.partner.test", ["192.168.3.4"])
    http = httpx.Client(transport=httpx.MockTransport(_PublicPartner(details, endpoint)))
    monkeypatch.setattr(client_module, "shared_http_client", lambda: http)
    platform, token_a = platform_invite(name="Invited")
    # when: it registers
    body = credentials("https://partner.test/ocpi/versions")
    response = ocpi_client.post("/ocpi/2.2.1/credentials", json=body, token=token_a)
    # then: refused, naming the URL; nothing registered
    refused = details if details.startswith("http://10.") else endpoint
    assert_refused(response, 200, 3001, refused, "refused")
    platform.refresh_from_db()
    assert not platform.registered and not platform.endpoints.exists()


@pytest.mark.usefixtures("production_policy")
def test_command_response_url_into_the_hub_network_is_2001(
    world: World, unchanged: Callable[[], None], dns: FakeResolver
) -> None:
    for _, url in refused_urls(dns):
        body = {
            "response_url": url,
            "token": {**world_token(), "uid": "TOK1"},
            "location_id": "LOC1",
            "evse_uid": "EVSE1",
        }
        response = world.call(
            world.ms1,
            "POST",
            "/ocpi/2.2.1/emsp/commands/START_SESSION",
            json=body,
            headers=world.ms1.headers(to=world.cp1.ref),
        )
        assert_refused(response, 200, 2001, "response_url")
    unchanged()


@pytest.mark.usefixtures("production_policy")
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_charging_profile_response_url_into_the_hub_network_is_2001(
    world: World, unchanged: Callable[[], None], dns: FakeResolver, method: str
) -> None:
    path = "/ocpi/2.2.1/emsp/chargingprofiles/S-1"
    for _, url in refused_urls(dns):
        if method == "PUT":
            profile = {"charging_rate_unit": "W", "charging_profile_period": []}
            body: Any = {"charging_profile": profile, "response_url": url}
            response = world.call(world.ms1, method, path, json=body)
        else:
            query = {"response_url": url, **({"duration": "60"} if method == "GET" else {})}
            response = world.call(world.ms1, method, path, query=query)
        assert_refused(response, 200, 2001, "response_url")
    unchanged()


def world_token() -> dict[str, Any]:
    from tests.security.conftest import token_body

    return token_body(("DE", "MS1"), "TOK1")


@pytest.mark.usefixtures("production_policy")
def test_proxied_link_into_the_hub_network_is_not_followed(
    world: World, listener_server: SimulatedPartner
) -> None:
    # given: CP1 answered a forwarded GET with a next-page Link on the hub's loopback
    page = proxy_url(
        target_url=f"http://127.0.0.1:{listener_server.port}/ocpi/2.2.1/locations?offset=50",
        receiver=world.cp1.platform,
        caller=world.ms1.platform,
        module="locations",
        gateway="emsp",
        kind=ProxiedUrlKind.PAGE,
        from_party=PartyRef.of(*world.ms1.ref),
        to_party=PartyRef.of(*world.cp1.ref),
    ).removeprefix("http://testserver")
    # when: MS1 follows it
    response = world.call(world.ms1, "GET", page)
    # then: 4003 without the address, and nothing reached the listener
    assert_refused(response, 200, 4003, "URL policy")
    assert "127.0.0.1" not in response.json()["status_message"]
    assert listener_server.received == []


@pytest.mark.usefixtures("production_policy")
def test_unresolvable_partner_host_is_a_transport_failure_and_the_push_retries(
    world: World, dns: FakeResolver
) -> None:
    # given: MS1's locations endpoint is on a name the resolver cannot answer just now
    dns.answer("down.partner.test", [])
    world.ms1.platform.endpoints.filter(identifier="locations").update(
        url="https://down.partner.test/ocpi/2.2.1/locations"
    )
    delivery = PushDelivery.objects.filter(receiver=world.ms1.platform, module="locations")[0]
    # when: the client calls it, and the outbox sends the pending location push
    with pytest.raises(OcpiTransportError):
        OcpiClient(token="t").get("https://down.partner.test/ocpi/versions")
    outcome = delivery_send(delivery_id=delivery.pk)
    # then: retried later like any transport failure, not failed for good
    delivery.refresh_from_db()
    assert (outcome, delivery.status, delivery.attempts) == ("retry", "PENDING", 1)
    assert "cannot resolve host" in delivery.last_error
    # while a URL handed to the hub on that name is refused
    with pytest.raises(UrlNotAllowedError, match="cannot resolve host"):
        check_url("https://down.partner.test/ocpi/versions")
