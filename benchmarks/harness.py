"""What every benchmark scenario shares: measuring hub and baseline side by side (A B A B …),
the result record written to reports/bench.json, and the goal each ratio is held to.

A scenario is a module `benchmarks.sN_name` run as its own process by `python -m benchmarks`
(`make bench`): it takes `--json PATH` (where to write its list of results) and `--quick` (a
smaller run, for checking the harness itself), prints what it measures as it goes, and never
asserts a timing. One process per scenario keeps their databases, servers and settings apart.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

Direction = Literal[">=", "<="]


@dataclass
class Goal:
    """The figure a result is held to: `metric` (a key of the result, usually "ratio")
    compared with `value` by `op`."""

    op: Direction
    value: float
    metric: str = "ratio"

    def met(self, result: Result) -> bool:
        figure = getattr(result, self.metric, None)
        if figure is None:
            figure = result.extra.get(self.metric)
        if figure is None:
            return False
        return bool(figure >= self.value if self.op == ">=" else figure <= self.value)

    def __str__(self) -> str:
        name = "" if self.metric == "ratio" else f"{self.metric} "
        return f"{name}{self.op} {self.value:g}"


@dataclass
class Result:
    """One line of reports/bench.json.

    `hub` and `baseline` are medians over `pairs` alternated measurements, in `unit`;
    `ratio` is hub / baseline (for a time, baseline / hub, so that above 1 always means the
    hub is faster: see `higher_is_better`); `spread` is (max - min) / median of the per-pair
    ratios, the noise of the run.
    """

    scenario: str
    hub: float
    baseline: float
    ratio: float
    unit: str
    pairs: int
    spread: float
    baseline_name: str = ""
    goal: str = ""
    met: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Pairs:
    """Measurements of hub and baseline taken alternately, one pair at a time."""

    hub: list[float] = field(default_factory=list)
    baseline: list[float] = field(default_factory=list)


def alternate(
    hub: Callable[[], float],
    baseline: Callable[[], float],
    pairs: int,
    *,
    warmup: bool = True,
) -> Pairs:
    """Run hub, baseline, hub, baseline … `pairs` times; each callable returns one figure.

    Alternating spreads whatever else the machine does over both sides; one warm-up of each
    first (not recorded) so neither side pays for imports, connections or cold caches.
    """
    if warmup:
        hub()
        baseline()
    out = Pairs()
    for _ in range(pairs):
        out.hub.append(hub())
        out.baseline.append(baseline())
    return out


def result(
    scenario: str,
    measured: Pairs,
    unit: str,
    *,
    goal: Goal | None = None,
    higher_is_better: bool = True,
    baseline_name: str = "",
    **extra: Any,
) -> Result:
    """Fold alternated measurements into a `Result` (medians, ratio, spread, goal met)."""
    if higher_is_better:
        ratios = [h / b for h, b in zip(measured.hub, measured.baseline, strict=True) if b]
    else:
        ratios = [b / h for h, b in zip(measured.hub, measured.baseline, strict=True) if h]
    hub_median = statistics.median(measured.hub)
    base_median = statistics.median(measured.baseline)
    if higher_is_better:
        ratio = hub_median / base_median if base_median else 0.0
    else:
        ratio = base_median / hub_median if hub_median else 0.0
    spread = (max(ratios) - min(ratios)) / statistics.median(ratios) if ratios else 0.0
    out = Result(
        scenario=scenario,
        hub=round(hub_median, 3),
        baseline=round(base_median, 3),
        ratio=round(ratio, 3),
        unit=unit,
        pairs=len(measured.hub),
        spread=round(spread, 3),
        baseline_name=baseline_name,
        goal=str(goal) if goal else "",
        extra=extra,
    )
    out.met = goal.met(out) if goal else None
    return out


def rate(fn: Callable[[], int]) -> float:
    """Units per second of one call of `fn`, which returns how many units it did.

    Each call starts from a collected heap: a full collection of the interpreter's objects
    costs ~100 ms in a process with Django loaded, and with few requests per call it fell in
    the same place of every A B cycle, on one side only (S4 at 1,000 objects per page measured
    the middle page 1.8x the first in one run and 0.56x in another; gc.get_stats() showed
    one generation-2 collection in every measurement of one side and none in the other's)."""
    gc.collect()
    started = time.perf_counter()
    done = fn()
    return done / (time.perf_counter() - started)


def percentile(values: list[float], share: float) -> float:
    """The `share` (0..1) percentile of `values`, nearest rank."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


@contextmanager
def scratch_database(suffix: str) -> Iterator[None]:
    """A test database of the scenario's own (DATABASE_URL's name + "_" + `suffix`), created
    and migrated for the run and dropped after it, so no other scenario's or test run's
    database is touched. Django must be set up already."""
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()
    test_settings = connection.settings_dict.setdefault("TEST", {})
    if connection.vendor != "sqlite":  # SQLite's test database is its own file or memory
        test_settings["NAME"] = f"{connection.settings_dict['NAME']}_{suffix}"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        yield
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def scenario_args(description: str) -> argparse.ArgumentParser:
    """The arguments every scenario takes; a scenario adds its own sizes."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--json", type=Path, help="write the results here (a JSON list)")
    parser.add_argument("--quick", action="store_true", help="small sizes: checks the harness")
    parser.add_argument("--pairs", type=int, default=5, help="hub/baseline pairs (>= 5)")
    return parser


def write_results(path: Path | None, results: list[Result]) -> None:
    for item in results:
        print(format_line(item))
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps([r.as_json() for r in results], indent=2) + "\n")


def format_line(item: Result) -> str:
    verdict = "" if item.met is None else ("  met" if item.met else "  NOT MET")
    goal = f"  goal {item.goal}" if item.goal else ""
    return (
        f"{item.scenario:<44} hub {item.hub:>11.2f}  {item.baseline_name or 'baseline'} "
        f"{item.baseline:>11.2f} {item.unit:<14} ratio {item.ratio:>7.3f} "
        f"±{item.spread:.2f} ({item.pairs} pairs){goal}{verdict}"
    )


def table(results: list[dict[str, Any]]) -> str:
    """reports/bench.json as a Markdown table (what `make bench` prints at the end)."""
    lines = [
        "| scenario | hub | baseline | unit | ratio | spread | pairs | goal | met |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        met = "" if r.get("met") is None else ("yes" if r["met"] else "**no**")
        base = f"{r['baseline']:.2f}" + (
            f" ({r['baseline_name']})" if r.get("baseline_name") else ""
        )
        lines.append(
            f"| {r['scenario']} | {r['hub']:.2f} | {base} | {r['unit']} | {r['ratio']:.3f} | "
            f"{r['spread']:.2f} | {r['pairs']} | {r.get('goal', '')} | {met} |"
        )
    return "\n".join(lines)
