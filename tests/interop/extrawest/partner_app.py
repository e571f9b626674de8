"""An extrawest-ocpi (``py_ocpi``) platform acting as a CPO or eMSP partner.

Run it with the interpreter of the dedicated extrawest venv (see
``tests/interop/extrawest_partner.py``), never with the project's venv::

    .venv-extrawest/bin/python tests/interop/extrawest/partner_app.py \
        --role CPO --port 8123 --country-code NL --party-id EXW --token-a TOKEN_A

It serves the *library's own* FastAPI application (``py_ocpi.get_application``)
on 127.0.0.1 with in-memory implementations of the interfaces the library asks
its users to provide (``py_ocpi.core.crud.Crud`` and
``py_ocpi.core.authentication.authenticator.Authenticator``; the adapter is the
library's ``BaseAdapter``). Everything OCPI-facing - routing, auth header
parsing, the credentials handshake (incl. the call-back to the registering
party), push, command results - is the library's code. This file only stores
what the library hands it, plus a few unauthenticated debug endpoints for tests:

``GET  /_debug/state``    everything stored + inbound/outbound request logs
``POST /_debug/call``     outbound call to any URL with the token held for the hub
``POST /_debug/seed``     put own objects (CPO: locations/tariffs/sessions/cdrs,
                          eMSP: tokens) into the store, so the hub can GET them
                          or so they can be pushed
``POST /_debug/push``     push an own object to the hub via ``py_ocpi.core.push``
``POST /_debug/register`` partner-initiated registration (harness code: the
                          library cannot send a credentials POST itself)
``POST /_debug/config``   change canned answers (command response/result, ...)
``POST /_debug/reset``    forget everything, as freshly started (one process, many tests)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import secrets
import sys
from datetime import UTC, datetime
from typing import Any


def _parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--role", required=True, type=str.upper, choices=["CPO", "EMSP"])
    p.add_argument("--port", required=True, type=int)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--country-code", default="NL")
    p.add_argument("--party-id", default="EXW")
    p.add_argument("--token-a", default=None, help="Credentials Token A this platform issued")
    p.add_argument(
        "--versions-path",
        default="/ocpi/versions",
        help="path of the versions endpoint; must end in /versions (the library "
        "serves it at /{OCPI_PREFIX}/versions, so this sets OCPI_PREFIX)",
    )
    p.add_argument("--business-name", default=None)
    p.add_argument(
        "--keep-token-a",
        action="store_true",
        help="keep Token A valid after a successful registration (default: "
        "invalidate it, as OCPI 2.2.1 recommends)",
    )
    p.add_argument(
        "--ci-uppercase",
        action="store_true",
        help="CI_STRING_LOWERCASE_PREFERENCE=false: the library then upper-cases "
        "every CiString (ids, country codes, party ids) instead of lower-casing",
    )
    p.add_argument("--log-level", default="debug")
    return p.parse_args(argv)


ARGS = _parse_args()
_prefix = ARGS.versions_path.strip("/")
if not _prefix.endswith("versions"):
    sys.exit("--versions-path must end with /versions")
OCPI_PREFIX = _prefix[: -len("versions")].strip("/") or "ocpi"

# py_ocpi reads its settings (pydantic BaseSettings) from the environment at
# import time, so everything must be in os.environ before the first import.
# Explicit values also shadow any stray .env file in the working directory.
os.environ.update(
    {
        "ENVIRONMENT": "development",  # DEBUG logs from "OCPI-Logger"
        "NO_AUTH": "false",
        "PROJECT_NAME": f"extrawest-{ARGS.role.lower()}",
        "BACKEND_CORS_ORIGINS": "[]",
        "OCPI_HOST": f"{ARGS.host}:{ARGS.port}",
        "OCPI_PREFIX": OCPI_PREFIX,
        "PUSH_PREFIX": "push",
        "COUNTRY_CODE": ARGS.country_code,
        "PARTY_ID": ARGS.party_id,
        "PROTOCOL": "http",
        # command/charging-profile result polling: 30 * N iterations of 2 s
        "COMMAND_AWAIT_TIME": "1",
        "GET_ACTIVE_PROFILE_AWAIT_TIME": "1",
        "TRAILING_SLASH": "true",
        "CI_STRING_LOWERCASE_PREFERENCE": "false" if ARGS.ci_uppercase else "true",
    }
)

import httpx  # noqa: E402
import uvicorn  # noqa: E402
from fastapi import Body, FastAPI  # noqa: E402
from fastapi.encoders import jsonable_encoder  # noqa: E402
from fastapi.responses import JSONResponse  # noqa: E402
from py_ocpi import get_application  # noqa: E402
from py_ocpi.core.adapter import BaseAdapter  # noqa: E402
from py_ocpi.core.authentication.authenticator import Authenticator  # noqa: E402
from py_ocpi.core.config import logger as ocpi_logger  # noqa: E402
from py_ocpi.core.config import settings  # noqa: E402
from py_ocpi.core.crud import Crud  # noqa: E402
from py_ocpi.core.enums import Action, ModuleID, RoleEnum  # noqa: E402
from py_ocpi.core.push import push_object  # noqa: E402
from py_ocpi.core.schemas import Push  # noqa: E402
from py_ocpi.core.utils import encode_string_base64  # noqa: E402
from py_ocpi.modules.versions.enums import VersionNumber  # noqa: E402

for _h in ocpi_logger.handlers:  # plain (uncoloured) log lines in the log file
    _h.setFormatter(logging.Formatter("%(asctime)s | [%(levelname)s] OCPI %(message)s"))

ROLE = RoleEnum.cpo if ARGS.role == "CPO" else RoleEnum.emsp
BASE_URL = f"http://{ARGS.host}:{ARGS.port}"
VERSIONS_URL = f"{BASE_URL}/{OCPI_PREFIX}/versions"
DETAILS_URL = f"{BASE_URL}/{OCPI_PREFIX}/2.2.1/details"
TOKEN_A = ARGS.token_a or f"EXW-A-{secrets.token_hex(12)}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _decode_body(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


# --------------------------------------------------------------------------
# In-memory state. Everything here is returned by GET /_debug/state.
# --------------------------------------------------------------------------
STATE: dict[str, Any] = {
    "role": ARGS.role,
    "country_code": ARGS.country_code,
    "party_id": ARGS.party_id,
    "base_url": BASE_URL,
    "versions_url": VERSIONS_URL,
    "details_url": DETAILS_URL,
    "token_a": TOKEN_A,
    "token_a_valid": True,
    # Tokens the *hub* may use to call us (Token C of a hub-initiated
    # registration, or the token we sent in a partner-initiated one).
    "issued_tokens": [],
    # The token we use to call the hub (Token B received in a hub-initiated
    # registration, or Token C returned by the hub in a partner-initiated one).
    "outbound_token": None,
    # Current registration (None if none / deleted) and its history.
    "registration": None,
    "registrations": [],
    # Every credentials object received from the other side (POST/PUT bodies).
    "credentials_received": [],
    # Objects pushed to us: {module: {"cc/pid/id" (lower-cased): object}}.
    "objects": {},
    # Our own objects (seeded through /_debug/seed): same layout.
    "own_objects": {},
    "deleted": [],
    "commands": [],  # commands received (CPO)
    "command_results": [],  # CommandResults received (eMSP)
    "authorizations": [],  # real-time authorization requests (eMSP)
    "charging_profiles": [],  # charging profile traffic (both roles)
    "charging_preferences": [],  # CPO: PUT sessions/{id}/charging_preferences
    "requests": [],  # inbound log (excluding /_debug)
    "outbound": [],  # every HTTP request the library (or /_debug/*) made
    "config": {
        "keep_token_a": ARGS.keep_token_a,
        "command_response": {"result": "ACCEPTED", "timeout": 30},
        "command_result": {"result": "ACCEPTED"},
        "charging_profile_response": {"result": "ACCEPTED", "timeout": 30},
        "charging_profile_result": {"result": "ACCEPTED"},
        "authorization_allowed": None,  # None = from the token's `valid` flag
    },
    "_last_details_url": None,
}


def _our_credentials(token: str) -> dict:
    return {
        "token": token,
        "url": VERSIONS_URL,
        "roles": [
            {
                "role": ARGS.role,
                "business_details": {
                    "name": ARGS.business_name or f"Extrawest {ARGS.role} {ARGS.party_id}"
                },
                "party_id": ARGS.party_id,
                "country_code": ARGS.country_code,
            }
        ],
    }


def _new_token(kind: str) -> str:
    return f"EXW-{kind}-{secrets.token_hex(12)}"


def _key(cc: Any, pid: Any, oid: Any) -> str:
    return f"{cc}/{pid}/{oid}".lower()


def _store(own: bool) -> dict:
    return STATE["own_objects" if own else "objects"]


def _is_own(module: ModuleID, role: RoleEnum | None) -> bool:
    # The library calls crud with role=CPO for the CPO-owned modules and
    # role=EMSP for the eMSP-owned one (tokens), whichever side it runs.
    if module == ModuleID.tokens:
        return role == RoleEnum.emsp
    return role == RoleEnum.cpo


def _object_id(data: dict) -> Any:
    return data.get("id") if data.get("id") is not None else data.get("uid")


def _find(module: ModuleID, own: bool, oid: Any, cc: Any = None, pid: Any = None):
    bucket = _store(own).get(str(module.value), {})
    if cc is not None and pid is not None:
        return bucket.get(_key(cc, pid, oid))
    want = str(oid).lower()
    for key, obj in bucket.items():
        if key.split("/", 2)[2] == want:
            return obj
    return None


def _put(module: ModuleID, own: bool, data: dict, cc: Any = None, pid: Any = None, oid: Any = None):
    cc = cc if cc is not None else data.get("country_code")
    pid = pid if pid is not None else data.get("party_id")
    oid = oid if oid is not None else _object_id(data)
    key = _key(cc, pid, oid)
    _store(own).setdefault(str(module.value), {})[key] = data
    return key


def _parse_dt(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        dt = value
    else:
        try:
            dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _register(credentials: dict, details: Any, used_token: str, kind: str) -> dict:
    """Store the other side's credentials; issue a fresh token for it."""
    previous = STATE["registration"]
    if previous and previous.get("token_c") in STATE["issued_tokens"]:
        STATE["issued_tokens"].remove(previous["token_c"])
    token_c = _new_token("C")
    STATE["issued_tokens"].append(token_c)
    STATE["outbound_token"] = credentials.get("token")
    reg = {
        "kind": kind,  # "POST" (new) or "PUT" (update) by the other side
        "token_b": credentials.get("token"),
        "url": credentials.get("url"),
        "roles": credentials.get("roles"),
        "version_details": details,
        "details_url": STATE["_last_details_url"],
        "token_c": token_c,
        "authorized_with": used_token,
        "at": _now(),
    }
    STATE["registration"] = reg
    STATE["registrations"].append(reg)
    STATE["credentials_received"].append(
        {"at": reg["at"], "kind": kind, "credentials": credentials}
    )
    if kind == "POST" and used_token == TOKEN_A and not STATE["config"]["keep_token_a"]:
        STATE["token_a_valid"] = False
    return _our_credentials(token_c)


