"""The outbox (DESIGN §5; saleor EventDelivery/Attempt): a delivery row per (receiver, object)
and an attempt row per try. Celery carries only delivery ids; the schedule lives here."""

from typing import ClassVar

from django.db import models
from django.db.models import Q

from hub.models.choices import spec_choices
from hub.modules import ModuleID


class DeliveryStatus(models.TextChoices):
    """Where a delivery stands."""

    PENDING = "PENDING"  # due at next_attempt_at
    # The receiver is suspended: kept, never sent, its window paused, until reactivation
    # (pending again, in the original order) or unregistration (cancelled or dead letter).
    HELD = "HELD"
    IN_FLIGHT = "IN_FLIGHT"  # claimed by a worker until locked_until
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"  # refused by the receiver (4xx, OCPI 2xxx) or retry window passed
    # money (sessions, CDRs, command results) given up on: retry window passed, attempts
    # exhausted, or the receiver unregistered; kept for staff to resend
    DEAD = "DEAD"
    CANCELLED = "CANCELLED"  # by staff, or the receiver went away


class DeliveryOperation(models.TextChoices):
    """The HTTP method a delivery uses at the receiver."""

    PUT = "PUT"
    PATCH = "PATCH"
    DELETE = "DELETE"
    POST = "POST"


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
    module = models.CharField(max_length=32, choices=ModuleID.choices)
    object_key = models.CharField(max_length=200)
    operation = models.CharField(max_length=6, choices=spec_choices(DeliveryOperation))
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
    # When the receiver's suspension put this delivery on hold. Kept after reactivation until
    # the first attempt since then has ended: while set, the delivery waits for every older
    # released delivery of the same receiver and module (the backlog drains in its order).
    held_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["-created_at", "-pk"]
        constraints: ClassVar = [
            # One open (PENDING or HELD) delivery per object: updates fold into it, and a
            # release from HELD never meets a second PENDING row of the same object.
            models.UniqueConstraint(
                fields=["receiver", "module", "object_key"],
                condition=Q(status__in=["PENDING", "HELD"]),
                name="one_open_delivery_per_object",
            ),
        ]
        indexes: ClassVar = [
            models.Index(fields=["status", "next_attempt_at"], name="delivery_due"),
            models.Index(fields=["module", "object_key"], name="delivery_object"),
            # the admin's date drill-down and newest-first lists
            models.Index(fields=["created_at"], name="delivery_created"),
            # per-receiver questions at claim: how many in flight (cap), what is held/released
            models.Index(fields=["receiver", "status"], name="delivery_receiver_status"),
            # A receiver's slots taken (live leases and reservations) and its next waiting
            # deliveries, read at every hand-out: ranges of these, not a scan of its backlog
            # (a slow eMSP's thousands of PENDING rows made each write to it cost as many).
            models.Index(
                fields=["receiver", "locked_until"],
                condition=Q(locked_until__isnull=False),
                name="delivery_slots",
            ),
            models.Index(
                fields=["receiver", "next_attempt_at", "id"],
                condition=Q(status="PENDING"),
                name="delivery_waiting",
            ),
            # the admin's correlation page and its search by correlation id
            models.Index(fields=["correlation_id"], name="delivery_correlation"),
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


class CircuitState(models.TextChoices):
    """A receiver's circuit breaker (hub.services.delivery.circuit)."""

    CLOSED = "CLOSED"  # deliveries are sent
    OPEN = "OPEN"  # too many transport failures in a row: deliveries wait until retry_at
    HALF_OPEN = "HALF_OPEN"  # one probe delivery is being sent; the others wait for its outcome


class ReceiverCircuit(models.Model):
    """Per receiver: the circuit breaker's state, kept in the database so that every worker
    process sees the same one and a restart forgets nothing."""

    receiver = models.OneToOneField(
        "hub.Platform", on_delete=models.CASCADE, related_name="circuit"
    )
    state = models.CharField(
        max_length=10, choices=CircuitState.choices, default=CircuitState.CLOSED
    )
    consecutive_failures = models.PositiveIntegerField(default=0)
    opened_at = models.DateTimeField(null=True, blank=True)
    # OPEN: when a half-open probe may be tried; HALF_OPEN: when the probe's lease ends (a
    # probe whose worker died is taken over after that).
    retry_at = models.DateTimeField(null=True, blank=True)
    probe_delivery_id = models.BigIntegerField(null=True, blank=True)
    last_failure = models.CharField(max_length=500, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"circuit of {self.receiver_id}: {self.state}"
