"""docs/benchmarks.md from the results of one ``make bench`` run."""

from __future__ import annotations

import math
import os
import platform
import statistics
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

Results = dict[str, list[dict[str, float]]]


@dataclass(frozen=True)
class Row:
    """One line of the throughput table.

    ``at_least``: an absolute target (items/s); ``near``: the row whose figure this one
    must stay within 15 % of, either way (every way in is to be as fast as the send API:
    one much faster shows the other doing needless work); ``clean``: the target is no
    error and no answer slower than 10 s. ``reference``: the Alertmanager figure of the
    same size of POST.
    """

    name: str
    workload: str
    layout: str
    at_least: float | None = None
    near: str | None = None
    clean: bool = False
    reference: str = "am_single"


SINGLE = "1 per POST"
ROWS = (
    Row("send_token_serve", f"send API, {SINGLE}, login token", "serve", at_least=2500),
    Row("send_token_split", f"send API, {SINGLE}, login token", "split", at_least=3500),
    Row("send_key_serve", f"send API, {SINGLE}, API key", "serve", near="send_token_serve"),
    Row("send_key_split", f"send API, {SINGLE}, API key", "split", near="send_token_split"),
    Row("events_token_serve", f"events, {SINGLE}, login token", "serve", near="send_token_serve"),
    Row("events_token_split", f"events, {SINGLE}, login token", "split", near="send_token_split"),
    Row("events_key_serve", f"events, {SINGLE}, API key", "serve", near="send_token_serve"),
    Row("events_key_split", f"events, {SINGLE}, API key", "split", near="send_token_split"),
    Row("send_token_serve_64", f"send API, {SINGLE}, login token, 64 clients", "serve", clean=True),
    Row(
        "send_token_serve_500", f"send API, {SINGLE}, login token, 500 clients", "serve", clean=True
    ),
    Row(
        "send_batch_split",
        "send API batch, 100 per POST, API key",
        "split",
        at_least=5000,
        reference="am_batch",
    ),
    Row(
        "events_batch_split",
        "events batch, 100 per POST, API key",
        "split",
        at_least=5000,
        reference="am_batch",
    ),
)
LAYOUTS = {"serve": "`nabat serve`", "split": "`nabat api` + `nabat worker`"}


def machine() -> str:
    """CPU model, cores, memory, kernel and Python."""
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


def values(results: Results, name: str, key: str = "throughput") -> list[float]:
    """One measure of every run of a scenario (NaN where a run lacks it)."""
    return [float(run.get(key, math.nan)) for run in results.get(name, [])]


def median(results: Results, name: str, key: str = "throughput") -> float:
    """The median of a measure over the runs (NaN when there is none)."""
    found = [v for v in values(results, name, key) if not math.isnan(v)]
    return statistics.median(found) if found else math.nan


def spread(numbers: list[float], digits: int = 0) -> str:
    """``median (min … max)``; ``n/a`` for no numbers."""
    found = [v for v in numbers if not math.isnan(v)]
    if not found:
        return "n/a"
    text = f"{{:,.{digits}f}}"
    mid = text.format(statistics.median(found))
    if len(found) == 1:
        return mid
    return f"{mid} ({text.format(min(found))} … {text.format(max(found))})"


def largest(results: Results, name: str, key: str) -> str:
    """The largest value of a measure over the runs, formatted; ``n/a`` for none."""
    found = [v for v in values(results, name, key) if not math.isnan(v)]
    return f"{max(found):,.0f}" if found else "n/a"


ABSENT = ["Not measured in this run."]


def met(ok: bool) -> str:
    """The target column's verdict."""
    return "met" if ok else "**not met**"


def _short(results: Results, name: str) -> bool:
    """Whether some run delivered fewer items than it offered (time budget, errors)."""
    return any(run["arrived"] < run["offered"] for run in results.get(name, []))


def _target(row: Row, results: Results) -> tuple[str, str]:
    figure = median(results, row.name)
    if row.at_least is not None:
        return f"≥ {row.at_least:,.0f}/s", met(figure >= row.at_least)
    if row.near is not None:
        other = median(results, row.near)
        number = 1 + ROWS.index(next(r for r in ROWS if r.name == row.near))
        if math.isnan(other) or math.isnan(figure):
            return f"within 15 % of row {number}", met(False)
        difference = figure / other - 1
        return f"within 15 % of row {number}", f"{met(abs(difference) <= 0.15)} ({difference:+.0%})"
    errors = sum(values(results, row.name, "errors"))
    slowest = max(values(results, row.name, "max_ms"), default=math.inf)
    return "0 errors, answers < 10 s", met(errors == 0 and slowest < 10_000)