# --------------------------------------------------------------------------
# The interfaces py_ocpi requires from its user.
# --------------------------------------------------------------------------
class MemoryAuthenticator(Authenticator):
    @classmethod
    async def get_valid_token_c(cls) -> list[str]:
        return list(STATE["issued_tokens"])

    @classmethod
    async def get_valid_token_a(cls) -> list[str]:
        return [TOKEN_A] if STATE["token_a_valid"] else []


class MemoryCrud(Crud):
    @classmethod
    async def get(cls, module: ModuleID, role: RoleEnum, id, *args, **kwargs) -> Any:
        if module == ModuleID.credentials_and_registration:
            reg = STATE["registration"]
            if reg and reg["token_c"] == id:
                return _our_credentials(reg["token_c"])
            return None
        if module == ModuleID.commands:
            # CPO polling for the charge point's CommandResult (id is always 0)
            return STATE["config"]["command_result"]
        if module == ModuleID.hub_client_info:
            if id == 0:  # charging-profile result polling (CPO background task)
                if "duration" in kwargs:
                    return STATE["config"]["charging_profile_result"]
                return None
            return (
                _store(False)
                .get("clientinfo", {})
                .get(f"{kwargs.get('country_code')}/{kwargs.get('party_id')}".lower())
            )
        own = _is_own(module, role)
        return _find(module, own, id, kwargs.get("country_code"), kwargs.get("party_id"))

    @classmethod
    async def list(cls, module: ModuleID, role: RoleEnum, filters: dict, *args, **kwargs):
        items = list(_store(_is_own(module, role)).get(str(module.value), {}).values())
        date_from = _parse_dt(filters.get("date_from"))
        date_to = _parse_dt(filters.get("date_to"))
        if date_from or date_to:
            kept = []
            for obj in items:
                lu = _parse_dt(obj.get("last_updated"))
                if lu is None:
                    continue
                if date_from and lu < date_from:
                    continue
                if date_to and lu >= date_to:
                    continue
                kept.append(obj)
            items = kept
        offset = int(filters.get("offset") or 0)
        limit = 50 if filters.get("limit") is None else int(filters["limit"])
        page = items[offset : offset + limit]
        return page, len(items), offset + limit >= len(items)

    @classmethod
    async def create(cls, module: ModuleID, role: RoleEnum, data: dict, *args, **kwargs) -> Any:
        if module == ModuleID.credentials_and_registration:
            return _register(
                data["credentials"], data["endpoints"], kwargs.get("auth_token"), "POST"
            )
        if module == ModuleID.charging_profile:
            STATE["charging_profiles"].append(
                {
                    "at": _now(),
                    "op": "result",
                    "data": data,
                    "query": dict(kwargs.get("query_params") or {}),
                }
            )
            return data
        if module == ModuleID.hub_client_info:
            STATE["objects"].setdefault("clientinfo", {})[
                f"{kwargs.get('country_code')}/{kwargs.get('party_id')}".lower()
            ] = data
            return data
        _put(
            module, _is_own(module, role), data, kwargs.get("country_code"), kwargs.get("party_id")
        )
        return data

    @classmethod
    async def update(
        cls, module: ModuleID, role: RoleEnum, data: dict, id: Any, *args, **kwargs
    ) -> Any:
        if module == ModuleID.credentials_and_registration:
            return _register(
                data["credentials"], data["endpoints"], kwargs.get("auth_token"), "PUT"
            )
        if module == ModuleID.commands:  # eMSP receiving an async CommandResult
            STATE["command_results"].append({"at": _now(), "uid": id, "result": data})
            return data
        if module == ModuleID.sessions and role == RoleEnum.cpo:  # charging preferences
            STATE["charging_preferences"].append({"at": _now(), "session_id": id, "data": data})
            return data
        if module == ModuleID.charging_profile:
            STATE["charging_profiles"].append(
                {
                    "at": _now(),
                    "op": "active_profile",
                    "session_id": kwargs.get("session_id"),
                    "data": data,
                }
            )
            return data
        if module == ModuleID.hub_client_info:
            STATE["objects"].setdefault("clientinfo", {})[
                f"{kwargs.get('country_code')}/{kwargs.get('party_id')}".lower()
            ] = data
            return data
        _put(
            module,
            _is_own(module, role),
            data,
            kwargs.get("country_code"),
            kwargs.get("party_id"),
            id,
        )
        return data

    @classmethod
    async def delete(cls, module: ModuleID, role: RoleEnum, id, *args, **kwargs):
        if module == ModuleID.credentials_and_registration:
            if id in STATE["issued_tokens"]:
                STATE["issued_tokens"].remove(id)
            reg = STATE["registration"]
            if reg and reg["token_c"] == id:
                reg["deleted_at"] = _now()
                STATE["registration"] = None
                STATE["outbound_token"] = None
            return
        own = _is_own(module, role)
        bucket = _store(own).get(str(module.value), {})
        key = _key(kwargs.get("country_code"), kwargs.get("party_id"), id)
        STATE["deleted"].append(
            {"at": _now(), "module": str(module.value), "key": key, "object": bucket.pop(key, None)}
        )
        return

    @classmethod
    async def do(
        cls,
        module: ModuleID,
        role: RoleEnum | None,
        action: Action,
        *args,
        data: dict | None = None,
        **kwargs,
    ) -> Any:
        if action == Action.get_client_token:
            return STATE["outbound_token"]
        if action == Action.send_command:
            command_data = args[0] if args else data
            STATE["commands"].append(
                {"at": _now(), "command": str(kwargs.get("command").value), "data": command_data}
            )
            return STATE["config"]["command_response"]
        if action == Action.authorize_token:
            token = _find(ModuleID.tokens, True, data["token_uid"])
            STATE["authorizations"].append({"at": _now(), "request": data})
            if token is None:
                return None
            allowed = STATE["config"]["authorization_allowed"]
            if allowed is None:
                allowed = "ALLOWED" if token.get("valid", True) else "BLOCKED"
            result = {"allowed": allowed, "token": token}
            if data.get("location_reference"):
                result["location"] = data["location_reference"]
            return result
        if action in (
            Action.send_get_chargingprofile,
            Action.send_update_charging_profile,
            Action.send_delete_chargingprofile,
        ):
            STATE["charging_profiles"].append(
                {
                    "at": _now(),
                    "op": str(action.value),
                    "session_id": (kwargs.get("session") or {}).get("id"),
                    "data": args[0] if args else kwargs.get("charging_profile"),
                    "response_url": kwargs.get("response_url"),
                }
            )
            return STATE["config"]["charging_profile_response"]
        return None


