"""The one JSON parser: bounded body size, strict JSON."""

import json
from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from rest_framework.parsers import JSONParser

from hub.ocpi.exceptions import BodyTooLargeError, InvalidJsonError


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON")


class OcpiJSONParser(JSONParser):
    """Parse a JSON body of at most `DATA_UPLOAD_MAX_MEMORY_SIZE` bytes.

    DRF reads the WSGI stream directly, which bypasses Django's body cap, so the cap is
    enforced here. NaN/Infinity are refused: they are not JSON (RFC 8259).
    """

    def parse(
        self,
        stream: IO[bytes] | None,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        if stream is None:
            return None
        cap = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read(cap + 1) if cap else stream.read()
        if cap and len(raw) > cap:
            raise BodyTooLargeError(f"Request body exceeds {cap} bytes")
        if not raw.strip():
            return None
        try:
            return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidJsonError(f"Request body is not valid JSON: {exc}") from exc
