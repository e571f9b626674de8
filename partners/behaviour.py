"""How a simulated partner misbehaves or answers on request: injected faults (an HTTP status,
a body, a delay, a dropped connection, a redirect; for the next N requests or for good) and
reply overrides (a command REJECTED, a chosen `data`). `PartnerBehaviour` is the part of
`SimulatedPartner` that scripts them and applies them to an inbound request."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from partners.handler import Reply
from partners.ocpi import (
    envelope,
)
from partners.state import PartnerState
from partners.store import ReceivedRequest


@dataclass
class Behaviour:
    """A fault injected into matching inbound requests (see `SimulatedPartner.set_behaviour`).

    `times` counts down per matching request; at 0 the behaviour expires, which makes
    "fail twice, then succeed" retry tests possible.
    """

    path_prefix: str | None = None
    method: str | None = None
    status: int | None = None
    envelope: Any = None
    raw_body: bytes | None = None
    delay: float = 0.0
    close_connection: bool = False
    redirect_to: str | None = None
    times: int | None = None
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        """True if this behaviour applies to a request (and has not expired)."""
        if self.times is not None and self.times <= 0:
            return False
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self.path_prefix is None or path.startswith(self.path_prefix)

    @property
    def answers(self) -> bool:
        """True if the behaviour replaces the normal answer (not only delays it)."""
        return (
            self.close_connection
            or self.redirect_to is not None
            or self.status is not None
            or self.envelope is not None
            or self.raw_body is not None
        )


@dataclass
class ReplyOverride:
    path_prefix: str
    method: str | None
    data: Any


class PartnerBehaviour(PartnerState):
    """Faults and reply overrides of a `SimulatedPartner` (a mixin over its state)."""

    # ---- scripting answers -------------------------------------------------------------

    def set_behaviour(
        self,
        path_prefix: str | None = None,
        *,
        status: int | None = None,
        http_status: int | None = None,
        envelope: Any = None,
        raw_body: bytes | None = None,
        delay: float = 0.0,
        close_connection: bool = False,
        redirect_to: str | None = None,
        method: str | None = None,
        times: int | None = None,
    ) -> Behaviour:
        """Inject a fault into requests whose path starts with `path_prefix` (None: all).

        - `status`/`http_status` (synonyms): answer this HTTP status with a generic envelope
          (3000 for 5xx, 2000 for 4xx), or with `envelope` / `raw_body` if given;
        - `envelope`: answer this JSON body (HTTP 200 unless a status is given);
        - `raw_body`: answer these bytes (e.g. an HTML error page, invalid JSON);
        - `delay`: sleep first (interrupted by `stop()`); alone, the request then proceeds;
        - `close_connection`: drop the connection without any answer;
        - `redirect_to`: answer a redirect (307 unless a 3xx status is given) to this URL;
        - `method`: only this HTTP method; `times`: only the next N matching requests.

        A path prefix without a leading "/" names a module of OCPI 2.2.1 ("locations").
        The newest matching behaviour wins. Faulted requests are still recorded.
        """
        if status is not None and http_status is not None and status != http_status:
            raise ValueError("status and http_status are synonyms; give one")
        behaviour = Behaviour(
            path_prefix=self._normalize_prefix(path_prefix) if path_prefix is not None else None,
            method=method.upper() if method else None,
            status=status if status is not None else http_status,
            envelope=copy.deepcopy(envelope),
            raw_body=raw_body,
            delay=delay,
            close_connection=close_connection,
            redirect_to=redirect_to,
            times=times,
        )
        with self._lock:
            self._behaviours.append(behaviour)
        return behaviour

    def reset_behaviour(self) -> None:
        """Remove every injected fault and reply override, and `fail_versions`."""
        with self._lock:
            self._behaviours.clear()
            self._replies.clear()
            self.fail_versions = False

    def set_reply(self, path_prefix: str, data: Any, *, method: str | None = None) -> None:
        """Answer successful module requests under `path_prefix` with this `data` (1000).

        Unlike `set_behaviour(envelope=...)` the request is still processed (stored), e.g. to
        make a CPO answer a command with {"result": "REJECTED", "timeout": 30}.
        """
        with self._lock:
            self._replies.append(
                ReplyOverride(
                    self._normalize_prefix(path_prefix), method.upper() if method else None, data
                )
            )

    def _apply_behaviour(self, record: ReceivedRequest) -> Reply | None:
        with self._lock:
            behaviour = next(
                (b for b in reversed(self._behaviours) if b.matches(record.method, record.path)),
                None,
            )
            if behaviour is not None:
                behaviour.hits += 1
                if behaviour.times is not None:
                    behaviour.times -= 1
        if behaviour is None:
            return None
        if behaviour.delay > 0 and self._stopping.wait(behaviour.delay):
            return Reply(0, drop=True)
        if behaviour.close_connection:
            return Reply(0, drop=True)
        if behaviour.redirect_to is not None:
            status = behaviour.status if behaviour.status and behaviour.status // 100 == 3 else 307
            return Reply(status, raw=b"", headers={"Location": behaviour.redirect_to})
        if not behaviour.answers:
            return None
        status = behaviour.status if behaviour.status is not None else 200
        if behaviour.raw_body is not None:
            return Reply(status, raw=behaviour.raw_body, headers={"Content-Type": "text/plain"})
        if behaviour.envelope is not None:
            return Reply(status, copy.deepcopy(behaviour.envelope))
        code = 3000 if status >= 500 else 2000 if status >= 400 else 1000
        return Reply(status, envelope(None, code, f"Simulated HTTP {status}"))