# --------------------------------------------------------------------------
# Request logging: inbound (ASGI middleware) and outbound (httpx hook).
# --------------------------------------------------------------------------
class RequestLogMiddleware:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"].startswith("/_debug"):
            await self.app(scope, receive, send)
            return
        headers: dict[str, str] = {}
        for k, v in scope.get("headers", []):
            name, value = k.decode("latin-1"), v.decode("latin-1")
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        entry: dict[str, Any] = {
            "at": _now(),
            "method": scope["method"],
            "path": scope["path"],
            "query": scope.get("query_string", b"").decode("latin-1"),
            "headers": headers,
            "body": None,
            "status": None,
            "response_headers": None,
            "response": None,
        }
        STATE["requests"].append(entry)
        req_chunks: list[bytes] = []
        resp_chunks: list[bytes] = []

        async def logged_receive():
            message = await receive()
            if message["type"] == "http.request":
                req_chunks.append(message.get("body", b""))
                entry["body"] = _decode_body(b"".join(req_chunks))
            return message

        async def logged_send(message):
            if message["type"] == "http.response.start":
                entry["status"] = message["status"]
                entry["response_headers"] = {
                    k.decode("latin-1"): v.decode("latin-1") for k, v in message.get("headers", [])
                }
            elif message["type"] == "http.response.body":
                resp_chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    entry["response"] = _decode_body(b"".join(resp_chunks))
            await send(message)

        await self.app(scope, logged_receive, logged_send)