def throughput_table(results: Results) -> list[str]:
    """The main table: every Nabat figure with its target and its ratio to Alertmanager."""
    if not any(row.name in results for row in ROWS):
        return ABSENT
    lines = [
        "| # | workload (8 clients unless said) | Nabat | notifications/s end to end | "
        "× Alertmanager | target | | accepted/s | errors | slowest answer, ms | "
        "server CPU ms / notification |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    short = False
    for number, row in enumerate(ROWS, 1):
        if row.name not in results:
            continue
        reference = median(results, row.reference)
        ratio = median(results, row.name) / reference if reference else math.nan
        shown = "n/a" if math.isnan(ratio) else f"{ratio:.2f}"
        target, verdict = _target(row, results)
        mark = ""
        if _short(results, row.name):
            mark, short = " †", True
        lines.append(
            f"| {number} | {row.workload} | {LAYOUTS[row.layout]} | "
            f"{spread(values(results, row.name))}{mark} | {shown} | {target} | {verdict} | "
            f"{spread(values(results, row.name, 'accept_rate'))} | "
            f"{sum(values(results, row.name, 'errors')):,.0f} | "
            f"{largest(results, row.name, 'max_ms')} | "
            f"{spread(values(results, row.name, 'cpu_ms'), 2)} |"
        )
    if short:
        lines += [
            "",
            "† In some run not every offered notification arrived: the clients stopped at the "
            "time budget, or some requests failed; the figure is over those that arrived.",
        ]
    return lines


def references_table(results: Results, am_version: str) -> list[str]:
    """The references measured in the same run."""
    if not {"ceiling_256", "ceiling_8", "am_single", "am_batch"} & results.keys():
        return ABSENT
    rows = (
        ("ceiling_256", "aiohttp client alone → sink, 256 in flight"),
        ("ceiling_8", "aiohttp client alone → sink, 8 in flight"),
        ("am_single", f"Alertmanager {am_version}, 1 alert per POST, 8 clients"),
        ("am_batch", f"Alertmanager {am_version}, 100 alerts per POST, 8 clients"),
    )
    lines = [
        "| reference | items/s end to end | accepted/s | errors |",
        "| --- | --- | --- | --- |",
    ]
    for name, label in rows:
        if name in results:
            lines.append(
                f"| {label} | {spread(values(results, name))} | "
                f"{spread(values(results, name, 'accept_rate'))} | "
                f"{sum(values(results, name, 'errors')):,.0f} |"
            )
    return lines


def latency_table(results: Results) -> list[str]:
    """Accept → arrival under a paced load."""
    name = "latency"
    if name not in results:
        return ABSENT
    p99 = median(results, name, "p99_ms")
    return [
        "| measure | value | target | |",
        "| --- | --- | --- | --- |",
        f"| offered/s | {spread(values(results, name, 'offered_rate'))} | | |",
        f"| accept → arrival p50, ms | {spread(values(results, name, 'p50_ms'), 1)} | | |",
        f"| accept → arrival p99, ms | {spread(values(results, name, 'p99_ms'), 1)} | "
        f"≤ 50 ms | {met(p99 <= 50)} |",
        f"| errors | {sum(values(results, name, 'errors')):,.0f} | | |",
        f"| slowest answer, ms | {largest(results, name, 'max_ms')} | | |",
    ]


def crash_table(results: Results, limit_s: float) -> list[str]:
    """kill -9 under load, restart, recovery."""
    name = "crash"
    if name not in results:
        return ABSENT
    runs = results[name]
    recovered = [r["recovery_s"] for r in runs if not math.isnan(r["recovery_s"])]
    failed = len(runs) - len(recovered)
    figure = spread(recovered, 1)
    if failed:
        figure += f"; {failed} of {len(runs)} runs not recovered within {limit_s:.0f} s"
    ok = failed == 0 and bool(recovered) and statistics.median(recovered) <= 10
    return [
        "| measure | value | target | |",
        "| --- | --- | --- | --- |",
        f"| restart → every accepted notification arrived, s | {figure} | ≤ 10 s | {met(ok)} |",
        f"| restart → port open, s | {spread(values(results, name, 'listening_s'), 1)} | | |",
        f"| port open → every accepted notification arrived, s | "
        f"{spread(values(results, name, 'after_listening_s'), 1)} | | |",
        f"| load before the kill, s | {spread(values(results, name, 'killed_after_s'), 1)} | | |",
        f"| notifications accepted before the kill | {spread(values(results, name, 'accepted'))}"
        " | | |",
        f"| of them not yet arrived at the kill | "
        f"{spread(values(results, name, 'unsent_at_kill'))} | | |",
        f"| still missing at the end | {spread(values(results, name, 'missing'))} | 0 | |",
        f"| duplicates (arrived twice) | {spread(values(results, name, 'duplicates'))} | | |",
    ]


def other_table(results: Results) -> list[str]:
    """Figures kept from earlier issues: e-mail and the SQLite storage floor."""
    if not {"email_ceiling", "email", "floor"} & results.keys():
        return ABSENT
    lines = ["| measure | per second |", "| --- | --- |"]
    for name, label in (
        ("email_ceiling", "SMTP sink ceiling: aiosmtplib, 8 reused connections"),
        ("email", "Nabat EMAIL channel (`nabat serve`, pool of 8), batches of 100"),
        ("floor", "storage floor: events SQLite alone stores as event + delivery rows"),
    ):
        if name in results:
            lines.append(f"| {label} | {spread(values(results, name))} |")
    if "email" in results and "email_ceiling" in results:
        share = median(results, "email") / median(results, "email_ceiling")
        lines.append(f"| e-mail: share of the sink's ceiling (target ≥ 80 %) | {share:.0%} |")
    return lines


def render(
    results: Results,
    *,
    runs: int,
    am_version: str,
    limit_s: float,
    budget: tuple[float, float],
    note: str,
) -> str:
    """The whole Markdown report; ``budget``: seconds of posting, then of waiting."""
    text = Path(__file__).with_name("report_text.md").read_text(encoding="utf-8")
    parts = {
        "machine": machine(),
        "date": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "runs": str(runs),
        "note": note,
        "budget": f"clients stop taking new requests after {budget[0]:.0f} s, and a run "
        f"waits at most {budget[1]:.0f} s more for its deliveries",
        "throughput": "\n".join(throughput_table(results)),
        "references": "\n".join(references_table(results, am_version)),
        "latency": "\n".join(latency_table(results)),
        "crash": "\n".join(crash_table(results, limit_s)),
        "other": "\n".join(other_table(results)),
    }
    for key, value in parts.items():
        text = text.replace("{" + key + "}", value)
    return text
