"""Path segments of outbound URLs: the one rule for what the hub appends to a partner's
endpoint URL, and for whether a URL still lies below that endpoint.

A routed request names ids in its URL (`/locations/{id}`) that the hub appends to the
receiver's endpoint and sends with *the hub's own token* at that receiver. A segment `..`
(raw, or percent-encoded as `%2E%2E`, which many servers decode before resolving) or an id
holding a `/` would walk out of the endpoint: `locations/../credentials` reaches the
receiver's credentials module, and its answer carries the hub's token. So:

- `check_path_segment` refuses ids that are, or decode to, `.`/`..`, or hold a `/` or `\\`
  in any decoding (2001, HTTP 404: such a URL names no object; the unknown-command precedent);
- `join_segments` quotes each segment with nothing safe, so `?`, `#`, `%` and `/` inside an id
  stay inside it;
- `is_below` is the last check before sending: the URL, as the HTTP client will send it (dot
  segments resolved) and as a receiver that decodes `%2E`/`%2F` will read it, must stay on the
  endpoint's scheme, host and port and at or below its path.
"""

from collections.abc import Iterable
from urllib.parse import quote, unquote, urlsplit

from hub.ocpi.exceptions import NotFoundError
from hub.ocpi.status import OcpiStatus

__all__ = ["check_path_segment", "is_below", "join_segments", "segment_escapes"]

# Percent-decoding is repeated this often at most: ids are at most 36-255 characters, so a
# value still changing after that many rounds is an attack on a decoder, not an id.
_MAX_DECODES = 8
_DOT_SEGMENTS = frozenset({".", ".."})
_SEPARATORS = ("/", "\\")


def _decodings(value: str) -> Iterable[str]:
    """`value` and each successive percent-decoding of it, until it stops changing."""
    yield value
    for _ in range(_MAX_DECODES):
        decoded = unquote(value)
        if decoded == value:
            return
        value = decoded
        yield value


def segment_escapes(value: str) -> bool:
    """Would `value`, as one path segment, leave its place in the path for some reader: is it,
    or does any percent-decoding of it give, a dot segment or a path separator?"""
    return any(
        decoded in _DOT_SEGMENTS or any(sep in decoded for sep in _SEPARATORS)
        for decoded in _decodings(value)
    )


def check_path_segment(name: str, value: str) -> str:
    """Refuse an id of the URL that is not a plain path segment (see the module docstring)."""
    if segment_escapes(value):
        raise NotFoundError(
            f"{name}: {value[:40]!r} is not an id (dot segments and slashes, also "
            "percent-encoded, are refused)",
            ocpi_status=OcpiStatus.INVALID_OR_MISSING_PARAMETERS,
        )
    return value


def join_segments(segments: Iterable[str]) -> str:
    """`/seg1/seg2...` with every segment percent-encoded, nothing left safe ("" for none).

    The segments are checked first (`check_path_segment`, named by position): callers check
    their ids with the field's name earlier, this is the backstop for every outbound path.
    """
    parts = [
        quote(check_path_segment(f"path segment {n}", str(segment)), safe="")
        for n, segment in enumerate(segments, start=1)
    ]
    return "".join(f"/{part}" for part in parts)


def _origin(url: str) -> tuple[str, str, int | None] | None:
    """(scheme, host, port with the scheme's default filled in), lower-case; None if unusable."""
    parts = urlsplit(url)
    try:
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())
    except ValueError:
        return None
    if not parts.hostname:
        return None
    return parts.scheme.lower(), parts.hostname.lower(), port


def _resolved_segments(path: str) -> list[str] | None:
    """The path's segments, each decoded as a lenient receiver would, dot segments resolved
    (RFC 3986 §5.2.4, which the HTTP client also applies to literal ones before sending); None
    when a decoded segment holds a separator (where it lies is then up to the receiver)."""
    resolved: list[str] = []
    for segment in path.split("/")[1:]:
        decoded = list(_decodings(segment))[-1]
        if any(sep in decoded for sep in _SEPARATORS):
            return None
        if decoded == "..":
            if resolved:
                resolved.pop()
        elif decoded != ".":
            resolved.append(decoded)
    while resolved and resolved[-1] == "":
        resolved.pop()
    return resolved


def is_below(url: str, endpoint_url: str) -> bool:
    """Is `url` on `endpoint_url`'s scheme, host and port, and at or below its path, with dot
    segments resolved and percent-encodings decoded as a lenient receiver would read them?"""
    origin = _origin(url)
    if origin is None or origin != _origin(endpoint_url):
        return False
    target = _resolved_segments(urlsplit(url).path or "/")
    base = _resolved_segments(urlsplit(endpoint_url).path or "/")
    if target is None or base is None:
        return False
    return target[: len(base)] == base
