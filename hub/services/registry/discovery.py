"""Reading a partner's versions and version details (2.2.1 version_information_endpoint).

Used by both registration directions: the hub as receiver (during a partner's POST/PUT
credentials) and the hub as initiator (`ocpi_connect`).
"""

from dataclasses import dataclass

from django.conf import settings

from hub.models import TokenEncoding
from hub.modules import ModuleID
from hub.ocpi.client import OcpiClient, OcpiClientError, OcpiRemoteError, UrlNotAllowedError
from hub.ocpi.exceptions import (
    NoMatchingEndpointsError,
    UnableToUseClientApiError,
    UnsupportedVersionError,
    validation_message,
)
from hub.ocpi.urlpolicy import check_url
from hub.schemas.versions import VersionDetailsSerializer, VersionSerializer

SUPPORTED_VERSION = "2.2.1"


@dataclass(frozen=True)
class DiscoveredEndpoint:
    identifier: str
    role: str
    url: str


@dataclass(frozen=True)
class PartnerDiscovery:
    """What a partner's versions and details said, and how its token had to be written."""

    versions_url: str
    version: str
    details_url: str
    endpoints: tuple[DiscoveredEndpoint, ...]
    token_encoding: str

    def endpoint(self, identifier: str, role: str | None = None) -> DiscoveredEndpoint | None:
        for endpoint in self.endpoints:
            if endpoint.identifier == identifier and (role is None or endpoint.role == role):
                return endpoint
        return None


def _other(encoding: str) -> str:
    return TokenEncoding.RAW if encoding == TokenEncoding.BASE64 else TokenEncoding.BASE64


def _get_versions(
    url: str, token: str, encoding: str, correlation_id: str | None
) -> tuple[list[dict[str, str]], str]:
    """GET the versions list; on 401/403 try the other token form once (the spec's advice for
    2.1.1-era partners: "trial and error"), and say which form worked."""
    last_error: OcpiClientError | None = None
    for form in (encoding, _other(encoding)):
        client = OcpiClient(token=token, token_encoding=form)
        try:
            result = client.get(url, correlation_id=correlation_id, module=ModuleID.VERSIONS)
        except OcpiRemoteError as exc:
            last_error = exc
            if exc.http_status in (401, 403):
                continue
            break
        except UrlNotAllowedError as exc:
            raise UnableToUseClientApiError(f"versions URL {url} refused: {exc}") from exc
        except OcpiClientError as exc:
            raise UnableToUseClientApiError(str(exc)) from exc
        versions = VersionSerializer(data=result.data, many=True)
        if not isinstance(result.data, list) or not versions.is_valid():
            detail = (
                validation_message(versions.errors)
                if isinstance(result.data, list)
                else "data is not a list"
            )
            raise UnableToUseClientApiError(f"GET {url}: malformed version list ({detail})")
        return list(versions.validated_data), form
    raise UnableToUseClientApiError(str(last_error))


def discover_partner(
    versions_url: str,
    token: str,
    *,
    preferred_encoding: str = TokenEncoding.BASE64,
    correlation_id: str | None = None,
) -> PartnerDiscovery:
    """GET the partner's versions, pick 2.2.1 and GET its details.

    Raises 3001 when the partner cannot be used, 3002 without 2.2.1, 3003 when an endpoint in
    `OCPI_REQUIRED_ENDPOINTS` is missing.
    """
    versions, encoding = _get_versions(versions_url, token, preferred_encoding, correlation_id)
    match = next((v for v in versions if v["version"] == SUPPORTED_VERSION), None)
    if match is None:
        offered = ", ".join(v["version"] for v in versions) or "none"
        raise UnsupportedVersionError(
            f"The hub speaks OCPI {SUPPORTED_VERSION}; the partner offers {offered}"
        )
    client = OcpiClient(token=token, token_encoding=encoding)
    try:
        result = client.get(match["url"], correlation_id=correlation_id, module=ModuleID.VERSIONS)
    except UrlNotAllowedError as exc:
        raise UnableToUseClientApiError(
            f"version details URL {match['url']} refused: {exc}"
        ) from exc
    except OcpiClientError as exc:
        raise UnableToUseClientApiError(str(exc)) from exc
    details = VersionDetailsSerializer(data=result.data)
    if not details.is_valid():
        raise UnableToUseClientApiError(
            f"GET {match['url']}: malformed version details ({validation_message(details.errors)})"
        )
    data = details.validated_data
    endpoints = tuple(
        DiscoveredEndpoint(e["identifier"], e["role"], e["url"]) for e in data["endpoints"]
    )
    for endpoint in endpoints:
        # Refused now rather than at the first push: a partner whose endpoints point at the
        # hub's own network (DESIGN §7) is not registered at all.
        try:
            check_url(endpoint.url)
        except UrlNotAllowedError as exc:
            raise UnableToUseClientApiError(
                f"{endpoint.identifier} {endpoint.role} endpoint {endpoint.url} refused: {exc}"
            ) from exc
    discovery = PartnerDiscovery(
        versions_url=versions_url,
        version=SUPPORTED_VERSION,
        details_url=match["url"],
        endpoints=endpoints,
        token_encoding=encoding,
    )
    missing = [m for m in settings.OCPI_REQUIRED_ENDPOINTS if discovery.endpoint(m) is None]
    if missing:
        raise NoMatchingEndpointsError(
            "The partner's version details lack required endpoints: " + ", ".join(missing)
        )
    return discovery
