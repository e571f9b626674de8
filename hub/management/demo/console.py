"""How the demo talks: numbered steps with their X-Correlation-ID, facts read back from the
hub or the partners, and waits shown as progress bars (rich) that fail loudly on timeout."""

import time
import uuid
from collections.abc import Callable

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from hub.management.demo.hubproc import DemoError


class Narrator:
    """Prints the scripted day. `wait` polls a count until it reaches its total, with a
    progress bar; past `timeout` seconds it raises DemoError naming what did not happen."""

    def __init__(self, console: Console, *, timeout: float, alive: Callable[[], None]) -> None:
        self.console = console
        self.timeout = timeout
        self.alive = alive  # raises DemoError when the hub is gone
        self.number = 0

    def step(self, title: str, slug: str = "step", *, correlated: bool = True) -> str:
        """Announce the next step; returns its X-Correlation-ID (every request of the step
        carries it, so the admin's exchange log finds them all). A step that sends nothing
        has none (`correlated=False`: returns "")."""
        self.number += 1
        correlation_id = f"demo-{self.number:02d}-{slug}-{uuid.uuid4().hex[:8]}"
        self.console.print()
        if not correlated:
            self.console.print(f"[bold cyan]{self.number:>2}. {title}[/]")
            return ""
        self.console.print(
            f"[bold cyan]{self.number:>2}. {title}[/]  [dim]X-Correlation-ID {correlation_id}[/]"
        )
        return correlation_id

    def fact(self, text: str) -> None:
        self.console.print(f"    [green]✓[/] {text}")

    def note(self, text: str) -> None:
        self.console.print(f"    [dim]{text}[/]")

    def warn(self, text: str) -> None:
        self.console.print(f"    [yellow]![/] {text}")

    def wait(
        self,
        label: str,
        total: int,
        done: Callable[[], int],
        *,
        timeout: float | None = None,
        explain: Callable[[], str] | None = None,
    ) -> float:
        """Poll `done()` until it reaches `total` (a progress bar while waiting); returns the
        seconds it took. DemoError after `timeout` (default: the step timeout)."""
        limit = self.timeout if timeout is None else timeout
        started = time.monotonic()
        progress = Progress(
            TextColumn("    {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
        )
        with progress:
            task = progress.add_task(label, total=total)
            while True:
                count = min(done(), total)
                progress.update(task, completed=count)
                if count >= total:
                    break
                if time.monotonic() - started > limit:
                    why = f" ({explain()})" if explain is not None else ""
                    raise DemoError(
                        f"timed out after {limit:.0f} s: {label}: {count} of {total}{why}"
                    )
                self.alive()
                time.sleep(0.1)
        return time.monotonic() - started
