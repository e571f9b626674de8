"""`manage.py ocpi_connect --versions-url URL --token-a TOKEN [--name NAME]`: register with a
partner as the initiating side (the partner issued Token A; GIREVE works this way).

`--party NL-ABC:CPO` (repeatable) names the parties the connection is for, as `ocpi_invite`
does: a partner whose credentials answer claims any other is refused and nothing is stored."""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from hub.management.commands.ocpi_invite import party_keys
from hub.ocpi.tokens import is_valid_token
from hub.services.registry.credentials import RegistrationError, platform_connect


class Command(BaseCommand):
    help = "Perform the OCPI 2.2.1 credentials handshake with a partner, the hub initiating."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--versions-url", required=True, help="The partner's versions URL")
        parser.add_argument("--token-a", required=True, help="The Token A the partner issued")
        parser.add_argument("--name", help="Name for the platform (default: the URL)")
        parser.add_argument(
            "--party",
            action="append",
            metavar="CC-PID:ROLE",
            help="A party the connection is for, e.g. NL-ABC:CPO (repeatable); a partner "
            "claiming any other is refused",
        )
        parser.add_argument("--json", action="store_true", help="Print JSON only")

    def handle(self, *args: Any, **options: Any) -> None:
        token_a: str = options["token_a"]
        if not is_valid_token(token_a):
            raise CommandError("--token-a must be 1 to 64 printable ASCII characters")
        parties = party_keys(options["party"])
        try:
            result = platform_connect(
                versions_url=options["versions_url"],
                token_a=token_a,
                name=options["name"],
                parties=parties,
                actor="staff (manage.py ocpi_connect)",
            )
        except RegistrationError as exc:
            code = f" (OCPI {exc.ocpi_status})" if exc.ocpi_status else ""
            raise CommandError(f"Registration failed{code}: {exc}; nothing was stored") from exc
        platform = result.platform
        roles = [
            f"{r['country_code'].upper()}*{r['party_id'].upper()} {r['role']}" for r in result.roles
        ]
        endpoints = [f"{e.identifier} {e.role} {e.url}" for e in result.endpoints]
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "platform_id": platform.pk,
                        "name": platform.name,
                        "status": platform.status,
                        "version": platform.version,
                        "roles": roles,
                        "endpoints": endpoints,
                    }
                )
            )
            return
        self.stdout.write(self.style.SUCCESS(f"Registered {platform.name} (id {platform.pk})"))
        self.stdout.write(f"Status:   {platform.status}, OCPI {platform.version}")
        self.stdout.write("Roles:    " + ", ".join(roles))
        self.stdout.write("Endpoints:")
        for line in endpoints:
            self.stdout.write(f"  {line}")
