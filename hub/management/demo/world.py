"""The demo's roaming network on paper: who the partners are and the OCPI 2.2.1 objects they
publish (locations with their EVSEs, tokens, a session and its CDR). Deterministic for a seed,
so two runs show the same network; the timestamps are real (the day is played now)."""

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from partners.ocpi import ocpi_timestamp

JsonObject = dict[str, Any]


@dataclass(frozen=True)
class PartyPlan:
    """One simulated platform: its party, its role, its name, and for a CPO how many
    locations it publishes (for an eMSP, how many tokens)."""

    country_code: str
    party_id: str
    role: str
    name: str
    objects: int

    @property
    def key(self) -> str:
        return f"{self.country_code}*{self.party_id}"

    @property
    def label(self) -> str:
        kind = "CPO" if self.role == "CPO" else "eMSP"
        return f"{kind} {self.name} ({self.key})"


def network(*, quick: bool) -> tuple[list[PartyPlan], list[PartyPlan]]:
    """Three CPOs (120 + 100 + 80 locations; 12 + 10 + 8 with `quick`) and two eMSPs."""
    scale = 10 if quick else 1
    cpos = [
        PartyPlan("NL", "AMS", "CPO", "Amstel Charging", 120 // scale),
        PartyPlan("BE", "BRU", "CPO", "Brabant Volt", 100 // scale),
        PartyPlan("DE", "KLN", "CPO", "Colonia Strom", 80 // scale),
    ]
    emsps = [
        PartyPlan("NL", "EVA", "EMSP", "Evadrive", 20 // (scale // 2 or 1)),
        PartyPlan("DE", "ROA", "EMSP", "Roamly", 15 // (scale // 2 or 1)),
    ]
    return cpos, emsps


_CITIES = [
    ("Amsterdam", "NLD", "Europe/Amsterdam", 52.3676, 4.9041),
    ("Utrecht", "NLD", "Europe/Amsterdam", 52.0907, 5.1214),
    ("Brussel", "BEL", "Europe/Brussels", 50.8503, 4.3517),
    ("Antwerpen", "BEL", "Europe/Brussels", 51.2194, 4.4025),
    ("Köln", "DEU", "Europe/Berlin", 50.9375, 6.9603),
    ("Düsseldorf", "DEU", "Europe/Berlin", 51.2277, 6.7735),
]
_STREETS = ["Stationsplein", "Marktstraat", "Havenweg", "Kerkplein", "Parkallee", "Rue Neuve"]


def connector(connector_id: str, last_updated: str, *, dc: bool) -> JsonObject:
    """A Type 2 socket (AC, 22 kW) or a CCS cable (DC, 150 kW)."""
    if dc:
        return {
            "id": connector_id,
            "standard": "IEC_62196_T2_COMBO",
            "format": "CABLE",
            "power_type": "DC",
            "max_voltage": 920,
            "max_amperage": 200,
            "max_electric_power": 150000,
            "last_updated": last_updated,
        }
    return {
        "id": connector_id,
        "standard": "IEC_62196_T2",
        "format": "SOCKET",
        "power_type": "AC_3_PHASE",
        "max_voltage": 230,
        "max_amperage": 32,
        "last_updated": last_updated,
    }


def locations(cpo: PartyPlan, rng: random.Random, last_updated: str) -> list[JsonObject]:
    """`cpo.objects` public locations, each with 1-4 EVSEs of one connector."""
    result = []
    cities = [c for c in _CITIES if c[1][:2] == cpo.country_code[:2]] or _CITIES
    for n in range(1, cpo.objects + 1):
        city, country, zone, lat, lon = rng.choice(cities)
        # Unique across CPOs, so a command can be routed by its location alone.
        location_id = f"{cpo.party_id}-{n:04d}"
        evses = []
        for k in range(1, rng.randint(1, 4) + 1):
            dc = rng.random() < 0.25
            evses.append(
                {
                    "uid": f"{location_id}-{k}",
                    "evse_id": f"{cpo.country_code}*{cpo.party_id}*E{n:04d}{k}",
                    "status": "AVAILABLE",
                    "capabilities": ["RFID_READER", "REMOTE_START_STOP_CAPABLE"],
                    "connectors": [connector("1", last_updated, dc=dc)],
                    "last_updated": last_updated,
                }
            )
        result.append(
            {
                "country_code": cpo.country_code,
                "party_id": cpo.party_id,
                "id": location_id,
                "publish": True,
                "name": f"{cpo.name} {city} {n}",
                "address": f"{rng.choice(_STREETS)} {rng.randint(1, 120)}",
                "city": city,
                "postal_code": f"{rng.randint(1000, 9999)}",
                "country": country,
                "coordinates": {
                    "latitude": f"{lat + rng.uniform(-0.05, 0.05):.6f}",
                    "longitude": f"{lon + rng.uniform(-0.05, 0.05):.6f}",
                },
                "time_zone": zone,
                "evses": evses,
                "last_updated": last_updated,
            }
        )
    return result


def tokens(emsp: PartyPlan, last_updated: str) -> list[JsonObject]:
    """`emsp.objects` valid tokens: RFID cards (real-time authorization: whitelist NEVER, so
    a charger must ask) and one app user (for remote starts)."""
    result = []
    for n in range(1, emsp.objects + 1):
        app = n == 1
        uid = f"APP{n:05d}" if app else f"{emsp.party_id}{n:07X}"
        result.append(
            {
                "country_code": emsp.country_code,
                "party_id": emsp.party_id,
                "uid": uid,
                "type": "APP_USER" if app else "RFID",
                "contract_id": f"{emsp.country_code}-{emsp.party_id}-C{n:05d}",
                "issuer": emsp.name,
                "valid": True,
                "whitelist": "ALLOWED" if app else "NEVER",
                "last_updated": last_updated,
            }
        )
    return result


def cdr_token(token: JsonObject) -> JsonObject:
    return {k: token[k] for k in ("country_code", "party_id", "uid", "type", "contract_id")}


# The CPO's tariff, embedded in its CDRs: EUR 0.30/kWh and EUR 2.00/h charging, VAT 21%.
_ENERGY_PRICE, _TIME_PRICE, _VAT = Decimal("0.30"), Decimal("2.00"), Decimal("21")


def tariff(cpo: PartyPlan, last_updated: str) -> JsonObject:
    return {
        "country_code": cpo.country_code,
        "party_id": cpo.party_id,
        "id": "STANDARD",
        "currency": "EUR",
        "elements": [
            {
                "price_components": [
                    {"type": "ENERGY", "price": float(_ENERGY_PRICE), "vat": 21.0, "step_size": 1},
                    {"type": "TIME", "price": float(_TIME_PRICE), "vat": 21.0, "step_size": 60},
                ]
            }
        ],
        "last_updated": last_updated,
    }


def money(excl: Decimal) -> JsonObject:
    """An OCPI Price of an amount excl. VAT, with the tariff's VAT added."""
    incl = excl * (1 + _VAT / 100)
    return {"excl_vat": float(excl.quantize(Decimal("0.0001"))), "incl_vat": float(incl)}


def session(
    cpo: PartyPlan,
    session_id: str,
    token: JsonObject,
    location: JsonObject,
    start: datetime,
    last_updated: str,
) -> JsonObject:
    """An ACTIVE session that just started (0 kWh)."""
    evse = location["evses"][0]
    return {
        "country_code": cpo.country_code,
        "party_id": cpo.party_id,
        "id": session_id,
        "start_date_time": ocpi_timestamp(start),
        "kwh": 0,
        "cdr_token": cdr_token(token),
        "auth_method": "COMMAND",
        "location_id": location["id"],
        "evse_uid": evse["uid"],
        "connector_id": evse["connectors"][0]["id"],
        "currency": "EUR",
        "status": "ACTIVE",
        "last_updated": last_updated,
    }


@dataclass(frozen=True)
class Charge:
    """What a finished charge measured: its energy and its charging time."""

    start: datetime
    minutes: int
    kwh: Decimal

    @property
    def end(self) -> datetime:
        return self.start + timedelta(minutes=self.minutes)

    @property
    def hours(self) -> Decimal:
        return Decimal(self.minutes) / 60

    @property
    def energy_cost(self) -> Decimal:
        return self.kwh * _ENERGY_PRICE

    @property
    def time_cost(self) -> Decimal:
        return self.hours * _TIME_PRICE

    @property
    def total_cost(self) -> Decimal:
        return self.energy_cost + self.time_cost


def cdr(
    cpo: PartyPlan,
    cdr_id: str,
    session_id: str | None,
    token: JsonObject,
    location: JsonObject,
    charge: Charge,
    last_updated: str,
) -> JsonObject:
    """The CDR of a charge, priced with the CPO's tariff (the hub's engine checks it)."""
    evse = location["evses"][0]
    plug = evse["connectors"][0]
    data: JsonObject = {
        "country_code": cpo.country_code,
        "party_id": cpo.party_id,
        "id": cdr_id,
        "start_date_time": ocpi_timestamp(charge.start),
        "end_date_time": ocpi_timestamp(charge.end),
        "cdr_token": cdr_token(token),
        "auth_method": "COMMAND" if session_id else "AUTH_REQUEST",
        "cdr_location": {
            "id": location["id"],
            "name": location["name"],
            "address": location["address"],
            "city": location["city"],
            "postal_code": location["postal_code"],
            "country": location["country"],
            "coordinates": location["coordinates"],
            "evse_uid": evse["uid"],
            "evse_id": evse["evse_id"],
            "connector_id": plug["id"],
            "connector_standard": plug["standard"],
            "connector_format": plug["format"],
            "connector_power_type": plug["power_type"],
        },
        "currency": "EUR",
        "tariffs": [tariff(cpo, last_updated)],
        "charging_periods": [
            {
                "start_date_time": ocpi_timestamp(charge.start),
                "dimensions": [
                    {"type": "ENERGY", "volume": float(charge.kwh)},
                    {"type": "TIME", "volume": float(charge.hours)},
                ],
                "tariff_id": "STANDARD",
            }
        ],
        "total_cost": money(charge.total_cost),
        "total_energy": float(charge.kwh),
        "total_energy_cost": money(charge.energy_cost),
        "total_time": float(charge.hours),
        "total_time_cost": money(charge.time_cost),
        "last_updated": last_updated,
    }
    if session_id:
        data["session_id"] = session_id
    return data


def utc_now() -> datetime:
    return datetime.now(tz=UTC)
