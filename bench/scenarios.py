"""The measured workloads. Each returns plain numbers; run.py repeats and reports them."""

from __future__ import annotations

import asyncio
import time
from email.message import EmailMessage

import aiohttp
import aiosmtplib
import httpx

from bench.harness import http_sink, json_call, login, nabat, percentile, smtp_sink, wait_count

WEBHOOK_TOTAL = 20_000
BATCH = 1000
EMAIL_TOTAL = 2000
CONCURRENCY = 256
# Systems posting to Nabat: a few at a time, as several monitors or app servers would.
PRODUCERS = 4


async def client_ceiling(
    kind: str, total: int = WEBHOOK_TOTAL, concurrency: int = CONCURRENCY
) -> float:
    """Requests/s one process's HTTP client (aiohttp or httpx) gets from the sink."""
    with http_sink() as port:
        url = f"http://127.0.0.1:{port}/ceiling"
        body = {"message": "x" * 200, "metadata": {"batch": 0}}
        queue = iter(range(total))
        start = time.perf_counter()
        if kind == "aiohttp":
            connector = aiohttp.TCPConnector(limit=concurrency)
            async with aiohttp.ClientSession(connector=connector) as session:

                async def worker_a() -> None:
                    for _ in queue:
                        async with session.post(url, json=body) as response:
                            await response.read()

                await asyncio.gather(*(worker_a() for _ in range(concurrency)))
        else:
            limits = httpx.Limits(
                max_connections=concurrency, max_keepalive_connections=concurrency
            )
            async with httpx.AsyncClient(limits=limits) as client:

                async def worker_h() -> None:
                    for _ in queue:
                        await client.post(url, json=body)

                await asyncio.gather(*(worker_h() for _ in range(concurrency)))
        return total / (time.perf_counter() - start)


async def webhook_channel(session: aiohttp.ClientSession, base: str, sink: int) -> dict[str, str]:
    """Log in as the bench admin and make a webhook to the sink the default channel;
    returns the admin's Authorization header."""
    headers = await login(session, base)
    await json_call(
        session,
        "POST",
        f"{base}/api/v1/notifications/channels",
        headers=headers,
        json={
            "name": "sink",
            "type": "WEBHOOK",
            "configuration": {"url": f"http://127.0.0.1:{sink}/hook"},
            "isDefault": True,
        },
    )
    return headers


def _notifications(batch: int, size: int) -> dict[str, object]:
    return {
        "notifications": [
            {
                "serviceName": "bench",
                "status": "DOWN",
                "severity": "ERROR",
                "message": "benchmark message",
                "metadata": {"batch": batch},
            }
            for _ in range(size)
        ]
    }


async def _arrivals(session: aiohttp.ClientSession, sink: int) -> list[tuple[float, int]]:
    body = await json_call(session, "GET", f"http://127.0.0.1:{sink}/_stats")
    return [(float(t), int(b)) for t, b in body["arrivals"]]


