"""The one JSON renderer: orjson, byte-for-byte what DRF's JSONRenderer would answer, and stored
partners' JSON spliced in as it is (`StoredJson`) instead of decoded and encoded again.

Why: on a GET page of 100 locations, decoding the JSONB column into Python objects and
encoding them back with the stdlib took 18% of the request (py-spy, benchmarks S0/S4). The
stored document is the partner's JSON as the hub validated it on the way in; the page is
assembled from its text. orjson (a maintained Rust encoder, the one FastAPI and Litestar offer)
does the envelope around it several times faster than `json.dumps`.

Output is DRF's, value for value: compact, UTF-8, U+2028/U+2029 escaped; datetimes, Decimals,
lazy strings and the rest go through DRF's own encoder (`default`), so their spelling does not
change. Anything orjson refuses (an integer beyond 64 bits, say) is rendered by DRF's renderer
instead: never a 500 for what rendered before. Two spellings differ, not values: a float's
negative exponent is not zero-padded (1e-7 where json wrote 1e-07), and NaN or Infinity, which
DRF refuses with a 500 (strict JSON), renders as null, as JSON.stringify does.
"""

from collections.abc import Mapping
from typing import Any, TypeVar

import orjson
from django.db.models import Model, QuerySet, TextField
from django.db.models.functions import Cast
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.encoders import JSONEncoder

__all__ = ["OcpiJSONRenderer", "StoredJson", "stored_json_of", "with_stored_json"]

M = TypeVar("M", bound=Model)


class StoredJson:
    """A JSON document's text as stored (a JSONB column read as text): rendered verbatim.

    Only for text the database holds as JSON (PostgreSQL's jsonb output, SQLite's JSON text
    that Django wrote), never for bytes a partner has just sent."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StoredJson) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)

    def __repr__(self) -> str:
        return f"StoredJson({self.text[:40]!r}...)"


#: The annotation `with_stored_json` adds: the `data` column as the database's JSON text.
DATA_TEXT = "data_json_text"


def with_stored_json(queryset: QuerySet[M], *fields: str) -> QuerySet[M]:
    """`queryset` reading `fields` (and pk) as model fields and its `data` JSON column as text:
    psycopg never decodes it (`stored_json_of` wraps it for the renderer, or decodes it when a
    view must change the document)."""
    return queryset.only(*fields).annotate(**{DATA_TEXT: Cast("data", TextField())})


def stored_json_of(obj: Model) -> StoredJson:
    """The `data` text of an object read through `with_stored_json`."""
    return StoredJson(getattr(obj, DATA_TEXT))


_drf_encoder = JSONEncoder()
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS
# JSON allows U+2028/U+2029 in strings, JavaScript source did not: DRF escapes them.
_LINE_SEPARATORS = ((b"\xe2\x80\xa8", b"\\u2028"), (b"\xe2\x80\xa9", b"\\u2029"))


def _orjson_default(value: Any) -> Any:
    if isinstance(value, StoredJson):
        return orjson.Fragment(value.text)
    return _drf_encoder.default(value)


class _FallbackEncoder(JSONEncoder):
    """DRF's encoder for the stdlib path, with `StoredJson` decoded (rare: orjson refused)."""

    def default(self, obj: Any) -> Any:
        if isinstance(obj, StoredJson):
            return orjson.loads(obj.text)
        return super().default(obj)


class OcpiJSONRenderer(JSONRenderer):
    encoder_class = _FallbackEncoder

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        if data is None:
            return b""
        if self.get_indent(accepted_media_type or "", renderer_context or {}):
            # A client asking for indented JSON (`; indent=2`): DRF's own layout.
            return super().render(data, accepted_media_type, renderer_context)
        try:
            rendered = orjson.dumps(data, default=_orjson_default, option=_OPTIONS)
        except (orjson.JSONEncodeError, TypeError):
            return super().render(data, accepted_media_type, renderer_context)
        for raw, escaped in _LINE_SEPARATORS:
            if raw in rendered:
                rendered = rendered.replace(raw, escaped)
        return rendered
