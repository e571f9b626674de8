"""Asynchronous requests routed through the hub (2.2.1 mod_commands, mod_charging_profiles).

The eMSP's `response_url` is replaced by a hub URL naming one of these rows; the CPO posts its
result there and the hub relays it, once, to the eMSP's original URL (DESIGN §3; OCN node's
"proxy resource")."""

import uuid
from typing import ClassVar

from django.db import models

from hub.models.choices import spec_choices
from hub.models.spec_enums import CommandType


class AsyncKind(models.TextChoices):
    COMMAND = "COMMAND"
    CHARGING_PROFILE = "CHARGING_PROFILE"


class AsyncState(models.TextChoices):
    """Where the exchange stands."""

    FORWARDED = "FORWARDED"  # request sent to the CPO, synchronous answer pending
    WAITING = "WAITING"  # CPO accepted; waiting for its result on the hub URL
    REFUSED = "REFUSED"  # the CPO's synchronous answer was not ACCEPTED: no result will come
    RESULT_RECEIVED = "RESULT_RECEIVED"  # result in, relay to the eMSP queued
    TIMED_OUT = "TIMED_OUT"  # no result in time: the hub sent the eMSP a TIMEOUT result
    FAILED = "FAILED"  # forwarding failed


# What a request asks: a command (its CommandType) or a charging-profile operation.
ASYNC_OPERATION_CHOICES = [
    *spec_choices(CommandType),
    ("GET", "GET"),
    ("SET", "SET"),
    ("CLEAR", "CLEAR"),
]


class AsyncRequest(models.Model):
    """One command or charging-profile request and the proxying of its `response_url`."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=16, choices=AsyncKind.choices)
    operation = models.CharField(max_length=24, choices=ASYNC_OPERATION_CHOICES)
    requester = models.ForeignKey("hub.Platform", on_delete=models.CASCADE, related_name="+")
    requester_country_code = models.CharField(max_length=2)
    requester_party_id = models.CharField(max_length=3)
    receiver = models.ForeignKey(
        "hub.Platform", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    receiver_country_code = models.CharField(max_length=2, blank=True, default="")
    receiver_party_id = models.CharField(max_length=3, blank=True, default="")
    response_url = models.URLField(max_length=255)
    location_id = models.CharField(max_length=36, blank=True, default="")
    session_id = models.CharField(max_length=36, blank=True, default="")
    request_body = models.JSONField(default=dict)
    response_body = models.JSONField(null=True, blank=True)
    result_body = models.JSONField(null=True, blank=True)
    # Results the CPO posted after the first one: a RESERVE_NOW's CANCELED_RESERVATION (2.2.1
    # mod_commands, "Reservation canceled by the CPO": posted to the same response_url).
    later_results = models.JSONField(default=list, blank=True)
    state = models.CharField(max_length=16, choices=AsyncState.choices)
    timeout_s = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField(null=True, blank=True)
    result_received_at = models.DateTimeField(null=True, blank=True)
    correlation_id = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar = ["-created_at"]
        indexes: ClassVar = [
            models.Index(fields=["state", "expires_at"], name="async_due"),
            models.Index(fields=["created_at"], name="async_created"),
            # the admin's correlation page
            models.Index(fields=["correlation_id"], name="async_correlation"),
        ]
        verbose_name = "command / charging-profile request"
        verbose_name_plural = "commands & charging profiles"

    def __str__(self) -> str:
        return f"{self.kind} {self.operation} {self.id} ({self.state})"
