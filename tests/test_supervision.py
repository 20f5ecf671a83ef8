"""Background loops survive failures: logged, counted, retried, reported by /readyz; and a
saturated connection pool answers 503 with Retry-After instead of hanging."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import CollectorRegistry, generate_latest

from nabat.app import create_app
from nabat.db.engine import create_engine, create_sessionmaker
from nabat.delivery.queue import NewDelivery, enqueue
from nabat.loops import BackgroundLoop, LoopHealth
from nabat.settings import Settings
from tests.conftest import ADMIN_PASSWORD, Backend, login
from tests.fakes.webhook import WebhookReceiver
from tests.support.content import notification_content
from tests.support.delivery import webhook_channel

SEND = "/api/v1/notifications/send"
NOTIFICATION = {
    "username": "ops",
    "serviceName": "db",
    "serviceUrl": "https://db.example.com",
    "status": "DOWN",
    "severity": "CRITICAL",
    "message": "db down",
}


async def _until(check: Callable[[], Awaitable[bool]], what: str, deadline: float = 15.0) -> None:
    """Wait until ``check()`` holds; fail naming ``what`` after ``deadline`` seconds."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    while not await check():
        if loop.time() > end:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.05)


class _Flaky(BackgroundLoop):
    name = "flaky"

    def __init__(self, health: LoopHealth, failures: int) -> None:
        super().__init__(health=health, idle_seconds=0.01)
        self.failures = failures
        self.rounds = 0

    async def round(self) -> bool:
        self.rounds += 1
        if self.rounds <= self.failures:
            raise RuntimeError(f"database went away (round {self.rounds})")
        return False


async def test_a_failing_loop_is_counted_reported_down_and_comes_back() -> None:
    registry = CollectorRegistry()
    health = LoopHealth(registry)
    loop = _Flaky(health, failures=2)
    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(stop))

    async def failing() -> bool:
        return "flaky" in health.down()

    await _until(failing, "the loop to be reported down")
    assert health.down()["flaky"].last_error == "RuntimeError: database went away (round 1)"

    async def recovered() -> bool:
        return loop.rounds > 2 and not health.down()

    await _until(recovered, "the loop to work again")
    stop.set()
    await task
    text = generate_latest(registry).decode()
    assert 'nabat_loop_failures_total{loop="flaky"} 2.0' in text
    assert 'nabat_loop_up{loop="flaky"} 1.0' in text


@pytest.fixture
def tiny_pool(settings: Settings) -> Settings:
    """One pooled connection, given up on quickly, and an in-process worker."""
    return settings.model_copy(
        update={
            "run_workers": True,
            "db_pool_size": 1,
            "db_max_overflow": 0,
            "db_pool_timeout": 0.3,
            "poll_seconds": 0.05,
        }
    )


@pytest.fixture
async def tiny_app(tiny_pool: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(tiny_pool)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def tiny_client(tiny_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=tiny_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        yield http


async def test_a_worker_whose_database_fails_comes_back_and_delivers_what_queued_meanwhile(
    tiny_app: FastAPI,
    tiny_client: httpx.AsyncClient,
    receiver: WebhookReceiver,
    backend: Backend,
) -> None:
    headers = await login(tiny_client, "admin", ADMIN_PASSWORD)
    channel_id = await webhook_channel(tiny_client, headers, receiver.url, isDefault=True)
    state = tiny_app.state.nabat
    # The only pooled connection is held elsewhere: every round of the worker fails.
    held = await state.engine.connect()
    await held.exec_driver_sql("SELECT 1")
    try:

        async def worker_down() -> bool:
            return "worker" in state.loop_health.down()

        await _until(worker_down, "the worker to be reported down")
        ready = await tiny_client.get("/readyz")
        assert ready.status_code == 503
        assert "worker" in {item["field"] for item in ready.json()["details"]}
        # Meanwhile another process (its own engine) queues a notification.
        other = create_engine(backend.url)
        try:
            async with create_sessionmaker(other)() as session:
                now = datetime.now(UTC)
                content = notification_content(
                    service="db",
                    status="DOWN",
                    severity="CRITICAL",
                    message="queued while the worker was down",
                    now=now,
                )
                await enqueue(
                    session,
                    [NewDelivery(1, channel_id, "WEBHOOK", content)],
                    now=now,
                    max_attempts=3,
                )
                await session.commit()
        finally:
            await other.dispose()
        assert receiver.received == []
    finally:
        await held.close()

    async def delivered() -> bool:
        return len(receiver.received) == 1

    await _until(delivered, "the notification queued meanwhile to arrive")
    assert receiver.received[0].json()["message"] == "queued while the worker was down"

    async def ready_again() -> bool:
        return (await tiny_client.get("/readyz")).status_code == 200

    await _until(ready_again, "/readyz to say ready again")
    metrics = (await tiny_client.get("/metrics", headers=headers)).text
    assert 'nabat_loop_up{loop="worker"} 1.0' in metrics
    assert 'nabat_loop_failures_total{loop="worker"}' in metrics


async def test_a_saturated_pool_answers_503_with_retry_after_and_stores_nothing(
    tiny_app: FastAPI, tiny_client: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    headers = await login(tiny_client, "admin", ADMIN_PASSWORD)
    await webhook_channel(tiny_client, headers, receiver.url, isDefault=True)
    state = tiny_app.state.nabat
    held = await state.engine.connect()
    await held.exec_driver_sql("SELECT 1")
    try:
        answers = await asyncio.gather(
            *(tiny_client.post(SEND, json=NOTIFICATION, headers=headers) for _ in range(20))
        )
    finally:
        await held.close()
    assert {answer.status_code for answer in answers} == {503}
    for answer in answers:
        assert answer.headers["retry-after"] == "1"
        assert answer.json()["code"] == "SERVICE_UNAVAILABLE"
    listed = await tiny_client.get("/api/v1/notifications/deliveries", headers=headers)
    assert listed.json()["total"] == 0
    # Once a connection is free again, the same request goes through.
    assert (await tiny_client.post(SEND, json=NOTIFICATION, headers=headers)).status_code == 200
