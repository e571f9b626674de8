"""`manage.py hub_demo` (`make demo`): start the hub on the embedded default in a folder of its
own (wiped at each start; settings/demo.py), start three simulated CPOs and two eMSPs on
127.0.0.1, register them through the OCPI credentials handshake and play a scripted day
(hub/management/demo/day.py), then keep everything running until Ctrl-C.

The command re-executes itself once with DJANGO_SETTINGS_MODULE=settings.demo, HUB_DEMO_DIR and
PORT set, so that this process, the hub's web server, worker and beat all use the demo's
database and broker and never a user's `make run` ones."""

import logging
import os
import shutil
import signal
import socket
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections
from rich.console import Console

from hub.management.demo.console import Narrator
from hub.management.demo.day import ScriptedDay
from hub.management.demo.hubproc import DemoError, HubProcess

# A folder the demo made: only such a folder (or an empty one) is ever wiped.
MARKER = ".hub-demo"


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # SIGTERM stops the demo as cleanly as Ctrl-C


class Command(BaseCommand):
    help = "Run the hub with simulated partners and play a scripted OCPI day (make demo)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8100, help="The hub's port (8100)")
        parser.add_argument(
            "--data-dir",
            default=str(Path(settings.BASE_DIR) / "var" / "demo"),
            help="The demo's folder, wiped at each start (var/demo)",
        )
        parser.add_argument(
            "--quick", action="store_true", help="A small network (30 locations, few changes)"
        )
        parser.add_argument(
            "--exit", action="store_true", help="Stop after the scripted day instead of staying up"
        )
        parser.add_argument(
            "--timeout", type=float, default=120.0, help="Seconds a step may take (120)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        data_dir = Path(options["data_dir"]).resolve()
        port: int = options["port"]
        if not self._in_demo_environment(data_dir, port):
            self._reexec(data_dir, port)
        # The hub's processes log to hub.log; this one prints the day. (kombu warns that the
        # filesystem broker has no host name whenever a reconciliation here enqueues a task.)
        logging.getLogger().setLevel(logging.WARNING)
        logging.getLogger("kombu.connection").setLevel(logging.ERROR)
        signal.signal(signal.SIGTERM, _interrupt)
        # Not a terminal (a log, a test): one line per fact, never wrapped mid-fact.
        tty = sys.stdout.isatty()
        console = Console(highlight=False, width=None if tty else 120, soft_wrap=not tty)
        hub = self._prepare(data_dir, port, console)
        day: ScriptedDay | None = None
        code = 0
        try:
            hub.start()
            console.print(f"[bold]OCPI hub demo[/]: {hub.base_url}, data in {data_dir}")
            console.print(f"  the hub's web server, worker and beat log to {hub.log_path}")
            hub.wait_ready(options["timeout"])
            narrator = Narrator(console, timeout=options["timeout"], alive=hub.check_alive)
            day = ScriptedDay(narrator, quick=options["quick"])
            day.play()
            self._banner(console, hub, day)
            if not options["exit"]:
                while True:
                    hub.check_alive()
                    time.sleep(1)
        except KeyboardInterrupt:
            console.print("\nCtrl-C: stopping the partners and the hub")
        except DemoError as exc:
            console.print(f"\n[bold red]DEMO FAILED[/]: {exc}")
            code = 1
        finally:
            if day is not None:
                day.stop()
            exit_code = hub.stop()
            console.print(f"stopped (the hub exited with {exit_code}); data kept in {data_dir}")
        if code:
            raise CommandError("the demo did not complete (see above)", returncode=code)

    def _in_demo_environment(self, data_dir: Path, port: int) -> bool:
        return (
            os.environ.get("DJANGO_SETTINGS_MODULE") == "settings.demo"
            and getattr(settings, "HUB_DEMO_DIR", None) == str(data_dir)
            and getattr(settings, "HUB_DEMO_PORT", None) == port
        )

    def _reexec(self, data_dir: Path, port: int) -> None:
        env = dict(os.environ, DJANGO_SETTINGS_MODULE="settings.demo")
        env.update(HUB_DEMO_DIR=str(data_dir), PORT=str(port), PYTHONUNBUFFERED="1")
        sys.stdout.flush()
        os.execve(sys.executable, [sys.executable, *sys.argv], env)  # noqa: S606 - ourselves

    def _prepare(self, data_dir: Path, port: int, console: Console) -> HubProcess:
        """Wipe and recreate the folder, migrate, and check the port is free."""
        if data_dir.exists() and any(data_dir.iterdir()) and not (data_dir / MARKER).exists():
            raise CommandError(f"{data_dir} is not empty and not a demo folder: not wiping it")
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError as exc:
                raise CommandError(
                    f"port {port} is in use ({exc.strerror}); try make demo DEMO_PORT=8200"
                ) from None
        connections.close_all()
        shutil.rmtree(data_dir, ignore_errors=True)
        for folder in ("broker", "broker-processed", "broker-control"):
            (data_dir / folder).mkdir(parents=True, exist_ok=True)
        (data_dir / MARKER).write_text("made by manage.py hub_demo; wiped at each demo start\n")
        console.print(f"migrating a fresh database in {data_dir} …")
        call_command("migrate", interactive=False, verbosity=0)
        env = dict(os.environ)
        env.setdefault("HUB_ADMIN_USER", "demo")
        env.setdefault("HUB_ADMIN_PASSWORD", "demo")
        self.admin = (env["HUB_ADMIN_USER"], env["HUB_ADMIN_PASSWORD"])
        return HubProcess(
            base_dir=Path(settings.BASE_DIR), port=port, env=env, log_path=data_dir / "hub.log"
        )

    def _banner(self, console: Console, hub: HubProcess, day: ScriptedDay) -> None:
        user, password = self.admin
        console.print()
        console.print("[bold green]The scripted day is over; everything keeps running.[/]")
        console.print(f"  admin:        {hub.base_url}/admin/   login {user} / {password}")
        console.print(f"  versions URL: {hub.base_url}/ocpi/versions")
        for party in day.parties:
            console.print(f"  {party.label:<34} {party.partner.base_url}")
        timings = ", ".join(
            f"{k}={v}" for k, v in getattr(settings, "HUB_DEMO_TIMINGS", {}).items()
        )
        console.print(f"  demo timings: {timings}")
        console.print("Ctrl-C stops the partners and the hub.")
