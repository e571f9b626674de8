"""What staff did that the admin's own history does not record: data exports."""

from typing import ClassVar

from django.conf import settings
from django.db import models


class StaffExport(models.Model):
    """One CSV export by a staff member: who, when, what and how many rows (the file itself
    is not kept; partner data leaves the hub with it, so the fact is evidence)."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Kept when the user is deleted: the record must still say who it was.
    username = models.CharField(max_length=150)
    what = models.CharField(max_length=64)  # "cdrs", "reconciliation findings"
    rows = models.PositiveIntegerField()
    detail = models.CharField(max_length=500, blank=True, default="")
    remote_addr = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering: ClassVar = ["-created_at", "-pk"]
        verbose_name = "staff export"

    def __str__(self) -> str:
        return f"{self.username}: {self.rows} {self.what} at {self.created_at:%Y-%m-%d %H:%M}"
