"""Bring the staff groups (viewer, operator, administrator) in step with the current models:
run after adding models or permissions (migration 0009_staff_roles created them once)."""

from typing import Any

from django.core.management.base import BaseCommand

from hub.services.staff import staff_groups_sync


class Command(BaseCommand):
    help = "Create or update the viewer, operator and administrator groups."

    def handle(self, *args: Any, **options: Any) -> None:
        for name, count in staff_groups_sync().items():
            self.stdout.write(f"{name}: {count} permissions")