_original_send = httpx.AsyncClient.send


async def _logged_send(self, request, *args, **kwargs):
    try:
        body = _decode_body(request.content)
    except Exception:  # streaming body
        body = "<stream>"
    entry: dict[str, Any] = {
        "at": _now(),
        "method": request.method,
        "url": str(request.url),
        "headers": dict(request.headers),
        "body": body,
        "status": None,
        "response": None,
    }
    STATE["outbound"].append(entry)
    try:
        response = await _original_send(self, request, *args, **kwargs)
    except Exception as exc:
        entry["error"] = repr(exc)
        raise
    entry["status"] = response.status_code
    entry["response_headers"] = dict(response.headers)
    if not kwargs.get("stream"):
        entry["response"] = _decode_body(response.content)
        data = entry["response"].get("data") if isinstance(entry["response"], dict) else None
        if request.method == "GET" and isinstance(data, dict) and "endpoints" in data:
            STATE["_last_details_url"] = str(request.url)
    return response


httpx.AsyncClient.send = _logged_send  # every httpx call the library makes goes through here


# --------------------------------------------------------------------------
# Application
# --------------------------------------------------------------------------
ALL_MODULES = [
    ModuleID.credentials_and_registration,
    ModuleID.locations,
    ModuleID.sessions,
    ModuleID.cdrs,
    ModuleID.tariffs,
    ModuleID.commands,
    ModuleID.tokens,
    ModuleID.hub_client_info,
    ModuleID.charging_profile,
]

