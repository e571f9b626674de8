"""OpenAPI: every response schema is wrapped in the OCPI envelope, and the OCPI headers are
documented on every operation (netbox `NetBoxAutoSchema`)."""

import re
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter


def _header(name: str, description: str, max_length: int | None = None) -> OpenApiParameter:
    return OpenApiParameter(
        name=name,
        type=str,
        location=OpenApiParameter.HEADER,
        required=False,
        description=description,
    )


ID_HEADERS = [
    _header("X-Request-ID", "Unique id of this request; echoed in the response."),
    _header("X-Correlation-ID", "Id shared by every hop of one exchange; echoed."),
]
ROUTING_HEADERS = [
    _header("OCPI-from-country-code", "Country code of the sending party (CiString(2))."),
    _header("OCPI-from-party-id", "Party id of the sending party (CiString(3))."),
    _header("OCPI-to-country-code", "Country code of the receiving party; the hub's to GET all."),
    _header("OCPI-to-party-id", "Party id of the receiving party (CiString(3))."),
]


class OcpiAutoSchema(AutoSchema):
    """Wrap responses in the envelope and document the id and routing headers."""

    def get_operation_id(self) -> str:
        # One view serves location, EVSE and connector depths: the path parameters keep the
        # operation ids unique (and stable for generated clients).
        base = str(super().get_operation_id())
        params = re.findall(r"{(\w+)}", self.path)
        return f"{base}_by_{'_'.join(params)}" if params else base

    def get_override_parameters(self) -> list[Any]:
        params = list(super().get_override_parameters())
        params += ID_HEADERS
        if getattr(self.view, "routed", False):
            params += ROUTING_HEADERS
        return params

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
        "status_code": {"type": "integer", "description": "OCPI status code (1000 = success)."},
        "status_message": {"type": "string"},
        "timestamp": {
            "type": "string",
            "maxLength": 25,
            "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$",
        },
    }
    if data_schema is not None:
        properties = {"data": data_schema, **properties}
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
                "`Token <base64(credentials token)>` (OCPI 2.2.1); the raw token is accepted "
                "too. Token A opens only versions and credentials."
            ),
        }
