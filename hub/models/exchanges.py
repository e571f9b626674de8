"""The OCPI exchange log: every inbound and outbound call, never with a token (DESIGN §7)."""

from typing import ClassVar

from django.db import models

from hub.modules import ModuleID


class ExchangeDirection(models.TextChoices):
    """Who called whom."""

    INBOUND = "IN", "Partner → hub"
    OUTBOUND = "OUT", "Hub → partner"


class OcpiExchange(models.Model):
    """One OCPI request/response pair as the hub saw it."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    direction = models.CharField(max_length=3, choices=ExchangeDirection.choices)
    method = models.CharField(max_length=8)
    url = models.CharField(max_length=1000)
    module = models.CharField(max_length=64, choices=ModuleID.choices, blank=True, default="")
    platform = models.ForeignKey(
        "hub.Platform", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    from_party = models.CharField(max_length=8, blank=True, default="")
    to_party = models.CharField(max_length=8, blank=True, default="")
    request_id = models.CharField(max_length=255, blank=True, default="")
    correlation_id = models.CharField(max_length=255, blank=True, default="", db_index=True)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    ocpi_status = models.PositiveSmallIntegerField(null=True, blank=True)
    status_message = models.CharField(max_length=255, blank=True, default="")
    duration_ms = models.FloatField(null=True, blank=True)
    error = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        ordering: ClassVar = ["-created_at", "-pk"]
        indexes: ClassVar = [
            models.Index(fields=["platform", "-created_at"], name="exchange_platform_recent"),
            models.Index(fields=["request_id"], name="exchange_request_id"),
        ]

    def __str__(self) -> str:
        return f"{self.direction} {self.method} {self.url} → {self.http_status}/{self.ocpi_status}"
