"""What clients send, and the two ways they send it: closed loop and paced (open loop).

Every item carries the marker ``nbid-<n>`` the sink reads back (bench/sink.py). Bodies
are encoded before the clock starts: encoding is the producer's work, not the server's,
and the load generator shares the machine's cores with the servers it measures.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

Item = Callable[[int], Any]


def notification(n: int) -> dict[str, Any]:
    """One notification as seed 002's send API takes it."""
    return {
        "serviceName": "billing-api",
        "serviceUrl": "https://billing.example.org",
        "status": "DOWN",
        "severity": "ERROR",
        "message": f"Billing API does not answer nbid-{n}",
        "metadata": {"check": "http", "n": n},
    }


def event(n: int) -> dict[str, Any]:
    """One event as ``POST /api/v1/events`` takes it (a distinct subject each)."""
    return {
        "type": "service.down",
        "severity": "ERROR",
        "source": {"name": "uptime", "url": "https://status.example.org"},
        "subject": {
            "objectType": "service",
            "objectId": f"svc-{n}",
            "title": "Billing API",
            "status": "DOWN",
            "previousStatus": "UP",
        },
        "message": f"Billing API does not answer nbid-{n}",
        "labels": {"env": "prod", "n": str(n)},
    }


def alert(n: int) -> dict[str, Any]:
    """One alert as Alertmanager's ``POST /api/v2/alerts`` takes it (a distinct label set)."""
    return {
        "labels": {
            "alertname": "BillingDown",
            "severity": "critical",
            "instance": f"nbid-{n}",
        },
        "annotations": {"summary": "Billing API does not answer"},
        "generatorURL": "https://status.example.org",
    }


@dataclass(frozen=True)
class Shape:
    """How items are put in a request body: one per POST, or ``per_post`` in a list."""

    item: Item
    per_post: int = 1
    # The body: None, the item itself (one per POST); "", a bare list of items (as
    # Alertmanager takes them); else an object holding the list under this key.
    wrap: str | None = None

    def bodies(self, total: int) -> list[tuple[range, bytes]]:
        """``total`` items in request bodies, each with the range of markers it carries."""
        out: list[tuple[range, bytes]] = []
        for start in range(0, total, self.per_post):
            numbers = range(start, min(total, start + self.per_post))
            items = [self.item(n) for n in numbers]
            document: Any = (
                items[0] if self.wrap is None else {self.wrap: items} if self.wrap else items
            )
            out.append((numbers, orjson.dumps(document)))
        return out


@dataclass
class Load:
    """What one load run did, from the client's side."""

    started: float = 0.0  # epoch seconds of the first POST
    issued: float = 0.0  # epoch seconds when the last POST left (paced loads)
    finished: float = 0.0  # epoch seconds of the last answer
    accepted: dict[int, float] = field(default_factory=dict)  # marker -> answer time
    requests: int = 0
    errors: int = 0
    error_sample: str = ""
    max_ms: float = 0.0
    stopped_early: bool = False  # the time budget ran out before every body was posted

    @property
    def offered_rate(self) -> float:
        """Requests per second as they left, first POST to last (paced loads)."""
        return self.requests / max(self.issued - self.started, 1e-9)

    @property
    def accept_rate(self) -> float:
        """Items accepted per second, first POST to last answer."""
        return len(self.accepted) / max(self.finished - self.started, 1e-9)


async def _post(
    session: aiohttp.ClientSession,
    url: str,
    headers: dict[str, str],
    numbers: range,
    body: bytes,
    load: Load,
) -> None:
    began = time.perf_counter()
    try:
        async with session.post(url, data=body, headers=headers) as response:
            text = await response.read()
            ok = response.status < 300
            status = str(response.status)
    except (TimeoutError, aiohttp.ClientError, OSError) as error:
        ok, text, status = False, repr(error).encode(), "exception"
    now = time.time()
    load.requests += 1
    load.max_ms = max(load.max_ms, (time.perf_counter() - began) * 1000)
    if ok:
        for n in numbers:
            load.accepted[n] = now
    else:
        load.errors += 1
        if not load.error_sample:
            load.error_sample = f"{status}: {text[:300].decode(errors='replace')}"


def _headers(headers: dict[str, str]) -> dict[str, str]:
    return {**headers, "Content-Type": "application/json"}


async def closed_loop(
    session: aiohttp.ClientSession,
    url: str,
    headers: dict[str, str],
    bodies: list[tuple[range, bytes]],
    clients: int,
    budget_s: float,
    stop: asyncio.Event | None = None,
) -> Load:
    """``clients`` concurrent clients, each posting its next body once the last is answered.

    Stops taking new bodies after ``budget_s`` seconds, or when ``stop`` is set.
    """
    load = Load()
    queue = iter(bodies)
    posting = _headers(headers)
    deadline = time.monotonic() + budget_s

    async def client() -> None:
        for numbers, body in queue:
            if time.monotonic() > deadline or (stop is not None and stop.is_set()):
                load.stopped_early = True
                return
            await _post(session, url, posting, numbers, body, load)

    load.started = time.time()
    await asyncio.gather(*(client() for _ in range(clients)))
    load.finished = time.time()
    return load


async def paced(
    session: aiohttp.ClientSession,
    url: str,
    headers: dict[str, str],
    bodies: list[tuple[range, bytes]],
    rate: float,
) -> Load:
    """Open loop: one body every ``1/rate`` seconds, whether or not earlier ones were answered."""
    load = Load()
    posting = _headers(headers)
    pending: set[asyncio.Task[None]] = set()
    start = time.perf_counter()
    load.started = time.time()
    for index, (numbers, body) in enumerate(bodies):
        delay = start + index / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(_post(session, url, posting, numbers, body, load))
        pending.add(task)
        task.add_done_callback(pending.discard)
    load.issued = time.time()
    await asyncio.gather(*pending)
    load.finished = time.time()
    return load


def connector(clients: int) -> aiohttp.TCPConnector:
    """A client connection pool with room for ``clients`` connections."""
    return aiohttp.TCPConnector(limit=max(clients, 16))
