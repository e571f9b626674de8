"""Credentials tokens: generation, digests and the Authorization header forms.

2.2.1 transport_and_format, Authorization header: `Authorization: Token <base64(token)>`. Many
2.1.1-era implementations send the raw token instead, and the spec advises staying compatible
("trial and error or configuration flags"), so the hub accepts both and sends, per platform,
the form that platform expects.
"""

import base64
import binascii
import hashlib
import secrets
from typing import Any

import orjson

# 2.2.1 Credentials.token is string(64) of printable, non-whitespace ASCII.
TOKEN_MAX_LENGTH = 64


def generate_token() -> str:
    """A new credentials token: 256 random bits, URL-safe, 43 characters."""
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """SHA-256 of a token. Hub-issued tokens carry 256 random bits, so a plain digest is as
    strong as a slow hash and keeps the lookup a single indexed query."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def is_valid_token(token: str) -> bool:
    """Printable non-whitespace ASCII, 1..64 characters (2.2.1 Credentials.token)."""
    return 0 < len(token) <= TOKEN_MAX_LENGTH and all(0x21 <= ord(ch) <= 0x7E for ch in token)


def encode_token(token: str, encoding: str) -> str:
    """The Authorization header value for `token` in the form a partner expects."""
    if encoding == "RAW":
        return f"Token {token}"
    return "Token " + base64.b64encode(token.encode("utf-8")).decode("ascii")


def header_token_candidates(credential: str) -> list[tuple[str, str]]:
    """The tokens an Authorization credential may stand for, with the form each implies.

    The base64 reading comes first (2.2.1); a lenient server strips one trailing newline after
    decoding because the spec's own examples encode one.
    """
    candidates: list[tuple[str, str]] = []
    try:
        decoded = base64.b64decode(credential, validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        decoded = ""
    if decoded.endswith("\n"):
        decoded = decoded[:-1]
    if decoded and is_valid_token(decoded):
        candidates.append((decoded, "BASE64"))
    if is_valid_token(credential):
        candidates.append((credential, "RAW"))
    return candidates


def token_forms(token: str) -> tuple[str, ...]:
    """Every form a token travels in: raw, and base64 with and without the trailing newline
    some partners encode."""
    if not token:
        return ()
    encoded = [base64.b64encode(token.encode("utf-8")).decode("ascii")]
    encoded.append(base64.b64encode((token + "\n").encode("utf-8")).decode("ascii"))
    return (token, *encoded)


def redact_token(text: str, token: str | None) -> str:
    """`text` with every form of `token` replaced by `***`: partners echo the credentials they
    were sent in error messages, and the hub must neither store nor relay them."""
    if not token or not text:
        return text
    return _redact(text, _forms_longest_first(token))


def _forms_longest_first(token: str) -> tuple[str, ...]:
    # Longest first: base64 of the token is a prefix of base64 of the token plus newline.
    return tuple(sorted(token_forms(token), key=len, reverse=True))


def _redact(text: str, forms: tuple[str, ...]) -> str:
    for form in forms:
        text = text.replace(form, "***")
    return text


# What orjson writes escaped inside a JSON string: a form holding one of these may not appear
# verbatim in the encoded document even where a decoded string holds it.
_JSON_ESCAPED = frozenset('"\\') | frozenset(chr(code) for code in range(0x20))


def redact_token_in(value: Any, token: str | None) -> Any:
    """`value` (a decoded JSON document: dicts, lists, strings, numbers) with every form of
    `token` redacted in every string, keys included. A receiver's answer is relayed to another
    party: the token the hub uses at that receiver must not travel with it, wherever the
    receiver put it (`data.token` of its credentials, a message, an id).

    A document whose JSON text holds no form of the token holds it in no string either (a
    string is written verbatim but for the characters JSON escapes, which a form here must not
    contain): it is returned as it is, without walking it (issue 14, S1)."""
    if not token:
        return value
    forms = _forms_longest_first(token)
    if not any(_JSON_ESCAPED.intersection(form) for form in forms):
        try:
            text = orjson.dumps(value)
        except (TypeError, orjson.JSONEncodeError):
            text = None
        if text is not None and not any(form.encode("utf-8") in text for form in forms):
            return value
    return _redact_in(value, forms)


def _redact_in(value: Any, forms: tuple[str, ...]) -> Any:
    if isinstance(value, str):
        return _redact(value, forms)
    if isinstance(value, dict):
        return {_redact_in(key, forms): _redact_in(item, forms) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_in(item, forms) for item in value]
    return value
