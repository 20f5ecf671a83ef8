"""The measured workloads. Each returns a dict of plain numbers; run.py repeats and reports.

Every figure is end to end: from the first POST until the last accepted item arrived at
the sink (bench/sink.py), counted by the marker each item carries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import aiohttp

from bench.alertmanager import alertmanager
from bench.harness import (
    SERVE,
    Layout,
    http_sink,
    json_call,
    login,
    nabat,
    percentile,
    sink_arrivals,
    sink_counts,
    wait_arrivals,
)
from bench.load import Item, Load, Shape, alert, closed_loop, connector, event, notification, paced

Endpoint = Literal["send", "events"]
Auth = Literal["token", "key"]
Result = dict[str, float]

PATHS: dict[tuple[Endpoint, bool], str] = {
    ("send", False): "/api/v1/notifications/send",
    ("send", True): "/api/v1/notifications/send/batch",
    ("events", False): "/api/v1/events",
    ("events", True): "/api/v1/events/batch",
}


@dataclass(frozen=True)
class Budget:
    """Time limits that keep a slow build from making the bench take hours.

    ``post_s``: clients stop taking new bodies after this long (the figure is then over
    what was sent, and the report says so); ``drain_s``: how long to wait for the
    accepted items to arrive after the last answer.
    """

    post_s: float = 20.0
    drain_s: float = 30.0


async def outcome(
    session: aiohttp.ClientSession, sink: int, load: Load, offered: int, drain_s: float
) -> Result:
    """Wait for the accepted items to arrive, then the figures of one run."""
    await wait_arrivals(session, sink, len(load.accepted), drain_s)
    arrivals = await sink_arrivals(session, sink)
    counts = await sink_counts(session, sink)
    arrived = [n for n in load.accepted if n in arrivals]
    last = max((arrivals[n] for n in arrived), default=load.finished)
    latencies = [(arrivals[n] - load.accepted[n]) * 1000 for n in arrived]
    return {
        "throughput": len(arrived) / max(last - load.started, 1e-9),
        "accept_rate": load.accept_rate,
        "offered": offered,
        "posted": load.requests,
        "accepted": len(load.accepted),
        "arrived": len(arrived),
        "errors": load.errors,
        "duplicates": counts["duplicates"],
        "max_ms": load.max_ms,
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
    }


def _report_errors(name: str, load: Load) -> None:
    if load.errors:
        print(f"  {name}: {load.errors} errors, first: {load.error_sample}", flush=True)


async def client_ceiling(clients: int, total: int) -> Result:
    """Requests/s the aiohttp client alone gets from the sink (the load generator's ceiling)."""
    with http_sink() as sink:
        bodies = Shape(notification).bodies(total)
        async with aiohttp.ClientSession(connector=connector(clients)) as session:
            load = await closed_loop(
                session, f"http://127.0.0.1:{sink}/ceiling", {}, bodies, clients, 600.0
            )
            _report_errors("ceiling", load)
            return await outcome(session, sink, load, total, 10.0)


async def alertmanager_run(per_post: int, clients: int, total: int, budget: Budget) -> Result:
    """Alerts/s through Alertmanager into the sink, ``per_post`` alerts per POST."""
    with http_sink() as sink, alertmanager(sink) as base:
        bodies = Shape(alert, per_post, wrap="").bodies(total)
        async with aiohttp.ClientSession(connector=connector(clients)) as session:
            load = await closed_loop(
                session, f"{base}/api/v2/alerts", {}, bodies, clients, budget.post_s
            )
            _report_errors("alertmanager", load)
            return await outcome(session, sink, load, total, budget.drain_s)


async def setup(session: aiohttp.ClientSession, base: str, sink: int) -> dict[Auth, dict[str, str]]:
    """A default WEBHOOK channel into the sink; the admin's login token and a project API
    key (default scopes: send notifications, write events), as Authorization headers."""
    token = await login(session, base)
    await json_call(
        session,
        "POST",
        f"{base}/api/v1/notifications/channels",
        headers=token,
        json={
            "name": "sink",
            "type": "WEBHOOK",
            "configuration": {"url": f"http://127.0.0.1:{sink}/hook"},
            "isDefault": True,
        },
    )
    key = await json_call(
        session, "POST", f"{base}/api/v1/api-keys", headers=token, json={"name": "bench"}
    )
    return {"token": token, "key": {"Authorization": f"Bearer {key['key']}"}}


def shape(endpoint: Endpoint, per_post: int, item: Item | None = None) -> Shape:
    """How ``endpoint`` takes ``per_post`` items (``item``, else its usual one) in one POST."""
    item = item or (notification if endpoint == "send" else event)
    if per_post == 1:
        return Shape(item)
    return Shape(item, per_post, wrap="notifications" if endpoint == "send" else "events")


WARM = 10_000_000  # markers of warm-up items, posted and delivered before the clock starts


async def warm_up(
    session: aiohttp.ClientSession,
    sink: int,
    url: str,
    headers: dict[str, str],
    endpoint: Endpoint,
    per_post: int,
) -> None:
    """A few items through the same path until they arrive (the worker is up, connections
    and caches are warm); then the sink forgets them."""
    item = notification if endpoint == "send" else event
    bodies = shape(endpoint, per_post, lambda n: item(WARM + n)).bodies(8 * per_post)
    load = await closed_loop(session, url, headers, bodies, 4, 60.0)
    if load.errors:
        raise RuntimeError(f"warm-up failed: {load.error_sample}")
    if not await wait_arrivals(session, sink, len(load.accepted), 60.0):
        raise RuntimeError("warm-up items did not arrive within 60 s")
    await json_call(session, "POST", f"http://127.0.0.1:{sink}/_reset")


async def nabat_run(
    layout: Layout,
    endpoint: Endpoint,
    auth: Auth,
    *,
    per_post: int = 1,
    clients: int = 8,
    total: int = 10_000,
    budget: Budget,
) -> Result:
    """Notifications/s from ``clients`` closed-loop clients through fresh Nabat processes
    into the sink via one WEBHOOK channel; also the servers' CPU ms per notification."""
    with http_sink() as sink, nabat(layout) as server:
        bodies = shape(endpoint, per_post).bodies(total)
        async with aiohttp.ClientSession(connector=connector(clients)) as session:
            headers = (await setup(session, server.base, sink))[auth]
            url = server.base + PATHS[endpoint, per_post > 1]
            await warm_up(session, sink, url, headers, endpoint, per_post)
            cpu = server.cpu_seconds()
            load = await closed_loop(session, url, headers, bodies, clients, budget.post_s)
            _report_errors(f"{endpoint} {auth} {layout.name}", load)
            result = await outcome(session, sink, load, total, budget.drain_s)
            used = server.cpu_seconds() - cpu
    return result | {"cpu_ms": used * 1000 / max(result["arrived"], 1)}


async def latency(rate: float, seconds: float, budget: Budget, layout: Layout = SERVE) -> Result:
    """Open loop: ``rate`` notifications/s offered to the send API (one per POST, login
    token) for ``seconds``; accept (the answer) → arrival at the sink."""
    total = int(rate * seconds)
    with http_sink() as sink, nabat(layout) as server:
        bodies = shape("send", 1).bodies(total)
        async with aiohttp.ClientSession(connector=connector(256)) as session:
            headers = (await setup(session, server.base, sink))["token"]
            url = server.base + PATHS["send", False]
            await warm_up(session, sink, url, headers, "send", 1)
            load = await paced(session, url, headers, bodies, rate)
            _report_errors("latency", load)
            result = await outcome(session, sink, load, total, budget.drain_s)
    return result | {"offered_rate": load.offered_rate}
