"""`manage.py roaming_agreement` (DESIGN §6b): add, list, suspend, resume and end the roaming
agreements that decide, in `OCPI_ROAMING_MODE=agreements`, what flows between a CPO party and
an eMSP party.

    roaming_agreement add --cpo NL-CPO --emsp DE-EMS [--scopes locations,evse_status,...]
                          [--locations LOC1,LOC2] [--from 2026-01-01] [--to 2026-12-31]
    roaming_agreement list
    roaming_agreement suspend ID | resume ID | end ID

Every change goes through `hub.services.agreements.lifecycle` (the admin's rules) and applies
its effects at once (pushes to both sides); a refusal is a CommandError naming the field.
"""

from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from hub.models.agreements import ALL_SCOPES, RoamingAgreement
from hub.services.agreements import policy
from hub.services.agreements.apply import AgreementEffects
from hub.services.agreements.lifecycle import (
    AgreementTerms,
    agreement_add,
    agreement_end,
    agreement_resume,
    agreement_suspend,
    parse_list,
    parse_party,
)

TRANSITIONS = {"suspend": agreement_suspend, "resume": agreement_resume, "end": agreement_end}


def _day(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"{option} {text!r}: not a date (YYYY-MM-DD)") from None


def _refusal(error: ValidationError) -> CommandError:
    """One line per problem, each naming its field."""
    lines = [
        f"{name}: {message}"
        for name, messages in error.message_dict.items()
        for message in messages
    ]
    return CommandError("\n".join(lines))


def _effects(effects: AgreementEffects) -> str:
    if effects.change == "unchanged":
        return "not in force today: nothing sent"
    return f"{effects.change}: {effects.deliveries} push(es) queued"


class Command(BaseCommand):
    help = "Add, list, suspend, resume or end roaming agreements between CPO and eMSP parties."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        add = actions.add_parser("add", help="add an agreement (in force from --from)")
        add.add_argument("--cpo", required=True, help="the CPO party, CC-PID")
        add.add_argument("--emsp", required=True, help="the eMSP party, CC-PID")
        add.add_argument(
            "--scopes",
            default=",".join(ALL_SCOPES),
            help=f"comma-separated, of {', '.join(ALL_SCOPES)} (default: all)",
        )
        add.add_argument("--locations", default="", help="only these location ids (default: all)")
        add.add_argument("--from", dest="valid_from", help="first day, YYYY-MM-DD (default today)")
        add.add_argument("--to", dest="valid_to", help="last day, YYYY-MM-DD (default: none)")
        add.add_argument("--note", default="", help="a note for staff")
        actions.add_parser("list", help="list the agreements")
        for name in TRANSITIONS:
            one = actions.add_parser(name, help=f"{name} an agreement")
            one.add_argument("id", type=int)

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        try:
            if action == "add":
                self._add(options)
            elif action == "list":
                self._list()
            else:
                agreement, effects = TRANSITIONS[action](options["id"])
                self.stdout.write(
                    f"Agreement {agreement.pk} is {agreement.status}; {_effects(effects)}"
                )
        except ValidationError as error:
            raise _refusal(error) from None

    def _add(self, options: dict[str, Any]) -> None:
        valid_from = _day(options["valid_from"], "--from") or policy.today()
        terms = AgreementTerms(
            cpo=parse_party(options["cpo"], "cpo"),
            emsp=parse_party(options["emsp"], "emsp"),
            valid_from=valid_from,
            valid_to=_day(options["valid_to"], "--to"),
            scopes=tuple(parse_list(options["scopes"])),
            location_ids=tuple(parse_list(options["locations"])),
            note=options["note"],
        )
        agreement, effects = agreement_add(terms)
        self.stdout.write(f"Added agreement {agreement.pk} ({agreement}); {_effects(effects)}")

    def _list(self) -> None:
        rows = [("ID", "CPO", "EMSP", "PERIOD", "STATUS", "IN FORCE", "SCOPES")]
        for agreement in RoamingAgreement.objects.order_by("pk"):
            period = f"{agreement.valid_from.isoformat()}..{agreement.valid_to or ''}"
            scopes = ",".join(agreement.scopes)
            if agreement.location_ids:
                scopes += f" (locations {','.join(agreement.location_ids)})"
            rows.append(
                (
                    str(agreement.pk),
                    f"{agreement.cpo_country_code}*{agreement.cpo_party_id}",
                    f"{agreement.emsp_country_code}*{agreement.emsp_party_id}",
                    period,
                    agreement.status,
                    "yes" if agreement.in_force else "no",
                    scopes,
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
        for row in rows:
            cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
            self.stdout.write("  ".join([*cells, row[-1]]).rstrip())
        if len(rows) == 1:
            self.stdout.write("(no agreements)")
