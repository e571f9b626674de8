"""The outbox (DESIGN §5; saleor EventDelivery/Attempt): a delivery row per (receiver, object)
and an attempt row per try. Celery carries only delivery ids; the schedule lives here."""

from typing import ClassVar

from django.db import models
from django.db.models import Q


class DeliveryStatus(models.TextChoices):
    """Where a delivery stands."""

    PENDING = "PENDING"  # due at next_attempt_at
    IN_FLIGHT = "IN_FLIGHT"  # claimed by a worker until locked_until
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"  # refused by the receiver (4xx, OCPI 2xxx) or retry window passed
    DEAD = "DEAD"  # money (CDRs): retry window passed, kept for staff to resend
    CANCELLED = "CANCELLED"  # by staff, or the receiver went away


class PushDelivery(models.Model):
    """One object to bring to one receiver.

    State, not messages: while a delivery is PENDING, newer updates of the same object fold
    into it (one pending row per receiver and object), and the payload is built at send time
    from the object's current state.
    """

    receiver = models.ForeignKey(
        "hub.Platform", on_delete=models.CASCADE, related_name="deliveries"
    )
    to_country_code = models.CharField(max_length=2, blank=True, default="")
    to_party_id = models.CharField(max_length=3, blank=True, default="")
    from_country_code = models.CharField(max_length=2, blank=True, default="")
    from_party_id = models.CharField(max_length=3, blank=True, default="")
    module = models.CharField(max_length=32)
    object_key = models.CharField(max_length=200)
    operation = models.CharField(max_length=6)  # PUT, PATCH, DELETE, POST
    patch_fields = models.JSONField(default=list, blank=True)
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()
    correlation_id = models.CharField(max_length=255, blank=True, default="")
    last_error = models.CharField(max_length=500, blank=True, default="")
    receipt = models.CharField(
        max_length=500, blank=True, default="", help_text="e.g. the Location a CDR receiver gave"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["-created_at", "-pk"]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["receiver", "module", "object_key"],
                condition=Q(status="PENDING"),
                name="one_pending_delivery_per_object",
            ),
        ]
        indexes: ClassVar = [
            models.Index(fields=["status", "next_attempt_at"], name="delivery_due"),
            models.Index(fields=["module", "object_key"], name="delivery_object"),
            # the admin's date drill-down and newest-first lists
            models.Index(fields=["created_at"], name="delivery_created"),
        ]
        verbose_name_plural = "push deliveries"
        permissions: ClassVar = [
            ("resend_pushdelivery", "Can resend a delivery"),
            ("cancel_pushdelivery", "Can cancel a pending delivery"),
        ]

    def __str__(self) -> str:
        return f"{self.module} {self.object_key} → {self.receiver_id} ({self.status})"


class PushAttempt(models.Model):
    """One try of a delivery, as the receiver answered it."""

    delivery = models.ForeignKey(PushDelivery, on_delete=models.CASCADE, related_name="tries")
    started_at = models.DateTimeField(auto_now_add=True)
    method = models.CharField(max_length=8)
    url = models.CharField(max_length=1000)
    request_id = models.CharField(max_length=255, blank=True, default="")
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    ocpi_status = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.FloatField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering: ClassVar = ["-started_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.method} {self.url} → {self.http_status}/{self.ocpi_status}"
