"""Factories for the OCPI objects the hub stores: locations (and their EVSE read model),
tariffs, tokens (and token owners), sessions and CDRs.

Each builds the object as the CPO or eMSP spelled it (`data`) and the columns the hub's
services derive from it, keys upper-cased as the services store them (2.2.1 CiString). The
`Params` are the object's fields as a partner would send them; pass a model column directly to
write something the services would not."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from hub.models import (
    Cdr,
    Evse,
    Location,
    PriceCheck,
    Session,
    Tariff,
    Token,
    TokenOwner,
    TokenSource,
)
from tests.factories.base import HubModelFactory

OCPI_LAST_UPDATED = "2025-01-01T10:00:00Z"
CDR_START = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)


def _upper(kwargs: dict[str, Any], *keys: str) -> dict[str, Any]:
    """Upper-case the key columns, as the services store CiString keys."""
    for key in keys:
        if isinstance(kwargs.get(key), str):
            kwargs[key] = kwargs[key].upper()
    return kwargs


class EvseFactory(DjangoModelFactory[Evse]):
    class Meta:
        model = Evse

    location = factory.SubFactory(
        "tests.factories.objects.LocationFactory",
        location_id=factory.Sequence(lambda n: f"EvseLoc{n}"),
    )
    uid = "1"
    evse_id = factory.LazyAttribute(lambda o: f"NL*ABC*E{o.uid}")
    status = "AVAILABLE"
    last_updated = factory.LazyFunction(timezone.now)


def evse(uid: str, status: str, evse_id: str = "") -> dict[str, Any]:
    """An EVSE as a CPO sends it inside a location."""
    return {
        "uid": uid,
        "evse_id": evse_id or f"NL*ABC*E{uid}",
        "status": status,
        "connectors": [],
        "last_updated": OCPI_LAST_UPDATED,
    }


class LocationFactory(DjangoModelFactory[Location]):
    """A stored location and its EVSE read model (one `Evse` row per EVSE in `data`), written
    directly as `location_upsert` would."""

    class Meta:
        model = Location
        skip_postgeneration_save = True

    class Params:
        party = ("NL", "ABC")
        evses: list[dict[str, Any]] = []

    country_code = factory.LazyAttribute(lambda o: o.party[0])
    party_id = factory.LazyAttribute(lambda o: o.party[1])
    location_id = "Loc1"
    owner = None
    publish = True
    name = "Central Station"
    city = "Amsterdam"
    country = "NLD"
    last_updated = factory.LazyFunction(timezone.now)
    data = factory.LazyAttribute(
        lambda o: {
            "country_code": o.party[0],
            "party_id": o.party[1],
            "id": o.location_id,
            "publish": o.publish,
            "name": o.name,
            "address": "Stationsplein 1",
            "city": o.city,
            "country": o.country,
            "coordinates": {"latitude": "52.378", "longitude": "4.900"},
            "time_zone": "Europe/Amsterdam",
            "evses": list(o.evses),
            "last_updated": OCPI_LAST_UPDATED,
        }
    )

    @classmethod
    def _adjust_kwargs(cls, **kwargs: Any) -> dict[str, Any]:
        return _upper(kwargs, "location_id")

    @factory.post_generation
    def evse_rows(obj: Location, create: bool, extracted: Any, **kwargs: Any) -> None:  # noqa: N805
        """The EVSE read model, as the location service keeps it."""
        if not create:
            return
        for item in obj.data.get("evses", []):
            EvseFactory(
                location=obj,
                uid=item["uid"].upper(),
                evse_id=item["evse_id"],
                status=item["status"],
            )


class TariffFactory(HubModelFactory[Tariff]):
    """A stored tariff (an energy and a time component), written as `tariff_upsert` would."""

    class Meta:
        model = Tariff

    country_code = "NL"
    party_id = "ABC"
    tariff_id = "T1"
    owner = None
    currency = "EUR"
    last_updated = factory.LazyFunction(timezone.now)
    data = factory.LazyAttribute(
        lambda o: {
            "country_code": o.country_code,
            "party_id": o.party_id,
            "id": o.tariff_id,
            "currency": o.currency,
            "elements": [
                {"price_components": [{"type": "ENERGY", "price": "0.30", "step_size": 1}]},
                {"price_components": [{"type": "TIME", "price": "2.00", "step_size": 60}]},
            ],
            "last_updated": OCPI_LAST_UPDATED,
        }
    )

    @classmethod
    def _adjust_kwargs(cls, **kwargs: Any) -> dict[str, Any]:
        return _upper(kwargs, "tariff_id")


class TokenFactory(DjangoModelFactory[Token]):
    """A stored token, written as `token_write` would (keys upper-cased)."""

    class Meta:
        model = Token

    class Params:
        party = ("DE", "EMS")
        visual_number = "DF000-2001-8999"
        issuer = "Blue Mobility"
        whitelist = "ALLOWED"

    country_code = factory.LazyAttribute(lambda o: o.party[0])
    party_id = factory.LazyAttribute(lambda o: o.party[1])
    uid = "abc123"
    type = "RFID"
    owner = None
    contract_id = "DE-EMS-C00000001-A"
    valid = True
    last_updated = factory.LazyFunction(timezone.now)
    data = factory.LazyAttribute(
        lambda o: {
            "country_code": o.party[0],
            "party_id": o.party[1],
            "uid": o.uid,
            "type": o.type,
            "contract_id": o.contract_id,
            "visual_number": o.visual_number,
            "issuer": o.issuer,
            "valid": o.valid,
            "whitelist": o.whitelist,
            "last_updated": OCPI_LAST_UPDATED,
        }
    )

    @classmethod
    def _adjust_kwargs(cls, **kwargs: Any) -> dict[str, Any]:
        return _upper(kwargs, "uid", "contract_id")


class TokenOwnerFactory(DjangoModelFactory[TokenOwner]):
    """Who issued a token uid, as the hub learnt it (from the eMSP's token pushes by default)."""

    class Meta:
        model = TokenOwner

    class Params:
        party = ("DE", "EMS")

    uid = "ABC123"
    type = "RFID"
    country_code = factory.LazyAttribute(lambda o: o.party[0])
    party_id = factory.LazyAttribute(lambda o: o.party[1])
    source = TokenSource.TOKENS

    @classmethod
    def _adjust_kwargs(cls, **kwargs: Any) -> dict[str, Any]:
        return _upper(kwargs, "uid")


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class SessionFactory(DjangoModelFactory[Session]):
    """A stored session, written as the sessions service would. `kwh` may be given as the
    CPO's number in text ("12.5")."""

    class Meta:
        model = Session

    class Params:
        party = ("NL", "ABC")
        emsp = ("DE", "EMS")
        uid = "abc123"
        contract_id = "DE-EMS-C00000001-A"

    country_code = factory.LazyAttribute(lambda o: o.party[0])
    party_id = factory.LazyAttribute(lambda o: o.party[1])
    session_id = "Sess1"
    owner = None
    status = "ACTIVE"
    token_country_code = factory.LazyAttribute(lambda o: o.emsp[0])
    token_party_id = factory.LazyAttribute(lambda o: o.emsp[1])
    location_id = "Loc1"
    kwh = "12.5"
    start_date_time = factory.LazyFunction(lambda: timezone.now() - timedelta(hours=1))
    last_updated = factory.LazyFunction(timezone.now)
    data = factory.LazyAttribute(
        lambda o: {
            "country_code": o.party[0],
            "party_id": o.party[1],
            "id": o.session_id,
            "start_date_time": _iso(o.start_date_time),
            "kwh": float(o.kwh),
            "cdr_token": {
                "country_code": o.emsp[0],
                "party_id": o.emsp[1],
                "uid": o.uid,
                "type": "RFID",
                "contract_id": o.contract_id,
            },
            "auth_method": "WHITELIST",
            "location_id": o.location_id,
            "evse_uid": "E1",
            "connector_id": "1",
            "currency": "EUR",
            "charging_periods": [
                {
                    "start_date_time": _iso(o.start_date_time),
                    "dimensions": [{"type": "ENERGY", "volume": float(o.kwh)}],
                    "tariff_id": "T-PERIOD-7",
                }
            ],
            "status": o.status,
            "last_updated": OCPI_LAST_UPDATED,
        }
    )

    @classmethod
    def _adjust_kwargs(cls, **kwargs: Any) -> dict[str, Any]:
        if isinstance(kwargs.get("kwh"), str):
            kwargs["kwh"] = Decimal(kwargs["kwh"])
        return _upper(kwargs, "session_id", "location_id")


class CdrFactory(HubModelFactory[Cdr]):
    """A stored CDR (one hour from `start`, 1 h charged), written as the CDR service would.
    `excl`, `incl` and `kwh` are the CPO's amounts in text; `incl=None` leaves the VAT out;
    a `received_at` is written after the insert (it is `auto_now_add`)."""

    _backdatable = ("received_at",)

    class Meta:
        model = Cdr

    class Params:
        party = ("NL", "ABC")
        emsp = ("DE", "EMS")
        uid = "uid-1"
        excl = "10.00"
        incl: str | None = "12.10"
        kwh = "20.5"
        start = CDR_START
        # the CDR's cdr_location.id (left out of `data` when None)
        location_id: str | None = None

    country_code = factory.LazyAttribute(lambda o: o.party[0])
    party_id = factory.LazyAttribute(lambda o: o.party[1])
    cdr_id = "Cdr1"
    owner = None
    token_country_code = factory.LazyAttribute(lambda o: o.emsp[0])
    token_party_id = factory.LazyAttribute(lambda o: o.emsp[1])
    token_uid = factory.LazyAttribute(lambda o: o.uid.upper())
    token_type = "RFID"
    session_id = "Sess1"
    currency = "EUR"
    total_cost_excl_vat = factory.LazyAttribute(lambda o: Decimal(o.excl))
    total_cost_incl_vat = factory.LazyAttribute(
        lambda o: None if o.incl is None else Decimal(o.incl)
    )
    total_energy = factory.LazyAttribute(lambda o: Decimal(o.kwh))
    total_time = Decimal(1)
    start_date_time = factory.SelfAttribute("start")
    end_date_time = factory.LazyAttribute(lambda o: o.start + timedelta(hours=1))
    last_updated = factory.SelfAttribute("end_date_time")
    credit = False
    credit_of = None
    credit_reference_id = factory.LazyAttribute(lambda o: o.credit_of.cdr_id if o.credit_of else "")
    findings = factory.LazyFunction(list)
    price_check = PriceCheck.UNCHECKED
    computed = None
    data = factory.LazyAttribute(
        lambda o: {
            "country_code": o.party[0],
            "party_id": o.party[1],
            "id": o.cdr_id,
            "session_id": o.session_id,
            "cdr_token": {
                "country_code": o.emsp[0],
                "party_id": o.emsp[1],
                "uid": o.uid,
                "type": "RFID",
                "contract_id": f"{o.emsp[0]}-{o.emsp[1]}-C1",
            },
            "currency": "EUR",
            "total_cost": {
                "excl_vat": float(o.excl),
                "incl_vat": None if o.incl is None else float(o.incl),
            },
            "total_energy": float(o.kwh),
            "total_time": 1.0,
            "start_date_time": o.start.isoformat(),
            "end_date_time": o.end_date_time.isoformat(),
            "last_updated": o.end_date_time.isoformat(),
            "credit": o.credit,
            **({"cdr_location": {"id": o.location_id}} if o.location_id else {}),
        }
    )

    @classmethod
    def _adjust_kwargs(cls, **kwargs: Any) -> dict[str, Any]:
        return _upper(kwargs, "cdr_id", "session_id", "credit_reference_id")
