"""Run every benchmark three times and write docs/benchmarks.md.

Usage: make bench   (or: uv run python -m bench.run [--runs N] [--only NAME ...])
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import events, floor, scenarios

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "docs" / "benchmarks.md"

Scenario = Callable[[], Awaitable[Any]]

SCENARIOS: dict[str, Scenario] = {
    "ceiling_aiohttp": lambda: scenarios.client_ceiling("aiohttp"),
    # httpx is measured on 5,000 requests: at its rate under load, 20,000 take minutes.
    "ceiling_httpx": lambda: scenarios.client_ceiling("httpx", total=5000),
    "ceiling_httpx_8": lambda: scenarios.client_ceiling("httpx", total=5000, concurrency=8),
    "nabat_webhooks": scenarios.nabat_webhooks,
    "nabat_webhooks_split": lambda: scenarios.nabat_webhooks(split=True),
    "nabat_latency": scenarios.nabat_latency,
    "apprise_webhooks": scenarios.apprise_webhooks,
    "smtp_ceiling": scenarios.smtp_ceiling,
    "nabat_email": scenarios.nabat_email,
    "events_single": events.events_single,
    "events_batched": events.events_batched,
    "events_batched_delivered": events.events_batched_delivered,
    "events_latency": events.events_latency,
    "sqlite_floor": floor.sqlite_floor_async,
}


def _machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return (
        f"{model}, {os.cpu_count()} cores{memory}; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}"
    )


def _summary(values: list[float]) -> str:
    median = statistics.median(values)
    return f"{median:,.0f} (min {min(values):,.0f}, max {max(values):,.0f})"


def _summary_ms(values: list[float]) -> str:
    median = statistics.median(values)
    return f"{median:,.1f} (min {min(values):,.1f}, max {max(values):,.1f})"


def _pluck(results: list[Any], key: str) -> list[float]:
    return [float(r[key]) for r in results]


def report(results: dict[str, list[Any]], runs: int) -> str:
    """The Markdown report."""
    r = results
    lines = [
        "# Benchmarks",
        "",
        f"Machine: {_machine()}.",
        f"Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. Each figure: median of {runs} runs "
        "(min, max). Produced by `make bench` (bench/run.py); every process (Nabat, the sink, "
        "the load generator) runs on this same machine, on 127.0.0.1.",
        "",
    ]
    if "ceiling_aiohttp" in r or "ceiling_httpx" in r:
        lines += [
            "## Outbound HTTP client (choice of library)",
            "",
            "One process POSTing small JSON bodies to the sink (20,000 for aiohttp, 5,000 for "
            "httpx), doing nothing else. aiohttp is several times faster under concurrency, "
            "so Nabat's senders use it.",
            "",
            "| client | requests/s |",
            "| --- | --- |",
        ]
        for name, label in (
            ("aiohttp", "aiohttp, 256 in flight"),
            ("httpx", "httpx, 256 in flight"),
            ("httpx_8", "httpx, 8 in flight (its best setting here)"),
        ):
            if f"ceiling_{name}" in r:
                lines.append(f"| {label} | {_summary(r[f'ceiling_{name}'])} |")
        lines += ["", "The sink's ceiling below is the aiohttp figure.", ""]
    if "nabat_webhooks" in r:
        w = r["nabat_webhooks"]
        lines += [
            "## Webhooks end to end (target ≥ 2,500/s on SQLite)",
            "",
            "20,000 notifications accepted through `POST /api/v1/notifications/send/batch` "
            "(20 batches of 1,000 from 4 concurrent producers, each batch durable before its "
            "answer) and delivered by `nabat serve` (SQLite, one process) to the local sink.",
            "",
            "| measure | value |",
            "| --- | --- |",
            f"| deliveries/s, first accept → last arrival | {_summary(_pluck(w, 'throughput'))} |",
            f"| accepted/s (API only) | {_summary(_pluck(w, 'accept_rate'))} |",
            f"| accept → arrival p50, ms | {_summary_ms(_pluck(w, 'p50_ms'))} |",
            f"| accept → arrival p99, ms | {_summary_ms(_pluck(w, 'p99_ms'))} |",
        ]
        if "ceiling_aiohttp" in r:
            share = statistics.median(_pluck(w, "throughput")) / statistics.median(
                r["ceiling_aiohttp"]
            )
            lines.append(f"| share of the sink's ceiling | {share:.0%} |")
        lines += [
            "",
            "The 20,000 arrive as one burst, so p50/p99 here are mostly time spent waiting "
            "in the queue behind the burst; latency under a steady load is measured below.",
            "",
        ]
    if "nabat_webhooks_split" in r:
        w = r["nabat_webhooks_split"]
        lines += [
            "### The same, API and worker in two processes",
            "",
            "`nabat api` plus one `nabat worker`, both on the "
            "same SQLite file: the layout that puts both cores to work.",
            "",
            "| measure | value |",
            "| --- | --- |",
            f"| deliveries/s, first accept → last arrival | {_summary(_pluck(w, 'throughput'))} |",
            f"| accepted/s (API only) | {_summary(_pluck(w, 'accept_rate'))} |",
            f"| accept → arrival p50, ms | {_summary_ms(_pluck(w, 'p50_ms'))} |",
            f"| accept → arrival p99, ms | {_summary_ms(_pluck(w, 'p99_ms'))} |",
            "",
        ]
    if "nabat_latency" in r:
        lat = r["nabat_latency"]
        lines += [
            "## Latency at 1,000 notifications/s offered (target p99 ≤ 100 ms)",
            "",
            "Batches of 10 every 10 ms for 10 s; accept = the batch's answer.",
            "",
            "| measure | value |",
            "| --- | --- |",
            f"| offered/s | {_summary(_pluck(lat, 'offered_rate'))} |",
            f"| p50, ms | {_summary_ms(_pluck(lat, 'p50_ms'))} |",
            f"| p99, ms | {_summary_ms(_pluck(lat, 'p99_ms'))} |",
            "",
        ]
    if "apprise_webhooks" in r:
        lines += [
            "## Reference peer: Apprise",
            "",
            "The same 20,000 webhooks sent by Apprise (`json://` URL, `async_notify`, 256 in "
            "flight) to the same sink. Apprise has no queue or durability, so this is its "
            "raw sending rate.",
            "",
            "| measure | value |",
            "| --- | --- |",
            f"| notifications/s | {_summary(r['apprise_webhooks'])} |",
            "",
        ]
    if "smtp_ceiling" in r or "nabat_email" in r:
        lines += [
            "## E-mail (target ≥ 80 % of the sink's ceiling)",
            "",
            "2,000 messages to a local aiosmtpd sink. Ceiling: aiosmtplib directly with 8 "
            "reused connections. Nabat: EMAIL channel, pool of 8 connections, queued through "
            "the batch API.",
            "",
            "| measure | messages/s |",
            "| --- | --- |",
        ]
        if "smtp_ceiling" in r:
            lines.append(f"| sink ceiling (8 connections) | {_summary(r['smtp_ceiling'])} |")
        if "nabat_email" in r:
            lines.append(f"| Nabat | {_summary(r['nabat_email'])} |")
        if "smtp_ceiling" in r and "nabat_email" in r:
            share = statistics.median(r["nabat_email"]) / statistics.median(r["smtp_ceiling"])
            lines.append(f"| share of the ceiling | {share:.0%} |")
        lines.append("")
    lines += _events_section(r)
    return "\n".join(lines)


def _events_section(r: dict[str, list[Any]]) -> list[str]:
    """Events in: single and batched accept rates, accept → delivery latency."""
    names = (
        "events_single",
        "events_batched",
        "events_batched_delivered",
        "events_latency",
        "sqlite_floor",
    )
    if not any(name in r for name in names):
        return []
    lines = [
        "## Events in (targets on SQLite: ≥ 3,000/s single, ≥ 50,000/s batched)",
        "",
        "`POST /api/v1/events` with a project API key; every single event is routed by the "
        "project's rules (here: none, so to the default webhook channel) and stored with its "
        "delivery before the answer. A batch is stored before its answer and routed right "
        "after by the router, which runs beside the delivery worker (`nabat serve`, `nabat "
        "worker`). Accept rates are measured on `nabat api` alone (SQLite), so that routing "
        "and delivering do not compete for the CPU; the load generator runs on the same 2 "
        "cores and encodes batch bodies before the clock starts. The `nabat serve` rows show "
        "what one process sustains when it also routes and delivers every event.",
        "",
        "| measure | value |",
        "| --- | --- |",
    ]
    if "events_single" in r:
        lines.append(
            "| single events/s (20,000 events, one per request, 64 concurrent clients) | "
            f"{_summary(r['events_single'])} |"
        )
    if "events_batched" in r:
        lines.append(
            "| batched events/s (50 batches of 1,000, 2 concurrent producers; stored, "
            f"routed afterwards) | {_summary(r['events_batched'])} |"
        )
    if "events_batched_delivered" in r:
        d = r["events_batched_delivered"]
        lines += [
            "| batches to `nabat serve`: accepted events/s (20 batches of 1,000) | "
            f"{_summary(_pluck(d, 'accept_rate'))} |",
            "| batches to `nabat serve`: events/s first post → last webhook arrived "
            f"(accepted, routed, delivered) | {_summary(_pluck(d, 'throughput'))} |",
        ]
    if "sqlite_floor" in r:
        lines.append(
            "| storage floor: events/s SQLite alone stores as event + delivery rows "
            f"(no Nabat code; see below) | {_summary(r['sqlite_floor'])} |"
        )
    if "events_latency" in r:
        lat = r["events_latency"]
        lines += [
            f"| latency run: offered events/s | {_summary(_pluck(lat, 'offered_rate'))} |",
            f"| accept → arrival p50, ms | {_summary_ms(_pluck(lat, 'p50_ms'))} |",
            f"| accept → arrival p99, ms | {_summary_ms(_pluck(lat, 'p99_ms'))} |",
        ]
    lines += [
        "",
        "Latency: single events posted at 1,000/s for 10 s to `nabat serve` (one process, "
        "SQLite), each delivered to the local sink; accept = the event's 202 answer.",
        "",
        "Storage floor (bench/floor.py): the rows a batch of the bench's events becomes "
        "(an event row and a delivery row each), written with Python's `sqlite3` module "
        "straight into a database made by Nabat's migrations, 1,000 per transaction, with "
        "Nabat's settings (WAL, `synchronous=NORMAL`). No parsing, validation, routing or "
        "framework takes part, so it bounds what any implementation that keeps these rows "
        "durable before answering can reach here.",
        "",
    ]
    return lines


async def main(runs: int, only: list[str]) -> None:
    """Run the chosen scenarios ``runs`` times each and write the report."""
    chosen = {name: SCENARIOS[name] for name in (only or list(SCENARIOS))}
    results: dict[str, list[Any]] = {name: [] for name in chosen}
    for run in range(runs):
        for name, scenario in chosen.items():
            value = await scenario()
            print(f"run {run + 1}/{runs} {name}: {value}", flush=True)
            results[name].append(value)
    REPORT.write_text(report(results, runs) + "\n", encoding="utf-8")
    print(f"wrote {REPORT}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", nargs="*", default=[], choices=list(SCENARIOS))
    arguments = parser.parse_args()
    asyncio.run(main(arguments.runs, arguments.only))
