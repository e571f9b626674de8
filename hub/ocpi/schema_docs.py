"""What the OpenAPI schema says in words: the envelope, the OCPI status codes, the routing and
id headers, the Authorization header and pagination (2.2.1 transport_and_format and
status_codes), with examples. Swagger UI and ReDoc render it; `docs/partners.md` is the long
form for partner engineers.

`ocpi_postprocess` is a drf-spectacular postprocessing hook (`SPECTACULAR_SETTINGS`): it puts
the guide into `info.description` and the reusable pieces into `components`, so a generated
client or a reader of the raw schema finds them by name (`OcpiEnvelope`, `OcpiStatusCode`,
`OcpiDateTime`, the `X-Total-Count`/`X-Limit`/`Link` headers).
"""

from typing import Any

from hub.ocpi.status import OcpiStatus

#: An OCPI DateTime as the hub writes it (UTC, `Z`, at most 25 characters).
EXAMPLE_TIMESTAMP = "2026-12-06T01:12:51Z"
#: base64 of `example-token` (no trailing newline: the spec's own example encodes one).
EXAMPLE_TOKEN_HEADER = "Token ZXhhbXBsZS10b2tlbg=="  # noqa: S105 - a documented example

#: Every status code the hub answers with or relays, with the spec's meaning (2.2.1
#: status_codes.asciidoc) and when the hub itself uses it. `tests/hub/ocpi/test_schema_docs.py`
#: checks that every `OcpiStatus` is here.
STATUS_CODES: dict[OcpiStatus, tuple[str, str]] = {
    OcpiStatus.SUCCESS: ("Generic success code.", "Every accepted request."),
    OcpiStatus.CLIENT_ERROR: (
        "Generic client error.",
        "With HTTP 400 (not JSON), 401 (missing or unknown token, Token A outside versions "
        "and credentials, suspended platform), 403 (an interface of another role), 404 "
        "(unknown object or URL), 405 (credentials in the wrong state), 413 (body too large), "
        "415 (not application/json), 429 (too many failed authentications).",
    ),
    OcpiStatus.INVALID_OR_MISSING_PARAMETERS: (
        "Invalid or missing parameters.",
        "Valid JSON that fails validation, answered with HTTP 200 and a message naming the "
        "field (`country_code: ...`); FROM headers that are not the caller's party; a URL "
        "id that differs from the body; bad pagination parameters. With HTTP 404 when the "
        "URL's party is none of yours or a URL id is not a plain path segment.",
    ),
    OcpiStatus.NOT_ENOUGH_INFORMATION: (
        "Not enough information, e.g. an authorization request with too little information.",
        "Relayed from the eMSP that owns the token.",
    ),
    OcpiStatus.UNKNOWN_LOCATION: (
        "Unknown Location, e.g. a START_SESSION command with an unknown location.",
        "A command naming a location the hub does not know (open routing).",
    ),
    OcpiStatus.UNKNOWN_TOKEN: (
        "Unknown Token, e.g. real-time authorization of an unknown Token.",
        "With HTTP 404, as the spec asks: authorization or PATCH of a token nobody owns.",
    ),
    OcpiStatus.SERVER_ERROR: (
        "Generic server error.",
        "With HTTP 500 (a hub bug, logged) or HTTP 503 and `Retry-After` (the hub's database "
        "is unreachable: nothing was stored, retry).",
    ),
    OcpiStatus.UNABLE_TO_USE_CLIENT_API: (
        "Unable to use the client's API.",
        "Registration: the hub could not GET your versions, version details or endpoints "
        "with the token you sent.",
    ),
    OcpiStatus.UNSUPPORTED_VERSION: (
        "Unsupported version.",
        "Registration: your versions list offers no 2.2.1.",
    ),
    OcpiStatus.NO_MATCHING_ENDPOINTS: (
        "No matching endpoints or expected endpoints missing between parties.",
        "Registration: your 2.2.1 details lack a module the hub requires "
        "(`OCPI_REQUIRED_ENDPOINTS`, credentials by default).",
    ),
    OcpiStatus.HUB_ERROR: (
        "Generic hub error (the 4xxx range is the hub's; the 2.2.1 table lists 4001-4003).",
        "The receiver answered something the hub cannot relay: a redirect, no envelope, or "
        "an answer above the hub's response cap.",
    ),
    OcpiStatus.UNKNOWN_RECEIVER: (
        "Unknown receiver (TO address is unknown).",
        "TO names no party the hub knows, the receiver lacks the module's interface, open "
        "routing finds nobody (or several candidates), or no roaming agreement allows it.",
    ),
    OcpiStatus.TIMEOUT_ON_FORWARDED_REQUEST: (
        "Timeout on forwarded request (message is forwarded, but request times out).",
        "The receiver did not answer a forwarded request in time.",
    ),
    OcpiStatus.CONNECTION_PROBLEM: (
        "Connection problem (receiving party is not connected).",
        "The receiver is OFFLINE, SUSPENDED or not registered, could not be reached, refused "
        "the hub's credentials, or already has the maximum of forwarded requests waiting.",
    ),
}

