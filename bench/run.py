"""Run every benchmark three times and write docs/benchmarks.md.

Usage: make bench   (or: uv run --group bench python -m bench.run [--runs N] [--only NAME …])
       python -m bench.run --quick   (small counts, one run, report to a temporary file)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench import alertmanager, crash, floor, mail, report, scenarios
from bench.harness import SERVE, SPLIT, Layout
from bench.scenarios import Auth, Budget, Endpoint, Result

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "docs" / "benchmarks.md"

Scenario = Callable[[], Awaitable[Result]]


@dataclass(frozen=True)
class Sizes:
    """How much each scenario sends (the full run's numbers by default)."""

    runs: int = 3
    singles: int = 10_000  # one per POST, per figure
    batches: int = 20_000  # in POSTs of 100
    ceiling: int = 20_000
    latency_s: float = 10.0
    kill_after_s: float = 3.0
    recovery_limit_s: float = 45.0
    email: int = 2_000
    floor_batches: int = 50
    budget: Budget = field(default_factory=Budget)


QUICK = Sizes(
    runs=1,
    singles=1_000,
    batches=2_000,
    ceiling=2_000,
    latency_s=3.0,
    kill_after_s=2.0,
    recovery_limit_s=20.0,
    email=300,
    floor_batches=5,
    budget=Budget(post_s=15.0, drain_s=20.0),
)


def catalogue(z: Sizes) -> dict[str, Scenario]:
    """Every scenario by name, in the order a run measures them."""
    budget = z.budget

    def single(endpoint: Endpoint, auth: Auth, layout: Layout, clients: int = 8) -> Scenario:
        return lambda: scenarios.nabat_run(
            layout, endpoint, auth, clients=clients, total=z.singles, budget=budget
        )

    def batch(endpoint: Endpoint) -> Scenario:
        return lambda: scenarios.nabat_run(
            SPLIT, endpoint, "key", per_post=100, total=z.batches, budget=budget
        )

    chosen: dict[str, Scenario] = {
        "ceiling_256": lambda: scenarios.client_ceiling(256, z.ceiling),
        "ceiling_8": lambda: scenarios.client_ceiling(8, z.ceiling),
        "am_single": lambda: scenarios.alertmanager_run(1, 8, z.singles, budget),
        "am_batch": lambda: scenarios.alertmanager_run(100, 8, z.batches, budget),
    }
    endpoints: tuple[Endpoint, ...] = ("send", "events")
    auths: tuple[Auth, ...] = ("token", "key")
    for endpoint in endpoints:
        for auth in auths:
            for layout in (SERVE, SPLIT):
                chosen[f"{endpoint}_{auth}_{layout.name}"] = single(endpoint, auth, layout)
    chosen |= {
        "send_token_serve_64": single("send", "token", SERVE, 64),
        "send_token_serve_500": single("send", "token", SERVE, 500),
        "send_batch_split": batch("send"),
        "events_batch_split": batch("events"),
        "latency": lambda: scenarios.latency(1000, z.latency_s, budget),
        "crash": lambda: crash.crash_recovery(z.kill_after_s, z.recovery_limit_s),
        "email_ceiling": lambda: mail.smtp_ceiling(z.email),
        "email": lambda: mail.nabat_email(z.email),
        "floor": lambda: floor.sqlite_floor_async(z.floor_batches),
    }
    return chosen


def _brief(result: Result) -> str:
    shown = {k: round(v, 1) for k, v in result.items() if not math.isnan(v)}
    return json.dumps(shown)


async def main(sizes: Sizes, only: list[str]) -> tuple[str, dict[str, list[Result]]]:
    """Run the chosen scenarios ``sizes.runs`` times each; the report and the raw results."""
    every = catalogue(sizes)
    chosen = {name: every[name] for name in (only or list(every))}
    am_version = alertmanager.version() if {"am_single", "am_batch"} & chosen.keys() else ""
    results: dict[str, list[Result]] = {name: [] for name in chosen}
    # Other work on the machine depresses every figure: say how busy it was.
    load_before = os.getloadavg()[0]
    began = time.monotonic()
    for run in range(sizes.runs):
        for name, scenario in chosen.items():
            started = time.monotonic()
            value = await scenario()
            took = time.monotonic() - started
            print(f"run {run + 1}/{sizes.runs} {name} ({took:.0f} s): {_brief(value)}", flush=True)
            results[name].append(value)
    minutes = (time.monotonic() - began) / 60
    note = (
        f" The whole run took {minutes:.0f} minutes; load average (1 min) at its start "
        f"{load_before:.1f}, at its end {os.getloadavg()[0]:.1f}."
    )
    if sizes != Sizes():
        note += " **Smaller counts than `make bench` (a smoke run): not for comparison.**"
    text = report.render(
        results,
        runs=sizes.runs,
        am_version=am_version,
        limit_s=sizes.recovery_limit_s,
        budget=(sizes.budget.post_s, sizes.budget.drain_s),
        note=note,
    )
    return text, results


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small counts, one run")
    parser.add_argument("--runs", type=int, default=None)
    parser.add_argument("--only", nargs="*", default=[], choices=list(catalogue(Sizes())))
    parser.add_argument("--output", type=Path, default=None, help="where the report goes")
    parser.add_argument("--raw", type=Path, default=None, help="also write raw results (JSON)")
    return parser.parse_args()


if __name__ == "__main__":
    arguments = _arguments()
    sizes = QUICK if arguments.quick else Sizes()
    if arguments.runs is not None:
        sizes = Sizes(**{**sizes.__dict__, "runs": arguments.runs})
    # Only a full run of everything replaces docs/benchmarks.md unless told otherwise.
    partial = arguments.quick or arguments.only or arguments.runs is not None
    default = Path(tempfile.gettempdir()) / "nabat-benchmarks.md" if partial else REPORT
    output: Path = arguments.output or default
    text, results = asyncio.run(main(sizes, arguments.only))
    output.write_text(text, encoding="utf-8")
    if arguments.raw is not None:
        arguments.raw.write_text(json.dumps(results, indent=1), encoding="utf-8")
    print(f"wrote {output}")
