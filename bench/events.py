"""Events in: single events from many clients, batches, and accept → delivery latency."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp

from bench.harness import http_sink, json_call, nabat, percentile, wait_count
from bench.scenarios import webhook_channel

SINGLE_TOTAL = 20_000
SINGLE_CLIENTS = 64
BATCH = 1000
BATCHES = 50
BATCH_PRODUCERS = 2


def event(n: int) -> dict[str, Any]:
    """A realistic event; the sink reads ``labels.batch`` back from the webhook payload."""
    return {
        "type": "service.down",
        "severity": "ERROR",
        "source": {"name": "uptime", "url": "https://status.example.org"},
        "subject": {
            "objectType": "service",
            "objectId": str(n % 100),
            "title": "Billing API",
            "status": "DOWN",
            "previousStatus": "UP",
        },
        "message": "Billing API does not answer",
        "labels": {"env": "prod", "batch": str(n)},
    }


async def _setup(session: aiohttp.ClientSession, base: str, sink: int) -> dict[str, str]:
    """A default webhook channel to the sink, and an API key's Authorization header."""
    headers = await webhook_channel(session, base, sink)
    key = await json_call(
        session,
        "POST",
        f"{base}/api/v1/api-keys",
        headers=headers,
        json={"name": "bench", "scopes": ["events:write"]},
    )
    return {"Authorization": f"Bearer {key['key']}"}


async def events_single(total: int = SINGLE_TOTAL, clients: int = SINGLE_CLIENTS) -> float:
    """Events/s accepted one per request from ``clients`` concurrent clients (``nabat api``:
    each event and its planned delivery durable before the answer; nothing is sent)."""
    with http_sink() as sink, nabat(api_only=True) as base:
        connector = aiohttp.TCPConnector(limit=clients)
        async with aiohttp.ClientSession(connector=connector) as session:
            headers = await _setup(session, base, sink)
            numbers = iter(range(total))
            url = f"{base}/api/v1/events"
            start = time.perf_counter()

            async def client() -> None:
                for n in numbers:
                    await json_call(session, "POST", url, headers=headers, json=event(n))

            await asyncio.gather(*(client() for _ in range(clients)))
            return total / (time.perf_counter() - start)


async def _post_batches(
    session: aiohttp.ClientSession,
    base: str,
    headers: dict[str, str],
    batches: int,
    size: int,
    producers: int,
) -> float:
    """Post ``batches`` batches of ``size`` events from ``producers``; when the first began."""
    url = f"{base}/api/v1/events/batch"
    # Encoded before the clock starts: the load generator shares the 2 cores, and
    # encoding 1,000 events is a producer's work, not Nabat's.
    bodies = [
        json.dumps({"events": [event(b * size + i) for i in range(size)]}).encode()
        for b in range(batches)
    ]
    queue = iter(bodies)
    posting = {**headers, "Content-Type": "application/json"}
    start = time.perf_counter()

    async def producer() -> None:
        for body in queue:
            await json_call(session, "POST", url, headers=posting, data=body)

    await asyncio.gather(*(producer() for _ in range(producers)))
    return start


async def events_batched(
    batches: int = BATCHES, size: int = BATCH, producers: int = BATCH_PRODUCERS
) -> float:
    """Events/s accepted in batches of ``size`` (``nabat api``: durable on answer, routed
    afterwards by a router, which ``nabat api`` alone does not run)."""
    with http_sink() as sink, nabat(api_only=True) as base:
        async with aiohttp.ClientSession() as session:
            headers = await _setup(session, base, sink)
            start = await _post_batches(session, base, headers, batches, size, producers)
            return batches * size / (time.perf_counter() - start)


async def events_batched_delivered(
    batches: int = 20, size: int = BATCH, producers: int = BATCH_PRODUCERS
) -> dict[str, float]:
    """Batches to ``nabat serve``: accepted/s, and events/s from the first post until the
    last event's webhook arrived (accepted, routed and delivered in one process)."""
    with http_sink() as sink, nabat() as base:
        async with aiohttp.ClientSession() as session:
            headers = await _setup(session, base, sink)
            start = await _post_batches(session, base, headers, batches, size, producers)
            accepted = time.perf_counter() - start
            await wait_count(session, f"http://127.0.0.1:{sink}/_count", batches * size)
            delivered = time.perf_counter() - start
    return {"accept_rate": batches * size / accepted, "throughput": batches * size / delivered}


async def events_latency(rate: int = 1000, seconds: float = 10.0) -> dict[str, float]:
    """Offer ``rate`` single events/s to ``nabat serve``; accept → arrival at the sink."""
    with http_sink() as sink, nabat() as base:
        async with aiohttp.ClientSession() as session:
            headers = await _setup(session, base, sink)
            url = f"{base}/api/v1/events"
            total = int(rate * seconds)
            accepted: dict[int, float] = {}
            pending: set[asyncio.Task[None]] = set()
            start = time.perf_counter()

            async def post(n: int) -> None:
                await json_call(session, "POST", url, headers=headers, json=event(n))
                accepted[n] = time.time()

            for n in range(total):
                delay = start + n / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                task = asyncio.create_task(post(n))
                pending.add(task)
                task.add_done_callback(pending.discard)
            await asyncio.gather(*pending)
            offered = total / (time.perf_counter() - start)
            await wait_count(session, f"http://127.0.0.1:{sink}/_count", total)
            body = await json_call(session, "GET", f"http://127.0.0.1:{sink}/_stats")
    latencies = [(float(t) - accepted[int(b)]) * 1000 for t, b in body["arrivals"]]
    return {
        "offered_rate": offered,
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
    }
