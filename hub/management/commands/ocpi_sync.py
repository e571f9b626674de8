"""`manage.py ocpi_sync {locations|tariffs} --party CC-PID [--full]`: pull a CPO's SENDER list
into the hub (incremental from the last successful run unless `--full`; a full tariffs sync
retires the tariffs the CPO no longer lists). See `hub.services.sync`."""

import re
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from hub.ocpi.routing import PartyRef
from hub.services.sync import MODULES, SyncError, sync_party

_PARTY_RE = re.compile(r"^([A-Za-z]{2})[-*/ _]?([A-Za-z0-9]{3})$")
# Reasons printed for invalid/refused objects (all of them are counted).
_MAX_REASONS_SHOWN = 20


def parse_party(value: str) -> PartyRef:
    """`NL-ABC` (or `NL*ABC`, `NLABC`) as a party address."""
    match = _PARTY_RE.match(value.strip())
    if not match:
        raise CommandError(f"--party must be COUNTRY-PARTY, e.g. NL-ABC (got {value!r})")
    return PartyRef.of(match.group(1), match.group(2))


class Command(BaseCommand):
    help = "Pull a CPO's locations or tariffs (GET its SENDER list) into the hub."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("module", choices=MODULES, help="What to pull")
        parser.add_argument("--party", required=True, help="The CPO, as COUNTRY-PARTY (NL-ABC)")
        parser.add_argument(
            "--full",
            action="store_true",
            help="Fetch the whole list (no date_from); for tariffs, retire the missing ones",
        )
        parser.add_argument("--no-progress", action="store_true", help="No progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        party = parse_party(options["party"])
        module: str = options["module"]
        full: bool = options["full"]
        bar = tqdm(
            desc=f"{party} {module}",
            unit="obj",
            disable=options["no_progress"],
            file=self.stderr._out,
            dynamic_ncols=True,
        )

        def progress(fetched: int, total: int | None) -> None:
            if total is not None and bar.total != total:
                bar.total = total
                bar.refresh()
            bar.update(fetched - bar.n)

        started = time.monotonic()
        try:
            result = sync_party(party=party, module=module, full=full, progress=progress)
        except SyncError as exc:
            raise CommandError(f"{party} {module}: {exc}") from exc
        finally:
            bar.close()
        seconds = time.monotonic() - started
        mode = "full" if full else f"since {result.date_from}" if result.date_from else "all"
        self.stdout.write(
            f"{party} {module} ({mode}, {result.pages} pages, {seconds:.1f} s): {result.summary}"
        )
        for reason in result.problems[:_MAX_REASONS_SHOWN]:
            self.stdout.write(f"  {reason}")
        hidden = result.invalid + result.refused - min(len(result.problems), _MAX_REASONS_SHOWN)
        if hidden > 0:
            self.stdout.write(f"  ... and {hidden} more (see the log)")
