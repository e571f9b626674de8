"""Sessions as the hub stores them (2.2.1 mod_sessions): the CPO's object as received, keyed
by (country_code, party_id, id), with the `cdr_token` owner that routes it."""

from typing import ClassVar

from django.db import models

from hub.models.base import ClientOwnedObject
from hub.models.choices import spec_choices
from hub.models.spec_enums import SessionStatus


class Session(ClientOwnedObject):
    """A CPO's charging session. Never broadcast: it goes to the eMSP owning `cdr_token`."""

    session_id = models.CharField(max_length=36)
    status = models.CharField(max_length=12, choices=spec_choices(SessionStatus))
    token_country_code = models.CharField(max_length=2)
    token_party_id = models.CharField(max_length=3)
    location_id = models.CharField(max_length=36, blank=True, default="")
    kwh = models.DecimalField(max_digits=14, decimal_places=4, default=0)
    start_date_time = models.DateTimeField()
    end_date_time = models.DateTimeField(null=True, blank=True)
    # A finding, not a routing input: the eMSP(s) that pushed this token themselves ("CC*PID,
    # …") when the CPO's cdr_token names another owner (hub.services.routing.token_index);
    # "" if none.
    token_owner_finding = models.CharField(
        max_length=100,
        blank=True,
        default="",
        help_text="The token's issuer by the eMSP's own token pushes, when cdr_token names "
        "another party.",
    )
    # The X-Correlation-ID of the PUT or PATCH that last changed it (the admin's correlation
    # page: that write's exchanges and its delivery to the eMSP). Earlier writes' ids are on
    # the session's deliveries.
    correlation_id = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(ClientOwnedObject.Meta):
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["country_code", "party_id", "session_id"], name="uniq_session"
            ),
        ]
        indexes: ClassVar = [
            models.Index(fields=["last_updated", "id"], name="session_page"),
            models.Index(
                fields=["token_country_code", "token_party_id", "last_updated"],
                name="session_by_emsp",
            ),
            models.Index(fields=["start_date_time"], name="session_start"),
            models.Index(fields=["correlation_id"], name="session_correlation"),
        ]

    def __str__(self) -> str:
        return f"{self.country_code}*{self.party_id} {self.data.get('id', self.session_id)}"
