"""The fuzz run's own instruments must be able to fail: the state fingerprint sees a write,
the loopback guard refuses other hosts, the id-echo check catches a swapped id."""

import socket
from typing import Any

import pytest

from hub.models import Platform
from tests.factories import registered_party
from tests.fuzz import loopback, state
from tests.fuzz.runner import _echo_problems


@pytest.mark.django_db
def test_fingerprint_sees_a_write_but_not_contact_bookkeeping() -> None:
    platform, _ = registered_party("CPO", "NL", "FZA")
    state._queries.cache_clear()
    before = state.take()
    Platform.objects.filter(pk=platform.pk).update(last_seen_at="2026-01-01T00:00:00Z")
    assert before.changed_tables(state.take()) == []
    Platform.objects.filter(pk=platform.pk).update(name="renamed")
    assert before.changed_tables(state.take()) == ["hub_platform"]


def test_loopback_guard_refuses_other_hosts_without_a_lookup() -> None:
    with loopback.loopback_only():
        assert socket.getaddrinfo("127.0.0.1", 80)
        with pytest.raises(socket.gaierror):
            socket.getaddrinfo("example.org", 80)
        with pytest.raises(socket.gaierror):
            socket.getaddrinfo("10.0.0.1", 80)
    assert "example.org" in loopback.refused


class _Response:
    def __init__(self, **headers: str) -> None:
        self.headers: dict[str, Any] = {k.lower(): [v] for k, v in headers.items()}


def test_echo_check_wants_usable_ids_back_and_tolerates_replaced_unusable_ones() -> None:
    ok = _Response(**{"X-Request-ID": "abc", "X-Correlation-ID": "generated"})
    assert _echo_problems({"X-Request-ID": "abc", "X-Correlation-ID": "a\tb"}, ok) == []
    swapped = _Response(**{"X-Request-ID": "other", "X-Correlation-ID": "c"})
    assert _echo_problems({"X-Request-ID": "abc"}, swapped) == [
        "X-Request-ID: sent 'abc', got 'other'"
    ]
    assert _echo_problems({}, _Response(**{"X-Request-ID": "x"})) == [
        "X-Correlation-ID: 0 values in the response"
    ]


@pytest.mark.django_db
def test_failed_async_requests_are_hashed_apart_from_the_others() -> None:
    state._queries.cache_clear()
    queries = dict(state._queries())
    assert "FAILED" in queries[state.RECORDED_FAILURES]
    assert "NOT" in queries["hub_asyncrequest"]
    assert "hub_ocpiexchange" not in queries
