"""Pull synchronisation progress: where the hub stands with each CPO's SENDER lists
(2.2.1 transport_and_format, "Offline behaviour": a receiver re-syncs by GET with date_from)."""

from typing import ClassVar

from django.db import models

from hub.modules import ModuleID


class SyncState(models.Model):
    """One (platform, party, module) pull: when it last ran, the start of the last successful
    run (the next incremental run's `date_from`) and what the last run did."""

    platform = models.ForeignKey(
        "hub.Platform", on_delete=models.CASCADE, related_name="sync_states"
    )
    country_code = models.CharField(max_length=2)
    party_id = models.CharField(max_length=3)
    module = models.CharField(max_length=32, choices=ModuleID.choices)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_finished_at = models.DateTimeField(null=True, blank=True)
    last_success_started_at = models.DateTimeField(
        null=True, blank=True, help_text="Start of the last successful run (next date_from)."
    )
    last_full_success_at = models.DateTimeField(null=True, blank=True)
    running_since = models.DateTimeField(
        null=True, blank=True, help_text="Set while a run holds this state (one run at a time)."
    )
    full = models.BooleanField(default=False, help_text="The last run was a full sync.")
    fetched = models.PositiveIntegerField(default=0)
    stored = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    invalid = models.PositiveIntegerField(default=0)
    refused = models.PositiveIntegerField(default=0)
    deleted = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        ordering: ClassVar = ["country_code", "party_id", "module"]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["platform", "country_code", "party_id", "module"], name="uniq_sync_state"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.country_code}*{self.party_id} {self.module}"