app: FastAPI = get_application(
    version_numbers=[VersionNumber.v_2_2_1],
    roles=[ROLE],
    crud=MemoryCrud,
    modules=ALL_MODULES,
    authenticator=MemoryAuthenticator,
    adapter=BaseAdapter,
    http_push=False,
    websocket_push=False,
)
app.add_middleware(RequestLogMiddleware)
_JSON_BODY = Body(...)  # module-level singleton for the debug endpoints


def _auth_header(token: str, raw: bool = False) -> str:
    # Exactly what the library's own client code sends for 2.2.x
    # (py_ocpi.modules.credentials.v_2_2_1.api.*, py_ocpi.core.push,
    #  py_ocpi.modules.commands.v_2_2_1.api.cpo.send_command_result).
    return f"Token {token if raw else encode_string_base64(token)}"


async def _http(
    method: str,
    url: str,
    token: str | None,
    json_body: Any = None,
    headers: dict | None = None,
    raw: bool = False,
    timeout: float = 10.0,
) -> dict:
    hdrs = {}
    if token is not None:
        hdrs["authorization"] = _auth_header(token, raw)
    hdrs.update(headers or {})
    async with httpx.AsyncClient(timeout=timeout) as client:
        kwargs: dict[str, Any] = {"headers": hdrs}
        if json_body is not None:
            kwargs["json"] = json_body
        resp = await client.request(method.upper(), url, **kwargs)
    try:
        body: Any = resp.json()
    except ValueError:
        body = resp.text
    return {
        "status_code": resp.status_code,
        "headers": dict(resp.headers),
        "json": body if not isinstance(body, str) else None,
        "text": resp.text,
        "request_headers": hdrs,
    }


