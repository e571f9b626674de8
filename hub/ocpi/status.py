"""OCPI status codes (2.2.1 status_codes.asciidoc, plus the hub range 4xxx)."""

from enum import IntEnum


class OcpiStatus(IntEnum):
    """The `status_code` of an OCPI response envelope.

    2.2.1 status_codes.asciidoc: 1xxx success, 2xxx client errors, 3xxx server errors and
    4xxx hub errors (4000 is new in 2.2.1).
    """

    SUCCESS = 1000

    CLIENT_ERROR = 2000
    INVALID_OR_MISSING_PARAMETERS = 2001
    NOT_ENOUGH_INFORMATION = 2002
    UNKNOWN_LOCATION = 2003
    UNKNOWN_TOKEN = 2004

    SERVER_ERROR = 3000
    UNABLE_TO_USE_CLIENT_API = 3001
    UNSUPPORTED_VERSION = 3002
    NO_MATCHING_ENDPOINTS = 3003

    HUB_ERROR = 4000
    UNKNOWN_RECEIVER = 4001
    TIMEOUT_ON_FORWARDED_REQUEST = 4002
    CONNECTION_PROBLEM = 4003

    @classmethod
    def is_valid(cls, code: object) -> bool:
        """True for the standard codes and the custom ranges 19xx, 29xx, 39xx and 49xx."""
        if not isinstance(code, int) or isinstance(code, bool):
            return False
        return code in cls._value2member_map_ or (code // 100) in (19, 29, 39, 49)