async def nabat_webhooks(*, split: bool = False) -> dict[str, float]:
    """20,000 webhooks through the batch send API to the sink: throughput and latency."""
    with http_sink() as sink, nabat(split=split) as base:
        async with aiohttp.ClientSession() as session:
            headers = await webhook_channel(session, base, sink)
            accepted: dict[int, float] = {}
            start = time.time()
            batches = iter(range(WEBHOOK_TOTAL // BATCH))

            async def producer() -> None:
                for batch in batches:
                    await json_call(
                        session,
                        "POST",
                        f"{base}/api/v1/notifications/send/batch",
                        headers=headers,
                        json=_notifications(batch, BATCH),
                    )
                    accepted[batch] = time.time()

            await asyncio.gather(*(producer() for _ in range(PRODUCERS)))
            accept_done = time.time()
            await wait_count(session, f"http://127.0.0.1:{sink}/_count", WEBHOOK_TOTAL)
            arrivals = await _arrivals(session, sink)
    last = max(t for t, _ in arrivals)
    latencies = [(t - accepted[b]) * 1000 for t, b in arrivals]
    return {
        "throughput": WEBHOOK_TOTAL / (last - start),
        "accept_rate": WEBHOOK_TOTAL / (accept_done - start),
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
    }


async def nabat_latency(
    rate: int = 1000, seconds: float = 10.0, chunk: int = 10
) -> dict[str, float]:
    """Offer ``rate`` notifications/s (batches of ``chunk``) and measure accept → arrival."""
    with http_sink() as sink, nabat() as base:
        async with aiohttp.ClientSession() as session:
            headers = await webhook_channel(session, base, sink)
            accepted: dict[int, float] = {}
            batches = int(rate * seconds / chunk)
            interval = chunk / rate
            start = time.perf_counter()
            pending: set[asyncio.Task[None]] = set()

            async def post(batch: int) -> None:
                await json_call(
                    session,
                    "POST",
                    f"{base}/api/v1/notifications/send/batch",
                    headers=headers,
                    json=_notifications(batch, chunk),
                )
                accepted[batch] = time.time()

            for batch in range(batches):
                delay = start + batch * interval - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                task = asyncio.create_task(post(batch))
                pending.add(task)
                task.add_done_callback(pending.discard)
            await asyncio.gather(*pending)
            offered = batches * chunk / (time.perf_counter() - start)
            await wait_count(session, f"http://127.0.0.1:{sink}/_count", batches * chunk)
            arrivals = await _arrivals(session, sink)
    latencies = [(t - accepted[b]) * 1000 for t, b in arrivals]
    return {
        "offered_rate": offered,
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
    }


def _mail(n: int) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "bench@example.org"
    message["To"] = "sink@example.org"
    message["Subject"] = f"bench {n}"
    message.set_content("benchmark message")
    return message


async def smtp_ceiling(connections: int = 8, total: int = EMAIL_TOTAL) -> float:
    """Messages/s that ``connections`` reused aiosmtplib connections get from the sink."""
    with smtp_sink() as port:
        queue = iter(range(total))
        start = time.perf_counter()

        async def worker() -> None:
            client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
            await client.connect()
            for n in queue:
                await client.send_message(_mail(n))
            await client.quit()

        await asyncio.gather(*(worker() for _ in range(connections)))
        return total / (time.perf_counter() - start)


async def nabat_email(total: int = EMAIL_TOTAL) -> float:
    """Messages/s of ``total`` e-mails through Nabat (8 pooled connections) to the sink."""
    with smtp_sink() as port, nabat({"NABAT_SMTP_POOL_SIZE": "8"}) as base:
        async with aiohttp.ClientSession() as session:
            headers = await login(session, base)
            channel = await json_call(
                session,
                "POST",
                f"{base}/api/v1/notifications/channels",
                headers=headers,
                json={
                    "name": "smtp sink",
                    "type": "EMAIL",
                    "configuration": {
                        "smtpHost": "127.0.0.1",
                        "smtpPort": port,
                        "encryption": "none",
                        "auth": False,
                        "fromEmail": "nabat@example.org",
                        "fromName": "Nabat bench",
                        "replyTo": "support@example.org",
                        "to": ["sink@example.org"],
                    },
                },
            )
            start = time.time()
            for batch in range(total // BATCH):
                body = _notifications(batch, BATCH)
                for item in body["notifications"]:  # type: ignore[attr-defined]
                    item["channelId"] = channel["id"]
                await json_call(
                    session,
                    "POST",
                    f"{base}/api/v1/notifications/send/batch",
                    headers=headers,
                    json=body,
                )
            await wait_count(session, f"http://127.0.0.1:{port + 1}/_count", total)
            return total / (time.time() - start)


async def apprise_webhooks(total: int = WEBHOOK_TOTAL) -> float:
    """Notifications/s Apprise's json:// plugin delivers to the same sink."""
    import apprise

    with http_sink() as port:
        notifier = apprise.Apprise()
        notifier.add(f"json://127.0.0.1:{port}/hook")
        start = time.perf_counter()
        semaphore = asyncio.Semaphore(CONCURRENCY)

        async def one() -> None:
            async with semaphore:
                await notifier.async_notify(body="benchmark message", title="bench")

        await asyncio.gather(*(one() for _ in range(total)))
        return total / (time.perf_counter() - start)
