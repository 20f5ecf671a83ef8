"""Every producer endpoint under 500 concurrent clients, over real HTTP, on SQLite and
PostgreSQL: no errors, no answer later than 10 s, and everything accepted is delivered."""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
import uvicorn

from nabat.app import create_app
from nabat.settings import Settings
from tests.conftest import ADMIN_PASSWORD
from tests.fakes.webhook import WebhookReceiver
from tests.fixtures import payload

CLIENTS = 500
# An answer later than this counts as a failure (the client gives up on it).
ANSWER_DEADLINE = 10.0

NOTIFICATION = {
    "username": "ops",
    "serviceName": "billing",
    "serviceUrl": "https://billing.example.org",
    "status": "DOWN",
    "severity": "CRITICAL",
    "message": "billing is down",
}
EVENT = {"type": "service.down", "severity": "CRITICAL", "message": "billing is down"}


def _alerts(name: str) -> Callable[[int], dict[str, Any]]:
    """Request ``n``'s copy of a receiver fixture, each alert a distinct one."""
    fixture = payload(name)

    def body(n: int) -> dict[str, Any]:
        copied: dict[str, Any] = copy.deepcopy(fixture)
        for alert in copied["alerts"]:
            alert["fingerprint"] = f"{alert['fingerprint']}-{n}"
        return copied

    return body


@dataclass(frozen=True)
class Producer:
    """One producer endpoint: its path, request ``n``'s body, and how many notifications
    one request becomes."""

    path: str
    body: Callable[[int], dict[str, Any]]
    per_request: int
    with_key: bool = False


PRODUCERS = {
    "send": Producer("/api/v1/notifications/send", lambda n: NOTIFICATION, 1),
    "send-batch": Producer(
        "/api/v1/notifications/send/batch", lambda n: {"notifications": [NOTIFICATION] * 2}, 2
    ),
    "events": Producer("/api/v1/events", lambda n: EVENT, 1),
    "events-batch": Producer("/api/v1/events/batch", lambda n: {"events": [EVENT] * 2}, 2),
    "alertmanager": Producer(
        "/api/v1/integrations/alertmanager",
        _alerts("alertmanager_v4.json"),
        len(payload("alertmanager_v4.json")["alerts"]),
        with_key=True,
    ),
    "grafana": Producer(
        "/api/v1/integrations/grafana",
        _alerts("grafana_webhook.json"),
        len(payload("grafana_webhook.json")["alerts"]),
        with_key=True,
    ),
}


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[str]:
    """A real HTTP server on 127.0.0.1 running Nabat with its in-process worker."""
    served = settings.model_copy(update={"run_workers": True, "poll_seconds": 0.1})
    config = uvicorn.Config(
        create_app(served), host="127.0.0.1", port=0, log_level="warning", backlog=2048
    )
    instance = uvicorn.Server(config)
    task = asyncio.create_task(instance.serve())
    while not instance.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    port = instance.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        instance.should_exit = True
        await task


async def _setup(http: aiohttp.ClientSession, base: str, sink: str) -> dict[str, str]:
    """A default WEBHOOK channel into ``sink``; the admin's token and an API key."""
    async with http.post(
        f"{base}/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
    ) as answer:
        token = {"Authorization": f"Bearer {(await answer.json())['token']}"}
    channel = {"name": "sink", "type": "WEBHOOK", "configuration": {"url": sink}}
    async with http.post(
        f"{base}/api/v1/notifications/channels", json={**channel, "isDefault": True}, headers=token
    ) as answer:
        assert answer.status == 201, await answer.text()
    async with http.post(
        f"{base}/api/v1/api-keys", json={"name": "producer"}, headers=token
    ) as answer:
        assert answer.status == 201, await answer.text()
        key = (await answer.json())["key"]
    return {"token": token["Authorization"], "key": f"Bearer {key}"}


@pytest.mark.parametrize("name", sorted(PRODUCERS))
async def test_500_concurrent_clients_get_answers_and_everything_is_delivered(
    name: str, server: str, receiver: WebhookReceiver
) -> None:
    producer = PRODUCERS[name]
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=ANSWER_DEADLINE)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        auth = await _setup(http, server, receiver.url)
        headers = {"Authorization": auth["key"] if producer.with_key else auth["token"]}
        start = asyncio.Event()

        async def client(n: int) -> str:
            await start.wait()
            try:
                async with http.post(
                    server + producer.path, json=producer.body(n), headers=headers
                ) as answer:
                    text = await answer.text()
                    return "ok" if answer.status < 300 else f"{answer.status}: {text[:200]}"
            except TimeoutError:
                return f"no answer within {ANSWER_DEADLINE} s"

        clients = [asyncio.create_task(client(n)) for n in range(CLIENTS)]
        start.set()
        outcomes = await asyncio.gather(*clients)
    failures = [outcome for outcome in outcomes if outcome != "ok"]
    assert failures == [], f"{len(failures)} of {CLIENTS} failed, e.g. {failures[:3]}"
    expected = CLIENTS * producer.per_request
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(60):
            await receiver.until(expected)
    assert len(receiver.received) == expected
