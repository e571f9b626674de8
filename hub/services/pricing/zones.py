"""The time zone a CDR is priced in: tariff restrictions are in the Location's local time
(OCPI 2.2.1 mod_tariffs "TariffRestrictions class"), but a CdrLocation has no `time_zone`,
so it comes from the hub's stored Location, else from the country when it has only one.
"""

from typing import Any

from hub.models import Location
from hub.services.pricing.restrictions import PricingInputError

# ISO 3166 alpha-3 -> the single IANA zone of countries that have one (mainland Europe and
# neighbours, where most OCPI CPOs are). Countries with several zones are refused below.
SINGLE_ZONE = {
    "AUT": "Europe/Vienna",
    "BEL": "Europe/Brussels",
    "BGR": "Europe/Sofia",
    "CHE": "Europe/Zurich",
    "CZE": "Europe/Prague",
    "DEU": "Europe/Berlin",
    "DNK": "Europe/Copenhagen",
    "EST": "Europe/Tallinn",
    "FIN": "Europe/Helsinki",
    "FRA": "Europe/Paris",
    "GBR": "Europe/London",
    "GRC": "Europe/Athens",
    "HRV": "Europe/Zagreb",
    "HUN": "Europe/Budapest",
    "IRL": "Europe/Dublin",
    "ISL": "Atlantic/Reykjavik",
    "ITA": "Europe/Rome",
    "LIE": "Europe/Vaduz",
    "LTU": "Europe/Vilnius",
    "LUX": "Europe/Luxembourg",
    "LVA": "Europe/Riga",
    "MLT": "Europe/Malta",
    "NLD": "Europe/Amsterdam",
    "NOR": "Europe/Oslo",
    "POL": "Europe/Warsaw",
    "ROU": "Europe/Bucharest",
    "SRB": "Europe/Belgrade",
    "SVK": "Europe/Bratislava",
    "SVN": "Europe/Ljubljana",
    "SWE": "Europe/Stockholm",
}
SEVERAL_ZONES = {
    "AUS": "Australia/Sydney, Australia/Perth, ...",
    "BRA": "America/Sao_Paulo, America/Manaus, ...",
    "CAN": "America/Toronto, America/Vancouver, ...",
    "CYP": "Asia/Nicosia, Asia/Famagusta",
    "ESP": "Europe/Madrid, Atlantic/Canary",
    "MEX": "America/Mexico_City, America/Tijuana, ...",
    "PRT": "Europe/Lisbon, Atlantic/Azores, Atlantic/Madeira",
    "RUS": "Europe/Moscow, Asia/Yekaterinburg, ...",
    "USA": "America/New_York, America/Chicago, America/Denver, America/Los_Angeles, ...",
}


def country_time_zone(alpha3: str) -> str | None:
    """The zone of a country with a single one; None when unknown; PricingInputError when the
    country has several (guessing would misprice time-of-day restrictions)."""
    country = alpha3.upper()
    if country in SEVERAL_ZONES:
        raise PricingInputError(
            f"country {country} has several time zones ({SEVERAL_ZONES[country]})"
        )
    return SINGLE_ZONE.get(country)


def cdr_time_zone(cdr: dict[str, Any]) -> str | None:
    """The stored Location's `time_zone` (cdr_location.id within the CDR's country_code and
    party_id when given), else the country's single zone; None when neither is known."""
    location = cdr.get("cdr_location")
    if not isinstance(location, dict):
        location = {}
    if location.get("id"):
        rows = Location.objects.filter(location_id__iexact=str(location["id"]))
        if cdr.get("country_code") and cdr.get("party_id"):
            rows = rows.filter(
                country_code__iexact=cdr["country_code"], party_id__iexact=cdr["party_id"]
            )
        for row in rows:
            zone = (row.data or {}).get("time_zone")
            if isinstance(zone, str) and zone:
                return zone
    return country_time_zone(str(location.get("country") or ""))
