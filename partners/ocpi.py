"""What every part of a simulated partner shares: the OCPI 2.2.1 constants, the response
envelope, the Authorization token forms, the default roles and modules of a party, and the
error of an outbound call. Like the rest of the package, nothing here imports the hub."""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

OCPI_VERSION = "2.2.1"

JsonObject = dict[str, Any]
TokenEncoding = Literal["base64", "raw"]
Module = tuple[str, str]

#: Roles a partner plays when none are given: one CPO.
DEFAULT_ROLES: tuple[JsonObject, ...] = (
    {
        "role": "CPO",
        "country_code": "NL",
        "party_id": "SIM",
        "business_details": {"name": "Sim CPO"},
    },
)

#: The interfaces each role usually implements (2.2.1: every module's "Interfaces" section).
#: `hubclientinfo` RECEIVER is included because parties connected to a hub implement it.
DEFAULT_MODULES_BY_ROLE: Mapping[str, tuple[Module, ...]] = {
    "CPO": (
        ("locations", "SENDER"),
        ("tariffs", "SENDER"),
        ("sessions", "SENDER"),
        ("cdrs", "SENDER"),
        ("tokens", "RECEIVER"),
        ("commands", "RECEIVER"),
        ("hubclientinfo", "RECEIVER"),
    ),
    "EMSP": (
        ("locations", "RECEIVER"),
        ("tariffs", "RECEIVER"),
        ("sessions", "RECEIVER"),
        ("cdrs", "RECEIVER"),
        ("tokens", "SENDER"),
        ("commands", "SENDER"),
        ("hubclientinfo", "RECEIVER"),
    ),
    "HUB": (
        ("locations", "SENDER"),
        ("locations", "RECEIVER"),
        ("tariffs", "SENDER"),
        ("tariffs", "RECEIVER"),
        ("sessions", "SENDER"),
        ("sessions", "RECEIVER"),
        ("cdrs", "SENDER"),
        ("cdrs", "RECEIVER"),
        ("tokens", "SENDER"),
        ("tokens", "RECEIVER"),
        ("commands", "SENDER"),
        ("commands", "RECEIVER"),
        ("hubclientinfo", "SENDER"),
    ),
}

# The status code a GET of an unknown object answers with, per module (2.2.1 status_codes).
UNKNOWN_OBJECT_STATUS = {"locations": 2003, "tokens": 2004}
ROUTING_HEADERS = ("country-code", "party-id")
HTTP_REASONS = {301: "Moved Permanently", 302: "Found", 307: "Temporary Redirect"}


# --------------------------------------------------------------------------------------------
# Small pure helpers
# --------------------------------------------------------------------------------------------


def ocpi_timestamp(moment: datetime | None = None) -> str:
    """An OCPI DateTime (UTC, `Z`, no fraction): the hub must accept exactly this form."""
    moment = moment or datetime.now(tz=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def envelope(
    data: Any = None, status_code: int = 1000, status_message: str = "Success"
) -> JsonObject:
    """The OCPI response envelope every answer of the partner is wrapped in."""
    return {
        "data": data,
        "status_code": status_code,
        "status_message": status_message,
        "timestamp": ocpi_timestamp(),
    }


def encode_token(token: str, encoding: TokenEncoding) -> str:
    """The Authorization header value: base64 per 2.2.1, or raw like 2.1.1-era platforms."""
    if encoding == "raw":
        return f"Token {token}"
    return "Token " + base64.b64encode(token.encode("utf-8")).decode("ascii")


def generate_token() -> str:
    """A new credentials token: random, printable ASCII, well under 2.2.1's 64 characters."""
    return "sim-" + secrets.token_urlsafe(24)


def header_tokens(header: str | None) -> list[tuple[str, TokenEncoding]]:
    """The tokens an Authorization header may stand for, base64 reading first.

    A partner must accept both forms, and a raw token can happen to be valid base64, so both
    readings are returned and the caller accepts whichever names a known token.
    """
    if not header:
        return []
    scheme, _, credential = header.strip().partition(" ")
    credential = credential.strip()
    if scheme.lower() != "token" or not credential:
        return []
    candidates: list[tuple[str, TokenEncoding]] = []
    try:
        decoded = base64.b64decode(credential, validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        decoded = ""
    # The spec's own examples encode a trailing newline; accept it like lenient servers do.
    decoded = decoded.removesuffix("\n")
    if decoded:
        candidates.append((decoded, "base64"))
    candidates.append((credential, "raw"))
    return candidates


def parse_ocpi_datetime(value: str) -> datetime:
    """Read an OCPI DateTime ("no Z implies UTC") for the pagination date filters."""
    parsed = datetime.fromisoformat(value.replace("z", "Z"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def version_key(version: str) -> tuple[int, ...]:
    """Sort key so "2.2.1" > "2.1.1" > "2.0" when picking the highest mutual version."""
    parts: list[int] = []
    for piece in version.split("."):
        try:
            parts.append(int(piece))
        except ValueError:
            parts.append(-1)
    return tuple(parts)


def default_modules(roles: Sequence[Mapping[str, Any]]) -> list[Module]:
    """Credentials plus the usual interfaces of every role, deduplicated in a stable order."""
    modules: list[Module] = [("credentials", "SENDER")]
    for role in roles:
        for module in DEFAULT_MODULES_BY_ROLE.get(str(role.get("role", "")).upper(), ()):
            if module not in modules:
                modules.append(module)
    return modules


def role(kind: str, country_code: str, party_id: str, *, name: str | None = None) -> JsonObject:
    """A CredentialsRole as a partner sends it (business name "<party_id> <role>" by default)."""
    return {
        "role": kind,
        "country_code": country_code,
        "party_id": party_id,
        "business_details": {"name": name or f"{party_id} {kind}"},
    }


class OcpiCallError(Exception):
    """An outbound OCPI call of the partner failed.

    Carries what a test needs to assert on the hub's answer: the HTTP status (None when no
    response arrived), the parsed envelope (None when the body was not JSON) and the raw text.
    """

    def __init__(
        self,
        message: str,
        *,
        method: str,
        url: str,
        http_status: int | None = None,
        envelope: JsonObject | None = None,
        body: str | None = None,
    ) -> None:
        super().__init__(f"{message} ({method} {url} -> HTTP {http_status}: {body!r:.300})")
        self.message = message
        self.method = method
        self.url = url
        self.http_status = http_status
        self.envelope = envelope
        self.body = body

    @property
    def status_code(self) -> int | None:
        """The OCPI `status_code` of the answer, if it had an envelope."""
        if self.envelope is None:
            return None
        code = self.envelope.get("status_code")
        return code if isinstance(code, int) else None
