"""Bodies the hub cannot parse, however deep, are HTTP 400 with an OCPI envelope, never a 500
(issue 10 defect 4; `hub.ocpi.parsers.loads_bounded`, `OCPI_MAX_JSON_DEPTH`).

`"[" * 200000` once answered 500/3000 (RecursionError in the parser). Deep bodies are sent to
the routed write endpoints of both gateways; nothing is stored.
"""

from collections.abc import Callable
from typing import Any

import pytest

from hub.ocpi.parsers import json_depth, loads_bounded
from tests.security.conftest import World

pytestmark = pytest.mark.django_db

DEEP = 100_000
BODIES = {
    "open-brackets": "[" * 200_000,
    "deep-valid-array": "[" * DEEP + "]" * DEEP,
    "deep-valid-object": '{"a":' * DEEP + "1" + "}" * DEEP,
    "just-over-the-limit": "[" * 65 + "]" * 65,
    "deep-inside-an-object": '{"id": "LOC1", "evses": ' + "[" * 500 + "]" * 500 + "}",
}
PATHS = [
    ("cp1", "PUT", "/ocpi/2.2.1/cpo/locations/NL/CP1/LOC1"),
    ("cp1", "POST", "/ocpi/2.2.1/cpo/cdrs"),
    ("ms1", "PUT", "/ocpi/2.2.1/emsp/tokens/DE/MS1/TOK1"),
    ("ms1", "POST", "/ocpi/2.2.1/emsp/commands/START_SESSION"),
]


@pytest.mark.parametrize("body", list(BODIES.values()), ids=list(BODIES))
@pytest.mark.parametrize(("who", "method", "path"), PATHS)
def test_deep_body_is_400_with_an_envelope(
    world: World, unchanged: Callable[[], None], who: str, method: str, path: str, body: str
) -> None:
    # when
    response = world.call(getattr(world, who), method, path, raw=body)
    # then
    assert response.status_code == 400, response.content[:300]
    envelope = response.json()
    assert envelope["status_code"] == 2000, envelope
    assert "JSON" in envelope["status_message"]
    unchanged()


def test_a_deep_but_allowed_body_is_parsed(settings: Any) -> None:
    settings.OCPI_MAX_JSON_DEPTH = 64
    doc = "[" * 64 + "]" * 64
    assert json_depth(loads_bounded(doc)) == 64
    with pytest.raises(ValueError, match="deeper than 64"):
        loads_bounded("[" + doc + "]")


def test_the_limit_is_a_setting(settings: Any) -> None:
    settings.OCPI_MAX_JSON_DEPTH = 3
    assert loads_bounded('{"a": [1]}') == {"a": [1]}
    with pytest.raises(ValueError, match="deeper than 3"):
        loads_bounded('{"a": [[{}]]}')