@app.get("/_debug/state", include_in_schema=False)
async def debug_state():
    return JSONResponse(jsonable_encoder(STATE))


@app.post("/_debug/call", include_in_schema=False)
async def debug_call(payload: dict = _JSON_BODY):
    """{"method", "url", "json"?, "headers"?, "token"?, "raw_token"?: bool, "no_auth"?: bool}.

    Default token: the one held for the hub (STATE["outbound_token"]), sent
    as the library sends it: ``Authorization: Token base64(token)``.
    """
    token = None if payload.get("no_auth") else payload.get("token", STATE["outbound_token"])
    try:
        result = await _http(
            payload.get("method", "GET"),
            payload["url"],
            token,
            payload.get("json"),
            payload.get("headers"),
            bool(payload.get("raw_token")),
            float(payload.get("timeout", 10.0)),
        )
    except httpx.HTTPError as exc:
        return JSONResponse({"error": repr(exc)}, status_code=502)
    return JSONResponse(jsonable_encoder(result))


@app.post("/_debug/seed", include_in_schema=False)
async def debug_seed(payload: dict = _JSON_BODY):
    """{"module": "locations", "objects": [...]} (or "object": {...}) -> own store."""
    module = ModuleID(payload["module"])
    objects = payload.get("objects") or [payload["object"]]
    keys = [_put(module, True, obj) for obj in objects]
    return {"stored": keys}


@app.post("/_debug/push", include_in_schema=False)
async def debug_push(payload: dict = _JSON_BODY):
    """Push an own object with the library's push code (py_ocpi.core.push.push_object).

    {"module_id": "locations", "object_id": "LOC1", "receivers"?: [{"endpoints_url", "auth_token"}]}
    Default receiver: the hub's 2.2.1 version-details URL seen during
    registration + the outbound token. The library GETs that URL, picks the
    RECEIVER endpoint of the module and sends PUT {url}{COUNTRY_CODE}/{PARTY_ID}/{id}
    (POST {url} for cdrs).
    """
    receivers = payload.get("receivers")
    if not receivers:
        reg = STATE["registration"] or {}
        if not reg.get("details_url") or not STATE["outbound_token"]:
            return JSONResponse({"error": "not registered; pass receivers"}, status_code=409)
        receivers = [{"endpoints_url": reg["details_url"], "auth_token": STATE["outbound_token"]}]
    push = Push(module_id=payload["module_id"], object_id=payload["object_id"], receivers=receivers)
    try:
        result = await push_object(
            VersionNumber.v_2_2_1, push, MemoryCrud, BaseAdapter, auth_token=None
        )
    except Exception as exc:  # the library raises on non-JSON answers etc.
        return JSONResponse({"error": repr(exc)}, status_code=502)
    return JSONResponse(jsonable_encoder(result.dict()))