STATUS_CODE_RANGES = (
    "1xxx success, 2xxx client errors, 3xxx server errors, 4xxx hub errors; 19xx, 29xx, "
    "39xx and 49xx are custom ranges a partner may use and the hub relays."
)


def status_code_table() -> str:
    """The status codes as a Markdown table (rendered by Swagger UI and ReDoc)."""
    rows = [
        f"| {int(code)} | {code.name} | {meaning} | {hub_use} |"
        for code, (meaning, hub_use) in STATUS_CODES.items()
    ]
    head = "| code | name | meaning (2.2.1) | when the hub answers it |\n|---|---|---|---|"
    return "\n".join([head, *rows])


GUIDE = f"""
## The envelope

Every answer, errors included, is an OCPI envelope (2.2.1 transport_and_format, Response
format; schema `OcpiEnvelope`):

| field | type | |
|---|---|---|
| `data` | object, array or string, 0..1 | the answer; absent or `null` in errors |
| `status_code` | int, 1 | an OCPI status code (below; schema `OcpiStatusCode`) |
| `status_message` | string, 0..1 | in errors, what was wrong, naming the field |
| `timestamp` | DateTime, 1 | when the answer was made: UTC, `Z`, ≤ 25 characters (`OcpiDateTime`) |

The timestamp is an OCPI DateTime, e.g. `{EXAMPLE_TIMESTAMP}`.

```json
{{"status_code": 2001,
 "status_message": "country_code: This field is required.; currency: This field is required.",
 "timestamp": "{EXAMPLE_TIMESTAMP}"}}
```

Not JSON → HTTP 400; missing or unknown token → HTTP 401; unknown object → HTTP 404; a request
that reached the OCPI layer but is invalid → HTTP 200 with a 2xxx code.

## OCPI status codes

{STATUS_CODE_RANGES} A routed request's 2xxx/3xxx answer from the receiver is relayed as is.

{status_code_table()}

## Authorization

`Authorization: Token <base64(credentials token)>` (2.2.1), e.g. `{EXAMPLE_TOKEN_HEADER}` for
the token `example-token`. The raw token (`Token example-token`, the 2.1.1 form) is accepted as
well, and a decoded token ending in one newline is read without it. Token A (from an
invitation) opens only `versions` and `credentials`; it dies when the credentials exchange
issues your token C.

## Routing headers

Functional modules (locations, tariffs, tokens, sessions, CDRs, commands, charging profiles)
carry `OCPI-from-country-code`/`OCPI-from-party-id` and `OCPI-to-country-code`/`OCPI-to-party-id`;
versions, credentials and hubclientinfo do not. FROM must be one of your own parties (else
2001). TO names the receiver: another party (direct, forwarded), the hub (broadcast push, GET
all via the hub), or nothing (open routing: the hub picks the receiver).

`X-Request-ID` (unique per request) and `X-Correlation-ID` (shared by every hop of one
exchange) are echoed in every answer and generated when missing; a request the hub forwards
gets a new `X-Request-ID` and keeps the `X-Correlation-ID`.

## Pagination

Lists take `offset` (default 0), `limit` (lowered to the hub's maximum), `date_from`
(inclusive) and `date_to` (exclusive) on `last_updated`, as OCPI DateTimes. Answers carry
`X-Total-Count` (what you may see), `X-Limit` (the hub's maximum page size) and, unless this
is the last page, `Link: <url>; rel="next"` repeating your filters. Follow the `Link` as
given: it may carry a `cursor` that keeps deep pages fast.
"""

