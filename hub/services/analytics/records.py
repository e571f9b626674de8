"""What the hub writes down for analytics while it routes: the outcome of every real-time
authorization (the EVSE status history is written by `hub.services.locations`).

The wire (`hub.ocpi`) knows nothing of this: the routing service hands over what it got back,
a relayed envelope or the `OcpiError` it raised, and this module classifies it.
"""

import time
from typing import Any

from hub.models import AuthorizationOutcome, AuthorizationRecord
from hub.models.spec_enums import AllowedType
from hub.ocpi.exceptions import ForwardTimeoutError, OcpiError, UnknownTokenError
from hub.ocpi.routing import PartyRef
from hub.ocpi.status import OcpiStatus

__all__ = ["authorization_answered", "authorization_failed"]


def _elapsed_ms(started: float) -> float:
    return (time.monotonic() - started) * 1000


def _record(
    *,
    cpo: PartyRef | None,
    emsp: PartyRef | None,
    outcome: str,
    started: float,
    allowed: str = "",
    ocpi_status: int | None = None,
) -> AuthorizationRecord:
    return AuthorizationRecord.objects.create(
        cpo_country_code=cpo.country_code if cpo else "",
        cpo_party_id=cpo.party_id if cpo else "",
        emsp_country_code=emsp.country_code if emsp else "",
        emsp_party_id=emsp.party_id if emsp else "",
        outcome=outcome,
        allowed=allowed,
        ocpi_status=ocpi_status,
        duration_ms=_elapsed_ms(started),
    )


def authorization_answered(
    *,
    cpo: PartyRef | None,
    emsp: PartyRef | None,
    http_status: int,
    body: dict[str, Any] | None,
    started: float,
) -> AuthorizationRecord:
    """Record the eMSP's relayed answer: its AuthorizationInfo's `allowed` (mod_tokens), an
    unknown token (HTTP 404 / 2004), or another OCPI error it sent (REFUSED). A 1000 without
    a valid `allowed` is no usable answer: FAILED."""
    status = body.get("status_code") if isinstance(body, dict) else None
    data = body.get("data") if isinstance(body, dict) else None
    allowed = data.get("allowed") if isinstance(data, dict) else None
    ocpi_status = status if isinstance(status, int) and not isinstance(status, bool) else None
    if ocpi_status == OcpiStatus.UNKNOWN_TOKEN or (http_status == 404 and ocpi_status != 1000):
        outcome = AuthorizationOutcome.UNKNOWN_TOKEN
    elif ocpi_status == OcpiStatus.SUCCESS and allowed in AllowedType.values:
        return _record(
            cpo=cpo,
            emsp=emsp,
            outcome=AuthorizationOutcome.ANSWERED,
            started=started,
            allowed=str(allowed),
            ocpi_status=ocpi_status,
        )
    elif ocpi_status == OcpiStatus.SUCCESS:
        outcome = AuthorizationOutcome.FAILED
    else:
        outcome = AuthorizationOutcome.REFUSED
    return _record(cpo=cpo, emsp=emsp, outcome=outcome, started=started, ocpi_status=ocpi_status)


def authorization_failed(
    *, cpo: PartyRef | None, emsp: PartyRef | None, error: OcpiError, started: float
) -> AuthorizationRecord:
    """Record an authorization that got no answer from the eMSP: the hub's timeout (4002),
    an unknown token (the eMSP's bare 404, raised as 2004), or any other error on the way."""
    if isinstance(error, ForwardTimeoutError):
        outcome = AuthorizationOutcome.TIMEOUT
    elif isinstance(error, UnknownTokenError):
        outcome = AuthorizationOutcome.UNKNOWN_TOKEN
    else:
        outcome = AuthorizationOutcome.FAILED
    return _record(
        cpo=cpo, emsp=emsp, outcome=outcome, started=started, ocpi_status=int(error.ocpi_status)
    )
