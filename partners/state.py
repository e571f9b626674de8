"""The state every part of a `SimulatedPartner` shares, declared once for the type checker.

The partner is put together from mixins, one per concern (server, store, behaviour, client,
handler), that read and write one set of attributes and call one another. `PartnerState` names
them all, with their types; `SimulatedPartner.__init__` sets them. The methods listed under
TYPE_CHECKING are defined by the part named beside each: they are declared here only so that
one part may call another's."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any

import httpx

from partners.ocpi import JsonObject, Module, TokenEncoding

if TYPE_CHECKING:
    from partners.behaviour import Behaviour, ReplyOverride
    from partners.handler import Reply
    from partners.server import PartnerServer
    from partners.store import ReceivedRequest, SentRequest


class PartnerState:
    """The attributes of a simulated partner (see `SimulatedPartner.__init__`)."""

    handler_class: type[BaseHTTPRequestHandler]
    roles: list[JsonObject]
    modules: list[Module]
    versions: list[str]
    token_encoding: TokenEncoding
    required_endpoints: list[str]
    max_limit: int
    client_timeout: float
    location_trees: bool
    name: str
    fail_versions: bool

    _lock: threading.RLock
    _received_cond: threading.Condition
    _stopping: threading.Event
    _server: PartnerServer | None
    _thread: threading.Thread | None
    _port_hint: int

    _token_a: str
    _token_a_valid: bool
    _own_token: str | None
    _pending_own_tokens: set[str]
    _hub_token: str | None
    _registered: bool
    _hub_versions_url: str | None
    _hub_version: str | None
    _hub_endpoints: list[JsonObject]
    _hub_credentials: JsonObject | None

    _received: list[ReceivedRequest]
    _sent: list[SentRequest]
    _errors: list[BaseException]
    _stored: dict[str, Any]
    _objects: dict[str, list[JsonObject]]
    _behaviours: list[Behaviour]
    _replies: list[ReplyOverride]

    if TYPE_CHECKING:
        # server (PartnerServing)
        def _base_url_or_none(self) -> str | None: ...
        @property
        def base_url(self) -> str: ...
        def details_url(self, version: str = ...) -> str: ...
        def module_url(self, module: str, *segments: str, version: str = ...) -> str: ...
        def module_path(self, module: str, *segments: str, version: str = ...) -> str: ...

        # store (PartnerStore)
        def _record_arrival(
            self,
            method: str,
            target: str,
            headers: httpx.Headers,
            body: bytes,
            *,
            response_status: int | None = None,
        ) -> ReceivedRequest: ...
        def objects(self, module: str) -> list[JsonObject]: ...

        # behaviour (PartnerBehaviour)
        def _apply_behaviour(self, record: ReceivedRequest) -> Reply | None: ...

        # handler (OcpiHandling)
        def _normalize_prefix(self, prefix: str) -> str: ...
        def _handle(
            self, method: str, target: str, headers: httpx.Headers, body: bytes
        ) -> Reply: ...
        def _identify_token(
            self, header: str | None
        ) -> tuple[str | None, TokenEncoding | None]: ...

        # client (PartnerClient)
        def _fetch_endpoints(
            self,
            versions_url: str,
            token: str,
            acceptable: Sequence[str],
            headers: Mapping[str, str] | None = None,
        ) -> tuple[str, list[JsonObject]]: ...

        # registration state (SimulatedPartner)
        @property
        def registered(self) -> bool: ...
        @property
        def hub_token(self) -> str | None: ...
        @property
        def hub_endpoints(self) -> list[JsonObject]: ...
        def hub_endpoint(self, identifier: str, role: str | None = None) -> str | None: ...
        def credentials(self, token: str | None = None) -> JsonObject: ...
        def _registered_with(
            self,
            own_token: str,
            hub_token: str,
            versions_url: str,
            version: str,
            endpoints: list[JsonObject],
            credentials: Any,
        ) -> None: ...
        def _forget_registration(self) -> None: ...
