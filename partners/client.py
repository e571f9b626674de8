"""How a simulated partner calls the hub: one recorded httpx call per request (a fresh client,
no proxies), OCPI calls that must answer a success envelope, version negotiation, and
`request` for tests that call the hub as this partner. `PartnerClient` is that part of
`SimulatedPartner`."""

from __future__ import annotations

import contextlib
import copy
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, cast

import httpx

from partners.ocpi import (
    JsonObject,
    OcpiCallError,
    TokenEncoding,
    encode_token,
    version_key,
)
from partners.state import PartnerState
from partners.store import SentRequest


class PartnerClient(PartnerState):
    """Outbound calls of a `SimulatedPartner` (a mixin over its state)."""

    # ---- outbound calls ----------------------------------------------------------------

    def _auth_header(self, token: str, encoding: TokenEncoding | None = None) -> str:
        return encode_token(token, encoding or self.token_encoding)

    def _send(
        self,
        method: str,
        url: str,
        *,
        token: str | None,
        json: Any = None,
        raw_body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        encoding: TokenEncoding | None = None,
        timeout: float | None = None,
        follow_redirects: bool = False,
    ) -> httpx.Response:
        """One recorded outbound call.

        A fresh client per call keeps threads independent, and `trust_env=False` keeps proxy
        variables from routing loopback traffic elsewhere.
        """
        out = httpx.Headers(
            {
                "X-Request-ID": str(uuid.uuid4()),
                "X-Correlation-ID": str(uuid.uuid4()),
                "Accept": "application/json",
            }
        )
        if token is not None:
            out["Authorization"] = self._auth_header(token, encoding)
        out.update(dict(headers or {}))
        record = SentRequest(
            method=method.upper(),
            url=url,
            headers=httpx.Headers(out),
            json=copy.deepcopy(json),
            time=datetime.now(tz=UTC),
        )
        with self._lock:
            self._sent.append(record)
        kwargs: dict[str, Any] = {}
        if raw_body is not None:
            kwargs["content"] = raw_body
        elif json is not None:
            kwargs["json"] = json
        try:
            with httpx.Client(
                timeout=timeout or self.client_timeout,
                trust_env=False,
                follow_redirects=follow_redirects,
            ) as client:
                response = client.request(method.upper(), url, headers=out, params=params, **kwargs)
        except httpx.HTTPError as exc:
            record.error = f"{type(exc).__name__}: {exc}"
            raise
        record.status = response.status_code
        with contextlib.suppress(ValueError):
            record.response_json = response.json()
        return response

    def _call_data(
        self,
        method: str,
        url: str,
        *,
        token: str | None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """An OCPI call whose answer must be HTTP 2xx with a 1xxx envelope; returns `data`."""
        try:
            response = self._send(method, url, token=token, json=json, headers=headers)
        except httpx.HTTPError as exc:
            raise OcpiCallError(
                f"no answer: {type(exc).__name__}: {exc}", method=method, url=url
            ) from exc
        body_text = response.text
        try:
            body = response.json()
        except ValueError:
            body = None
        env = body if isinstance(body, dict) else None
        if not response.is_success:
            raise OcpiCallError(
                "HTTP error",
                method=method,
                url=url,
                http_status=response.status_code,
                envelope=env,
                body=body_text,
            )
        code = env.get("status_code") if env is not None else None
        if env is None or not isinstance(code, int) or code // 1000 != 1:
            raise OcpiCallError(
                "not a success envelope",
                method=method,
                url=url,
                http_status=response.status_code,
                envelope=env,
                body=body_text,
            )
        return env.get("data")

    def _fetch_endpoints(
        self,
        versions_url: str,
        token: str,
        acceptable: Sequence[str],
        headers: Mapping[str, str] | None = None,
    ) -> tuple[str, list[JsonObject]]:
        """GET versions, pick the highest acceptable version, GET its details.

        Raises OcpiCallError for transport/envelope failures and LookupError when no version
        is acceptable (the caller maps these to 3001 and 3002).
        """
        listed = self._call_data("GET", versions_url, token=token, headers=headers)
        if not isinstance(listed, list):
            raise OcpiCallError("versions data is not a list", method="GET", url=versions_url)
        offered = {
            str(v.get("version")): str(v.get("url"))
            for v in listed
            if isinstance(v, dict) and v.get("url")
        }
        mutual = sorted(set(offered) & set(acceptable), key=version_key)
        if not mutual:
            raise LookupError(f"no mutual version: offered {sorted(offered)}")
        version = mutual[-1]
        details = self._call_data("GET", offered[version], token=token, headers=headers)
        if not isinstance(details, dict) or not isinstance(details.get("endpoints"), list):
            raise OcpiCallError(
                "version details without endpoints", method="GET", url=offered[version]
            )
        endpoints = [dict(e) for e in details["endpoints"] if isinstance(e, dict)]
        return version, endpoints

    def request(
        self,
        method: str,
        url_or_module: str,
        *,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        token: str | None = None,
        raw_body: bytes | None = None,
        params: Mapping[str, Any] | None = None,
        role: str | None = None,
        send_token: bool = True,
        token_encoding: TokenEncoding | None = None,
        from_party: tuple[str, str] | None = None,
        to_party: tuple[str, str] | None = None,
        timeout: float | None = None,
        follow_redirects: bool = False,
    ) -> httpx.Response:
        """Call the hub as this partner and return the raw response (no status checks).

        `url_or_module` is an absolute URL, or a module identifier optionally followed by
        path segments ("locations/NL/SIM/LOC1") resolved through the hub's endpoints. The
        token is `hub_token` unless `token` is given; `send_token=False` sends none.
        `from_party`/`to_party` add the 2.2.1 routing headers; explicit `headers` win.
        """
        url = self._resolve(url_or_module, role)
        out: dict[str, str] = {}
        for prefix, party in (("OCPI-from", from_party), ("OCPI-to", to_party)):
            if party is not None:
                out[f"{prefix}-country-code"], out[f"{prefix}-party-id"] = party
        out.update(dict(headers or {}))
        chosen = (token if token is not None else self.hub_token) if send_token else None
        return self._send(
            method,
            url,
            token=chosen,
            json=json,
            raw_body=raw_body,
            headers=out,
            params=params,
            encoding=token_encoding,
            timeout=timeout,
            follow_redirects=follow_redirects,
        )

    def _resolve(self, url_or_module: str, role: str | None) -> str:
        if url_or_module.startswith(("http://", "https://")):
            return url_or_module
        identifier, _, rest = url_or_module.strip("/").partition("/")
        base = self.hub_endpoint(identifier, role)
        if base is None:
            raise LookupError(f"the hub offered no {identifier!r} endpoint: {self.hub_endpoints}")
        return f"{base.rstrip('/')}/{rest}" if rest else base

    @staticmethod
    def _endpoint_url(endpoints: Sequence[Mapping[str, Any]], identifier: str) -> str | None:
        for endpoint in endpoints:
            if endpoint.get("identifier") == identifier and endpoint.get("url"):
                return str(endpoint["url"])
        return None

    def _require_hub_credentials_url(self) -> str:
        with self._lock:
            url = self._endpoint_url(self._hub_endpoints, "credentials")
        if url is None:
            raise RuntimeError(f"{self.name} knows no hub credentials endpoint (not registered?)")
        return url

    @staticmethod
    def _check_credentials(data: Any, method: str, url: str) -> str:
        if not isinstance(data, dict) or not isinstance(data.get("token"), str):
            raise OcpiCallError(
                "answer data is not a Credentials object", method=method, url=url, body=repr(data)
            )
        return cast(str, data["token"])