@app.post("/_debug/register", include_in_schema=False)
async def debug_register(payload: dict = _JSON_BODY):
    """Partner-initiated registration (the library has no client for this).

    {"versions_url": hub versions URL, "token_a": token the hub issued,
     "raw_token"?: bool}. Mirrors the library's receiving side: base64 auth
    header, picks the (last) 2.2.1 version, finds the credentials endpoint,
    POSTs our credentials with a fresh token for the hub, stores the token
    the hub returns as the outbound token.
    """
    token_a = payload["token_a"]
    raw = bool(payload.get("raw_token"))
    steps: list[dict] = []
    versions = await _http("GET", payload["versions_url"], token_a, raw=raw)
    steps.append(versions)
    if versions["status_code"] != 200 or not isinstance(versions["json"], dict):
        return JSONResponse({"ok": False, "steps": steps}, status_code=502)
    details_url = None
    for v in versions["json"].get("data") or []:
        if v.get("version") == "2.2.1":
            details_url = v.get("url")
    if not details_url:
        return JSONResponse({"ok": False, "error": "no 2.2.1", "steps": steps}, status_code=502)
    details = await _http("GET", details_url, token_a, raw=raw)
    steps.append(details)
    data = (details["json"] or {}).get("data") if isinstance(details["json"], dict) else None
    cred_url = None
    for ep in (data or {}).get("endpoints", []):
        if ep.get("identifier") == "credentials":
            cred_url = ep.get("url")
    if not cred_url:
        return JSONResponse(
            {"ok": False, "error": "no credentials endpoint", "steps": steps}, status_code=502
        )
    our_token = _new_token("B")
    STATE["issued_tokens"].append(our_token)
    posted = await _http("POST", cred_url, token_a, json_body=_our_credentials(our_token), raw=raw)
    steps.append(posted)
    body = posted["json"] if isinstance(posted["json"], dict) else {}
    creds = body.get("data") if isinstance(body.get("data"), dict) else None
    if posted["status_code"] != 200 or not creds or "token" not in creds:
        STATE["issued_tokens"].remove(our_token)
        return JSONResponse({"ok": False, "steps": steps}, status_code=502)
    reg = {
        "kind": "OUTBOUND_POST",
        "token_b": creds.get("token"),  # token we use towards the hub
        "url": creds.get("url"),
        "roles": creds.get("roles"),
        "version_details": data,
        "details_url": details_url,
        "token_c": our_token,  # token the hub uses towards us
        "authorized_with": token_a,
        "at": _now(),
    }
    STATE["registration"] = reg
    STATE["registrations"].append(reg)
    STATE["credentials_received"].append(
        {"at": reg["at"], "kind": "OUTBOUND_POST", "credentials": creds}
    )
    STATE["outbound_token"] = creds.get("token")
    return JSONResponse(jsonable_encoder({"ok": True, "registration": reg, "steps": steps}))


_INITIAL_STATE = json.loads(json.dumps(STATE))


@app.post("/_debug/reset", include_in_schema=False)
async def debug_reset():
    """Forget everything (registration, objects, logs, config): as freshly started, with the
    same Token A valid again. Lets one process serve several tests."""
    STATE.clear()
    STATE.update(json.loads(json.dumps(_INITIAL_STATE)))
    return {"reset": True}


@app.post("/_debug/config", include_in_schema=False)
async def debug_config(payload: dict = _JSON_BODY):
    for key, value in payload.items():
        if key == "token_a_valid":
            STATE["token_a_valid"] = bool(value)
        elif key == "outbound_token":
            STATE["outbound_token"] = value
        elif key in STATE["config"]:
            STATE["config"][key] = value
        else:
            return JSONResponse({"error": f"unknown key {key}"}, status_code=400)
    return {"config": STATE["config"], "token_a_valid": STATE["token_a_valid"]}


def main() -> None:
    ocpi_logger.info(
        "extrawest-ocpi %s partner %s/%s on %s (OCPI_HOST=%s, token A=%s)",
        ARGS.role,
        ARGS.country_code,
        ARGS.party_id,
        VERSIONS_URL,
        settings.OCPI_HOST,
        TOKEN_A,
    )
    config = uvicorn.Config(
        app,
        host=ARGS.host,
        port=ARGS.port,
        log_level=ARGS.log_level,
        access_log=True,
        lifespan="off",
    )
    server = uvicorn.Server(config)
    asyncio.run(server.serve())
    if not server.started:
        sys.exit(3)


if __name__ == "__main__":
    main()
