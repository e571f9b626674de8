"""The one JSON parser: bounded body size and nesting depth, strict JSON."""

import json
from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from rest_framework.parsers import JSONParser

from hub.ocpi.exceptions import BodyTooLargeError, InvalidJsonError

__all__ = ["JsonTooDeepError", "OcpiJSONParser", "json_depth", "loads_bounded"]


class JsonTooDeepError(ValueError):
    """A JSON document nested deeper than `OCPI_MAX_JSON_DEPTH`."""


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON")


def json_depth(value: Any) -> int:
    """How deeply arrays and objects nest in a decoded document (a scalar is 0, `[]` 1),
    walked without recursion so that the walk itself cannot exhaust the stack."""
    deepest = 0
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth + 1)
        pending.extend((child, depth + 1) for child in children)
    return deepest


def loads_bounded(text: str | bytes, max_depth: int | None = None) -> Any:
    """`json.loads` of untrusted text, NaN/Infinity refused, nesting at most `max_depth`
    (`OCPI_MAX_JSON_DEPTH`). Raises `ValueError` (`JsonTooDeepError` for nesting)."""
    limit = settings.OCPI_MAX_JSON_DEPTH if max_depth is None else max_depth
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except RecursionError as exc:
        # The C decoder recurses per level and gives up near the interpreter's recursion
        # limit (`"[" * 200000`): far beyond any limit, so it is the same refusal.
        raise JsonTooDeepError(f"nested deeper than {limit} levels") from exc
    if json_depth(value) > limit:
        raise JsonTooDeepError(f"nested deeper than {limit} levels")
    return value


class OcpiJSONParser(JSONParser):
    """Parse a JSON body of at most `DATA_UPLOAD_MAX_MEMORY_SIZE` bytes, nested at most
    `OCPI_MAX_JSON_DEPTH` levels.

    DRF reads the WSGI stream directly, which bypasses Django's body cap, so the cap is
    enforced here. NaN/Infinity are refused: they are not JSON (RFC 8259). A body the hub
    cannot parse, however it fails, is HTTP 400 with an envelope (`InvalidJsonError`), never
    a 500.
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
            return loads_bounded(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidJsonError(f"Request body is not valid JSON: {exc}") from exc
