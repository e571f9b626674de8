"""OpenAPI: every response schema is wrapped in the OCPI envelope, and the OCPI headers are
documented on every operation (netbox `NetBoxAutoSchema`)."""

import re
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter
from rest_framework.generics import GenericAPIView

from hub.ocpi.fields import OcpiUrlField
from hub.ocpi.schema_docs import (
    ERROR_EXAMPLES,
    EXAMPLE_TIMESTAMP,
    EXAMPLE_TOKEN_HEADER,
    PAGINATION_RESPONSE_HEADERS,
    STATUS_CODE_RANGES,
)

# What the hub accepts (hub.ocpi.routing): the fuzzer and generated clients see the same rules.
_MESSAGE_ID = {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^[\x21-\x7e]+$"}
_COUNTRY = {"type": "string", "minLength": 2, "maxLength": 2, "pattern": "^[A-Za-z]{2}$"}
_PARTY = {"type": "string", "minLength": 3, "maxLength": 3, "pattern": "^[A-Za-z0-9]{3}$"}
# OCPI DateTime (UTC, Z). Years and parts are bounded so that generated values are mostly real
# instants (a 31 February is refused with 2001, as it should be).
DATETIME_SCHEMA = _DATETIME = {
    "type": "string",
    "maxLength": 25,
    "pattern": r"^(19|20)\d{2}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"
    r"T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,3})?Z$",
}
# URL (string(255)) in requests: an http(s) URL with a dotted host, as Django's URLValidator
# wants it. (The hub's own answers may name IP hosts: not constrained.)
URL_PATTERN = (
    r"^https?://([a-z0-9]([a-z0-9-]{0,14}[a-z0-9])?\.){1,3}[a-z]{2,6}(:[1-9][0-9]{1,4})?"
    r"(/[A-Za-z0-9._~-]{1,20}){0,4}$"
)
# CiString(n) / string(n) ids in URLs: printable ASCII without the URL's own separators.
_ID_PATTERN = r"^[\x21-\x2e\x30-\x7e]+$"


def _id(max_length: int) -> dict[str, Any]:
    return {"type": "string", "minLength": 1, "maxLength": max_length, "pattern": _ID_PATTERN}


def _header(name: str, description: str, schema: dict[str, Any], example: str) -> OpenApiParameter:
    return OpenApiParameter(
        name=name,
        type={**schema, "example": example},
        location=OpenApiParameter.HEADER,
        required=False,
        description=description,
    )


ID_HEADERS = [
    _header(
        "X-Request-ID",
        "Unique id of this request (a UUID is advised); echoed in the response, generated when "
        "missing. A forwarded request gets a new one.",
        _MESSAGE_ID,
        "6e1f3c52-8d2a-4b7e-9a51-3f0c2d9e7b10",
    ),
    _header(
        "X-Correlation-ID",
        "Id shared by every hop of one exchange; echoed, generated when missing, and kept when "
        "the hub forwards the request.",
        _MESSAGE_ID,
        "0b8f4a7e-2c19-4d63-8e5f-a1d2c3b4e5f6",
    ),
]
ROUTING_HEADERS = [
    _header(
        "OCPI-from-country-code",
        "Country code of the sending party (CiString(2)): one of your own parties, else 2001. "
        "Required together with OCPI-from-party-id.",
        _COUNTRY,
        "NL",
    ),
    _header(
        "OCPI-from-party-id",
        "Party id of the sending party (CiString(3)): one of your own parties.",
        _PARTY,
        "ABC",
    ),
    _header(
        "OCPI-to-country-code",
        "Country code of the receiving party (CiString(2)): another party (direct routing, "
        "forwarded), the hub (broadcast push; GET all via the hub), or absent (open routing: "
        "the hub picks the receiver). 4001 when it names no party the hub knows.",
        _COUNTRY,
        "DE",
    ),
    _header(
        "OCPI-to-party-id",
        "Party id of the receiving party (CiString(3)); with OCPI-to-country-code.",
        _PARTY,
        "XYZ",
    ),
]
# Pagination (2.2.1 transport_and_format): on every paginated GET list.
PAGE_PARAMETERS = [
    OpenApiParameter(
        "offset",
        {"type": "integer", "minimum": 0, "maximum": 2**31 - 1, "example": 0},
        description="The offset of the first object returned. Default 0.",
    ),
    OpenApiParameter(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": 2**31 - 1, "example": 100},
        description="The maximum number of objects to return; lowered to the hub's maximum "
        "page size (the X-Limit response header).",
    ),
    OpenApiParameter(
        "date_from",
        {**_DATETIME, "example": "2026-11-01T00:00:00Z"},
        description="Only objects with last_updated >= this OCPI DateTime (inclusive).",
    ),
    OpenApiParameter(
        "date_to",
        {**_DATETIME, "example": "2026-12-01T00:00:00Z"},
        description="Only objects with last_updated < this OCPI DateTime (exclusive).",
    ),
]
# Path parameters by name, with the lengths of the OCPI types they carry (2.2.1 modules).
PATH_PARAMETERS: dict[str, dict[str, Any]] = {
    "country_code": _COUNTRY,
    "party_id": _PARTY,
    "location_id": _id(36),
    "evse_uid": _id(36),
    "connector_id": _id(36),
    "tariff_id": _id(36),
    "session_id": _id(36),
    "cdr_id": _id(39),
    "token_uid": _id(36),
    "request_id": _id(255),
    "command": {
        "type": "string",
        "enum": [
            "CANCEL_RESERVATION",
            "RESERVE_NOW",
            "START_SESSION",
            "STOP_SESSION",
            "UNLOCK_CONNECTOR",
        ],
    },
    "gateway": {"type": "string", "enum": ["cpo", "emsp"]},
    "module": {
        "type": "string",
        "enum": ["cdrs", "hubclientinfo", "locations", "sessions", "tariffs", "tokens"],
    },
}
# Query parameters by name (views declare them as plain strings).
QUERY_PARAMETERS: dict[str, dict[str, Any]] = {
    "date_from": _DATETIME,
    "date_to": _DATETIME,
    "response_url": {"type": "string", "maxLength": 255, "pattern": URL_PATTERN},
    "duration": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
}
# Errors every operation may answer, each with an envelope without data (2.2.1 status_codes).
ERROR_RESPONSES = {
    "400": "Not JSON, or a malformed request (OCPI 2000/2001).",
    "401": "Missing or unknown token (OCPI 2000).",
    "403": "A valid token calling an interface of another role (OCPI 2000).",
    "404": "Unknown object or endpoint (OCPI 2000-2004).",
    "405": "Method not allowed, e.g. credentials in the wrong state (OCPI 2000).",
    "413": "Body too large (OCPI 2000).",
    "415": "Body is not application/json (OCPI 2000).",
}
RESPONSE_HEADERS = {
    name: {"description": description, "required": True, "schema": {"type": "string"}}
    for name, description in (
        ("X-Request-ID", "The request's X-Request-ID (generated when missing or unusable)."),
        ("X-Correlation-ID", "The request's X-Correlation-ID (generated when missing)."),
    )
}


class OcpiAutoSchema(AutoSchema):
    """Wrap responses in the envelope and document the id and routing headers."""

    def get_operation_id(self) -> str:
        # One view serves location, EVSE and connector depths: the path parameters keep the
        # operation ids unique (and stable for generated clients).
        base = str(super().get_operation_id())
        params = re.findall(r"{(\w+)}", self.path)
        return f"{base}_by_{'_'.join(params)}" if params else base

    def _serializer_by_depth(self) -> Any:
        """One view serves a location, an EVSE and a connector: a view's
        `serializers_by_depth[(last path parameter, method)]` names each depth's object."""
        by_depth = getattr(self.view, "serializers_by_depth", None)
        names = re.findall(r"{(\w+)}", self.path)
        if not by_depth or not names:
            return None
        return by_depth.get((names[-1], self.method))

    def get_request_serializer(self) -> Any:
        return self._serializer_by_depth() or super().get_request_serializer()

    def get_response_serializers(self) -> Any:
        if self.method == "GET" and (serializer := self._serializer_by_depth()) is not None:
            return serializer
        return super().get_response_serializers()

    def _map_serializer_field(self, field: Any, direction: str, *args: Any, **kwargs: Any) -> Any:
        schema = super()._map_serializer_field(field, direction, *args, **kwargs)
        # Rules the hub's fields enforce that drf-spectacular does not see: a regular
        # expression (PatternStringField: country, currency, coordinates...), non-empty
        # lists (allow_empty=False: an EVSE's connectors) and number bounds (kWh, hours).
        pattern = getattr(field, "pattern", None)
        if isinstance(pattern, re.Pattern) and schema.get("type") == "string":
            anchored = pattern.pattern.startswith("^") and pattern.pattern.endswith("$")
            schema["pattern"] = pattern.pattern if anchored else f"^(?:{pattern.pattern})$"
        if (
            isinstance(field, OcpiUrlField)
            and direction == "request"
            and schema.get("type") == "string"
        ):
            schema["pattern"] = URL_PATTERN
        if getattr(field, "allow_empty", True) is False and schema.get("type") == "array":
            schema["minItems"] = max(1, schema.get("minItems", 0))
        if schema.get("type") in ("number", "integer"):  # OcpiNumberField's bounds
            for attribute, keyword in (("min_value", "minimum"), ("max_value", "maximum")):
                bound = getattr(field, attribute, None)
                if bound is not None and keyword not in schema:
                    schema[keyword] = int(bound) if bound == int(bound) else float(bound)
        return schema

    def _get_request_for_media_type(self, serializer: Any, direction: str = "request") -> Any:
        if self.method != "PATCH":
            return super()._get_request_for_media_type(serializer, direction)
        # The hub runs its PATCH forms (LocationPatchSerializer, ...) without partial=True, so
        # what they require (last_updated) is required; drf-spectacular would mark nothing.
        self.method = "PUT"
        try:
            return super()._get_request_for_media_type(serializer, direction)
        finally:
            self.method = "PATCH"

    def get_override_parameters(self) -> list[Any]:
        params = list(super().get_override_parameters())
        params += ID_HEADERS
        if getattr(self.view, "routed", False):
            params += ROUTING_HEADERS
        if self._paginated_list():
            params = PAGE_PARAMETERS + params  # a view's own description wins
        return params

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "path" and parameter["name"] in PATH_PARAMETERS:
                parameter["schema"] = dict(PATH_PARAMETERS[parameter["name"]])
            elif parameter["in"] == "query" and parameter["name"] in QUERY_PARAMETERS:
                example = parameter["schema"].get("example")
                parameter["schema"] = dict(QUERY_PARAMETERS[parameter["name"]])
                if example is not None:  # the pagination parameters' own example
                    parameter["schema"]["example"] = example
        responses = operation.setdefault("responses", {})
        if "204" in responses:
            # OCPI answers a DELETE with an envelope too: HTTP 200, never 204.
            deleted = responses.pop("204")
            deleted.setdefault("content", {"application/json": {"schema": envelope_schema(None)}})
            responses.setdefault("200", deleted)
        for code, description in ERROR_RESPONSES.items():
            responses.setdefault(
                code,
                {
                    "description": description,
                    "content": {
                        "application/json": {
                            "schema": envelope_schema(None),
                            "example": ERROR_EXAMPLES[code],
                        }
                    },
                },
            )
        for response in responses.values():
            response.setdefault("headers", {}).update(RESPONSE_HEADERS)
        if self._paginated_list() and "200" in responses:
            responses["200"]["headers"].update(PAGINATION_RESPONSE_HEADERS)
        return dict(operation)

    def _paginated_list(self) -> bool:
        paginated = isinstance(self.view, GenericAPIView) and self.view.pagination_class
        return bool(paginated) and self.method == "GET" and self._is_list_view()

    def _get_response_for_code(
        self,
        serializer: Any,
        status_code: str,
        media_types: Any = None,
        direction: str = "response",
    ) -> dict[str, Any]:
        response = super()._get_response_for_code(serializer, status_code, media_types, direction)
        content = response.get("content", {})
        for media in content.values():
            inner = media.get("schema")
            media["schema"] = envelope_schema(inner)
        if not content:
            response["content"] = {"application/json": {"schema": envelope_schema(None)}}
        return response


def envelope_schema(data_schema: dict[str, Any] | None) -> dict[str, Any]:
    """The OCPI envelope around `data_schema`."""
    properties: dict[str, Any] = {
        "status_code": {
            "type": "integer",
            "description": f"OCPI status code (1000 = success): {STATUS_CODE_RANGES} "
            "The codes and when the hub answers each: schema `OcpiStatusCode`.",
            "example": 1000,
        },
        "status_message": {
            "type": "string",
            "description": "Optional; in errors, what was wrong, naming the field.",
        },
        "timestamp": {
            "type": "string",
            "maxLength": 25,
            "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$",
            "description": "When the answer was made: an OCPI DateTime (UTC, Z).",
            "example": EXAMPLE_TIMESTAMP,
        },
    }
    if data_schema is not None:
        # data is optional (0..1): an OCPI error answered with HTTP 200 carries none, or null.
        nullable = {"allOf": [data_schema]} if "$ref" in data_schema else dict(data_schema)
        properties = {"data": {**nullable, "nullable": True}, **properties}
    return {
        "type": "object",
        "required": ["status_code", "timestamp"],
        "properties": properties,
    }


class CredentialsTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    """Documents `Authorization: Token <base64(token)>` (2.2.1 transport_and_format)."""

    target_class = "hub.ocpi.authentication.CredentialsTokenAuthentication"
    name = "OcpiToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": (
                "`Token <base64(credentials token)>` (OCPI 2.2.1 transport_and_format), e.g. "
                f"`{EXAMPLE_TOKEN_HEADER}` for the token `example-token`. The raw token "
                "(`Token example-token`, the 2.1.1 form) is accepted too, and a decoded token "
                "ending in one newline is read without it. Token A opens only versions and "
                "credentials and dies when the exchange issues token C. Missing or unknown "
                "token: HTTP 401, OCPI 2000, `Unknown credentials token`; a suspended "
                "platform's token: HTTP 401."
            ),
        }
