"""The protocol contract every hub response in the test suite must honour (zulip validates
every test response against OpenAPI; this checks the OCPI envelope and the echoed ids).

`ContractCheckMiddleware` is installed by `settings.test` outermost, so it sees every
response the hub produces under /ocpi/ — test client and live server alike — and records
violations; an autouse fixture fails the test that caused one.
"""

import json
import re
import threading
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

_TIMESTAMP_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$")
_lock = threading.Lock()
violations: list[str] = []


def check_envelope(body: object) -> list[str]:
    """Problems with `body` as an OCPI envelope (empty when it is a valid one)."""
    problems = []
    if not isinstance(body, dict):
        return [f"body is not a JSON object: {body!r:.200}"]
    unknown = set(body) - {"data", "status_code", "status_message", "timestamp"}
    if unknown:
        problems.append(f"unexpected envelope keys {sorted(unknown)}")
    code = body.get("status_code")
    if not isinstance(code, int) or isinstance(code, bool) or not 1000 <= code <= 4999:
        problems.append(f"status_code {code!r} is not an OCPI status code")
    timestamp = body.get("timestamp")
    if not isinstance(timestamp, str) or not _TIMESTAMP_RE.match(timestamp):
        problems.append(f"timestamp {timestamp!r} is not an OCPI DateTime (UTC, Z, <= 25)")
    message = body.get("status_message")
    if message is not None and not isinstance(message, str):
        problems.append("status_message is not a string")
    return problems


def check_response(request: HttpRequest, response: HttpResponse) -> list[str]:
    """Problems with a hub response to `request`."""
    problems = []
    try:
        body = json.loads(response.content)
    except (ValueError, AttributeError):
        return [f"{request.method} {request.path} -> {response.status_code}: body is not JSON"]
    problems += check_envelope(body)
    for header in ("X-Request-ID", "X-Correlation-ID"):
        sent = request.headers.get(header)
        got = response.get(header)
        if not got:
            problems.append(f"{header} missing from the response")
        elif sent and sent != got:
            problems.append(f"{header} not echoed: sent {sent!r}, got {got!r}")
    return [f"{request.method} {request.path} -> {response.status_code}: {p}" for p in problems]


class ContractCheckMiddleware:
    """Record contract violations of every /ocpi/ response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path.startswith("/ocpi/"):
            found = check_response(request, response)
            if found:
                with _lock:
                    violations.extend(found)
        return response


def take_violations() -> list[str]:
    with _lock:
        found = list(violations)
        violations.clear()
    return found
