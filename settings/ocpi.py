"""The hub's OCPI identity, reach and limits (`OCPI_*`)."""

from settings.env import env

# The hub is a party of its own, role HUB (2.2.1 credentials: a hub lists only that role).
OCPI_COUNTRY_CODE: str = env("OCPI_COUNTRY_CODE", default="NL").upper()
OCPI_PARTY_ID: str = env("OCPI_PARTY_ID", default="HUB").upper()
OCPI_HUB_NAME: str = env("OCPI_HUB_NAME", default="OCPI Hub")
OCPI_HUB_WEBSITE: str | None = env("OCPI_HUB_WEBSITE", default=None)

# Public base URL used in every URL the hub hands out (versions, endpoints, proxied links).
OCPI_BASE_URL: str = env(
    "OCPI_BASE_URL", default=f"http://127.0.0.1:{env.int('PORT', default=8000)}"
).rstrip("/")

# Partner URLs are attacker-controlled: refuse private/loopback/link-local targets unless this
# is on (development and tests, where partners run on 127.0.0.1).
OCPI_ALLOW_PRIVATE_URLS: bool = env.bool("OCPI_ALLOW_PRIVATE_URLS", default=False)

# Pagination: the page size a caller gets without `limit`, and the cap announced in X-Limit.
OCPI_DEFAULT_LIMIT: int = env.int("OCPI_DEFAULT_LIMIT", default=100)
OCPI_MAX_LIMIT: int = env.int("OCPI_MAX_LIMIT", default=1000)

# Outbound HTTP: every call has a connect and a total timeout.
OCPI_HTTP_TIMEOUT_S: float = env.float("OCPI_HTTP_TIMEOUT_S", default=10.0)
OCPI_HTTP_CONNECT_TIMEOUT_S: float = env.float("OCPI_HTTP_CONNECT_TIMEOUT_S", default=3.0)

# Modules a partner must offer for the hub to accept its registration (else OCPI 3003).
OCPI_REQUIRED_ENDPOINTS: list[str] = env.list("OCPI_REQUIRED_ENDPOINTS", default=["credentials"])

# Fields not in the 2.2.1 object tables are refused (2001) unless partners agreed otherwise.
OCPI_ALLOW_UNKNOWN_FIELDS: bool = env.bool("OCPI_ALLOW_UNKNOWN_FIELDS", default=False)

# Record every inbound and outbound OCPI exchange (never a token) for the admin's exchange log.
OCPI_LOG_EXCHANGES: bool = env.bool("OCPI_LOG_EXCHANGES", default=True)
