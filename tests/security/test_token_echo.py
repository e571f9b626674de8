"""A receiver that echoes the hub's token anywhere in its answer never hands it to the caller
(issue 10 defect 1; `hub.services.routing.forwarding._relay`, `hub.ocpi.tokens.redact_token_in`).

The hub calls a receiver with *its own* token at that receiver. A receiver's answer is relayed
to another party: if the receiver (by bug, or because a path reached its credentials module)
puts that token in `data` — `data.token` of a Credentials object, a nested message, a key —
the caller would hold the hub's credentials at the receiver. Once only `status_message` was
redacted. Each case routes a real request to a real partner server that answers with the
token planted in every part of the envelope, in each form it travels in (raw, base64 with and
without the trailing newline); the answer is relayed (the caller gets the receiver's data)
with every form replaced by `***`.
"""

import base64
from typing import Any

import pytest

from tests.security.routed import Member, Roaming

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

EMSP_URL = "https://emsp.example.com/ocpi/emsp/2.2.1/commands/STOP_SESSION/r1"


def echoing(token: str) -> dict[str, Any]:
    """An envelope with `token` in `data` (top level, nested, in a list, as a key, base64'd)
    and in `status_message`."""
    b64 = base64.b64encode(token.encode()).decode()
    b64_newline = base64.b64encode(f"{token}\n".encode()).decode()
    return {
        "status_code": 1000,
        "status_message": f"called with Token {b64}",
        "timestamp": "2024-05-01T10:00:00Z",
        "data": {
            "id": "LOC1",
            "token": token,
            "result": "ACCEPTED",
            "timeout": 30,
            "message": [{"language": "en", "text": f"Authorization: Token {b64_newline}"}],
            "url": f"https://cpo.example.com/ocpi?t={token}",
            "roles": [{"party_id": "X", "business_details": {"name": f"{b64}"}}],
            token: "a key",
        },
    }


def strings(value: Any) -> list[str]:
    """Every string (keys included) of a decoded JSON document."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*strings(k), *strings(v))]
    if isinstance(value, list):
        return [s for item in value for s in strings(item)]
    return []


def leaked(world: Roaming, response: Any) -> list[str]:
    """Forms of the hub's tokens in the answer: its bytes, headers and decoded strings (a JSON
    escape must not hide one)."""
    text = "\n".join(strings(response.json())) + world.leaked_text(response)
    return [form[:8] + "..." for form in world.hub_tokens() if form in text]


CASES = [
    # An eMSP's GET of a CPO's location, routed to the CPO's locations SENDER.
    pytest.param("ms1", "cp1", "GET", "emsp/locations/LOC1", None, "locations", id="emsp-get"),
    # A CPO's GET of its own location at an eMSP, routed to the eMSP's locations RECEIVER.
    pytest.param("cp1", "ms1", "GET", "cpo/locations/NL/CP1/LOC1", None, "locations", id="cpo-get"),
    # A command (relayed through the async-request path), routed to the CPO's commands.
    pytest.param(
        "ms1",
        "cp1",
        "POST",
        "emsp/commands/STOP_SESSION",
        {"response_url": EMSP_URL, "session_id": "SES1"},
        "commands",
        id="emsp-command",
    ),
]


@pytest.mark.parametrize(("caller", "to", "method", "path", "body", "module"), CASES)
def test_the_receivers_echo_of_the_hubs_token_is_redacted_everywhere(
    roaming: Roaming,
    caller: str,
    to: str,
    method: str,
    path: str,
    body: Any,
    module: str,
) -> None:
    receiver: Member = getattr(roaming, to)
    token = receiver.platform.outbound_token
    assert receiver.server is not None and token
    receiver.server.set_behaviour(module, envelope=echoing(token))
    # when
    response = roaming.call(
        getattr(roaming, caller), method, f"/ocpi/2.2.1/{path}", to=receiver, json=body
    )
    # then: the answer is relayed (the receiver was reached with the hub's token) ...
    assert len(receiver.server.received) == 1
    relayed = response.json()
    assert (response.status_code, relayed["status_code"]) == (200, 1000), relayed
    assert relayed["data"]["id"] == "LOC1" and relayed["data"]["timeout"] == 30
    # ... without a single form of the hub's token, every place it was planted redacted.
    assert leaked(roaming, response) == []
    assert relayed["data"]["token"] == "***"
    assert "***" in relayed["data"]
    assert relayed["data"]["message"][0]["text"] == "Authorization: Token ***"
    assert relayed["data"]["roles"][0]["business_details"]["name"] == "***"
    assert relayed["status_message"] == "called with Token ***"


# The shortcut of `redact_token_in` (a document whose JSON text holds no form of the token is
# returned unwalked) must never let a form through: each case holds the token where only a
# walk finds it, or where the JSON text would hide it.
HIDDEN = [
    pytest.param("tok/EN+1", lambda t: {"deep": [[{"k": f"x{t}y"}]]}, id="nested"),
    pytest.param("tok/EN+1", lambda t: {f"key-{t}": 1}, id="key"),
    pytest.param("tok/EN+1", lambda t: {"n": 2**70, "s": t}, id="beyond-orjson-int"),
    pytest.param("tok/EN+1", lambda t: {"s": "\ud800" + t}, id="lone-surrogate"),
    pytest.param('q"uo\\te', lambda t: {"s": f"<{t}>"}, id="json-escaped-token"),
    pytest.param("tök€n", lambda t: {"s": f"<{t}>"}, id="non-ascii"),
    pytest.param(
        "tok/EN+1",
        lambda t: {"s": base64.b64encode(f"{t}\n".encode()).decode()},
        id="base64-newline",
    ),
]


@pytest.mark.parametrize(("token", "document"), HIDDEN)
def test_redaction_finds_the_token_wherever_the_document_holds_it(token: str, document) -> None:
    from hub.ocpi.tokens import redact_token_in, token_forms

    redacted = redact_token_in(document(token), token)
    assert not [s for s in strings(redacted) for form in token_forms(token) if form in s]
    assert "***" in "".join(strings(redacted))


def test_a_document_without_the_token_comes_back_as_it_was() -> None:
    from hub.ocpi.tokens import redact_token_in

    document = {"id": "LOC1", "evses": [{"uid": "E1", "status": "AVAILABLE"}], "n": 1.5}
    assert redact_token_in(document, "tok/EN+1") == document