# Examples shown on the error answers every operation documents (texts the hub sends).
ERROR_EXAMPLES: dict[str, dict[str, Any]] = {
    "400": {
        "status_code": 2000,
        "status_message": (
            "Request body is not valid JSON: Expecting property name enclosed in double "
            "quotes: line 1 column 2 (char 1)"
        ),
        "timestamp": EXAMPLE_TIMESTAMP,
    },
    "401": {
        "status_code": 2000,
        "status_message": "Unknown credentials token",
        "timestamp": EXAMPLE_TIMESTAMP,
    },
    "403": {
        "status_code": 2000,
        "status_message": "This interface is for CPO parties",
        "timestamp": EXAMPLE_TIMESTAMP,
    },
    "404": {
        "status_code": 2000,
        "status_message": "Unknown tariff T1",
        "timestamp": EXAMPLE_TIMESTAMP,
    },
    "405": {
        "status_code": 2000,
        "status_message": "Already registered: use PUT to update the credentials",
        "timestamp": EXAMPLE_TIMESTAMP,
    },
    "413": {
        "status_code": 2000,
        "status_message": "Request body too large",
        "timestamp": EXAMPLE_TIMESTAMP,
    },
    "415": {
        "status_code": 2000,
        "status_message": (
            'Unsupported Content-Type: Unsupported media type "text/plain" in request.; '
            "OCPI bodies are application/json"
        ),
        "timestamp": EXAMPLE_TIMESTAMP,
    },
}

#: Response headers of a paginated list (2.2.1 transport_and_format, Paginated Response).
PAGINATION_RESPONSE_HEADERS: dict[str, dict[str, Any]] = {
    "X-Total-Count": {
        "description": "Objects matching the query (filters, not limit/offset) that you may see.",
        "schema": {"type": "integer", "minimum": 0},
        "example": 2350,
    },
    "X-Limit": {
        "description": "The hub's maximum page size (not the number of objects returned).",
        "schema": {"type": "integer", "minimum": 1},
        "example": 1000,
    },
    "Link": {
        "description": (
            'The next page, `<url>; rel="next"`, with your filters; absent on the last page.'
        ),
        "schema": {"type": "string"},
        "example": (
            "<https://hub.example.com/ocpi/2.2.1/emsp/locations?date_from=2026-11-01T00%3A00"
            '%3A00Z&offset=100&limit=100&cursor=MjAyNi0xMS0wMlQwODowMDowMCswMDowMHw0Mg>; rel="next"'
        ),
    },
}


def _envelope_component() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "The OCPI response envelope (2.2.1 transport_and_format, Response format).",
        "required": ["status_code", "timestamp"],
        "properties": {
            "data": {
                "nullable": True,
                "description": "The answer: an object, a list or a string; absent in errors.",
            },
            "status_code": {"$ref": "#/components/schemas/OcpiStatusCode"},
            "status_message": {"type": "string", "description": "What went wrong, in errors."},
            "timestamp": {"$ref": "#/components/schemas/OcpiDateTime"},
        },
        "example": {"data": {}, "status_code": 1000, "timestamp": EXAMPLE_TIMESTAMP},
    }


def ocpi_postprocess(result: dict[str, Any], generator: Any, **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: the guide and the named components."""
    info = result.setdefault("info", {})
    info["description"] = (info.get("description") or "").rstrip() + "\n" + GUIDE
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["OcpiStatusCode"] = {
        "type": "integer",
        "description": STATUS_CODE_RANGES + "\n\n" + status_code_table(),
        "example": 1000,
    }
    schemas["OcpiDateTime"] = {
        "type": "string",
        "maxLength": 25,
        "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$",
        "description": "OCPI DateTime as the hub writes it: UTC, `Z`, at most 25 characters.",
        "example": EXAMPLE_TIMESTAMP,
    }
    schemas["OcpiEnvelope"] = _envelope_component()
    return result
