"""`manage.py ocpi_invite --name NAME [--party NL-ABC:CPO ...]`: create a platform and print its
Token A and the hub's versions URL, for a partner-initiated registration (DESIGN §2).

`--party` (repeatable) names the parties the invite is for: the partner's credentials may
claim those only (hub.services.registry.parties). Without it, its first registration fixes
its parties.
"""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from hub.models import Platform
from hub.ocpi.exceptions import OcpiError
from hub.services.registry.credentials import hub_versions_url, platform_invite
from hub.services.registry.parties import PartyKey, parse_party_spec


def party_keys(specs: list[str] | None) -> list[PartyKey]:
    """The `--party` values parsed (CommandError naming a malformed one)."""
    try:
        return [parse_party_spec(spec) for spec in specs or []]
    except ValueError as exc:
        raise CommandError(f"--party {exc}") from exc


class Command(BaseCommand):
    help = "Create a platform and print its Token A and the hub's versions URL."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=False, help="Name of the partner platform")
        parser.add_argument(
            "--platform", type=int, help="Re-invite this existing, unregistered platform (id)"
        )
        parser.add_argument(
            "--party",
            action="append",
            metavar="CC-PID:ROLE",
            help="A party the invite is for, e.g. NL-ABC:CPO (repeatable); credentials claiming "
            "any other are refused",
        )
        parser.add_argument("--json", action="store_true", help="Print JSON only")

    def handle(self, *args: Any, **options: Any) -> None:
        name: str | None = options["name"]
        parties = party_keys(options["party"])
        existing = None
        if options["platform"] is not None:
            existing = Platform.objects.filter(pk=options["platform"]).first()
            if existing is None:
                raise CommandError(f"No platform with id {options['platform']}")
        elif not name or not name.strip():
            raise CommandError("--name is required (or --platform to re-invite)")
        elif len(name) > 100:
            raise CommandError("--name must be at most 100 characters")
        try:
            platform, token_a = platform_invite(
                name=(name or "").strip(),
                platform=existing,
                parties=parties,
                actor="staff (manage.py ocpi_invite)",
            )
        except OcpiError as exc:
            raise CommandError(exc.message) from exc
        versions_url = hub_versions_url()
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "platform_id": platform.pk,
                        "token_a": token_a,
                        "versions_url": versions_url,
                        "parties": [f"{cc}*{pid} {role}" for cc, pid, role in parties],
                    }
                )
            )
            return
        self.stdout.write(f"Platform:      {platform.name} (id {platform.pk})")
        self.stdout.write(f"Token A:       {token_a}")
        self.stdout.write(f"Versions URL:  {versions_url}")
        if parties:
            named = ", ".join(f"{cc}*{pid} {role}" for cc, pid, role in parties)
            self.stdout.write(f"Parties:       {named} (credentials claiming others are refused)")
        self.stdout.write(
            "Hand both to the partner over a secure channel. The token is shown only now; "
            "it opens versions and credentials until the partner registers."
        )
