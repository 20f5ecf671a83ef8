"""Fallback chains and circuit breakers, through the API and a real worker, against two
local webhook receivers: a chain moves on when its channel fails permanently, is off or
is paused; a channel that keeps failing is paused, tried once, and closed again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from nabat.channels.outbound import Outbound
from nabat.channels.webhook_sender import WebhookSender
from nabat.clock import FrozenClock
from nabat.delivery.metrics import Metrics
from nabat.delivery.worker import Worker
from nabat.models.delivery import ChannelHealth, Delivery, DeliveryAttempt
from nabat.security.ssrf import OutboundPolicy
from nabat.settings import Settings
from tests.fakes.webhook import Scripted, WebhookReceiver, running_receiver

CHANNELS = "/api/v1/notifications/channels"
RULES = "/api/v1/rules"
EVENTS = "/api/v1/events"


@dataclass
class Chain:
    client: httpx.AsyncClient
    headers: dict[str, str]
    app: FastAPI
    settings: Settings
    primary: WebhookReceiver
    secondary: WebhookReceiver
    outbound: Outbound
    ids: dict[str, int]
    clock: FrozenClock | None = None

    def worker(self) -> Worker:
        """A worker on a clock frozen at the present (set once, advanced by tests)."""
        if self.clock is None:
            self.clock = FrozenClock(datetime.now(UTC) + timedelta(seconds=1))
        state = self.app.state.nabat
        return Worker(
            sessions=state.sessions,
            senders={"WEBHOOK": WebhookSender(self.outbound, self.clock)},
            box=state.box,
            clock=self.clock,
            settings=self.settings,
            metrics=Metrics(),
            name="chain-worker",
        )

    async def event(self, message: str = "billing is down") -> int:
        body = {"type": "service.down", "severity": "CRITICAL", "message": message}
        response = await self.client.post(EVENTS, json=body, headers=self.headers)
        assert response.status_code in (200, 201, 202), response.text
        [delivery] = response.json()["deliveries"]
        delivery_id: int = delivery["id"]
        return delivery_id

    async def delivery(self, delivery_id: int) -> dict[str, Any]:
        response = await self.client.get(
            f"/api/v1/notifications/deliveries/{delivery_id}", headers=self.headers
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def status(self, name: str) -> dict[str, Any]:
        response = await self.client.get(
            f"{CHANNELS}/{self.ids[name]}/status", headers=self.headers
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


async def _channel(client: httpx.AsyncClient, headers: dict[str, str], name: str, url: str) -> int:
    body = {"name": name, "type": "WEBHOOK", "configuration": {"url": url}}
    response = await client.post(CHANNELS, json=body, headers=headers)
    assert response.status_code == 201, response.text
    channel_id: int = response.json()["id"]
    return channel_id


@pytest.fixture
async def chain(
    client: httpx.AsyncClient, admin_headers: dict[str, str], app: FastAPI, settings: Settings
) -> AsyncIterator[Chain]:
    """Channels A (primary) and B (its fallback) on two receivers, and a rule sending
    service.down to A with B as the fallback; three attempts per hop, circuits that open
    after two transient failures for 60 s."""
    tuned = settings.model_copy(
        update={
            "max_attempts": 3,
            "retry_base_seconds": 5.0,
            "circuit_failure_threshold": 2,
            "circuit_open_seconds": 60.0,
        }
    )
    outbound = Outbound(OutboundPolicy(["127.0.0.0/8"]))
    async for primary in running_receiver():
        async for secondary in running_receiver():
            ids = {
                "A": await _channel(client, admin_headers, "primary", primary.url),
                "B": await _channel(client, admin_headers, "secondary", secondary.url),
            }
            response = await client.post(
                RULES,
                json={
                    "name": "down → A, else B",
                    "match": {"types": ["service.down"]},
                    "actions": [{"channelId": ids["A"], "fallbackChannelIds": [ids["B"]]}],
                },
                headers=admin_headers,
            )
            assert response.status_code == 201, response.text
            yield Chain(client, admin_headers, app, tuned, primary, secondary, outbound, ids)
    await outbound.close()


async def test_a_permanent_failure_moves_the_message_to_the_next_channel_recorded(
    chain: Chain,
) -> None:
    chain.primary.script.append(Scripted(404, "no such hook"))
    # The fallback's first attempt fails transiently: the retry goes to it again, never
    # back to the channel already left.
    chain.secondary.script.append(Scripted(503, "busy"))
    delivery_id = await chain.event()
    worker = chain.worker()
    await worker.run_until_idle()
    assert chain.clock is not None
    chain.clock.advance(60)
    await worker.run_until_idle()
    delivery = await chain.delivery(delivery_id)
    assert delivery["status"] == "SENT"
    assert delivery["channelId"] == chain.ids["B"]
    assert [(hop["channelId"], hop["failureClass"]) for hop in delivery["hops"]] == [
        (chain.ids["A"], "gone")
    ]
    assert delivery["fallback"] == []
    assert [(a["channelId"], a["outcome"]) for a in delivery["attemptLog"]] == [
        (chain.ids["A"], "failed"),
        (chain.ids["B"], "failed"),
        (chain.ids["B"], "sent"),
    ]
    assert len(chain.primary.requests_for(delivery["idempotencyId"])) == 1
    assert len(chain.secondary.requests_for(delivery["idempotencyId"])) == 2


async def test_an_open_circuit_sends_the_chain_to_the_next_channel_at_once(chain: Chain) -> None:
    chain.primary.default = Scripted(503, "down for maintenance")
    first, second = await chain.event("one"), await chain.event("two")
    worker = chain.worker()
    await worker.run_until_idle()
    # Two transient failures in a row opened A's circuit.
    status = await chain.status("A")
    assert status["circuit"]["state"] == "open"
    assert status["circuit"]["retryAt"] is not None
    tried = len(chain.primary.received)
    third = await chain.event("three")
    await worker.run_until_idle()
    assert len(chain.primary.received) == tried, "an open circuit must not be tried"
    delivery = await chain.delivery(third)
    assert delivery["status"] == "SENT"
    assert delivery["channelId"] == chain.ids["B"]
    assert "circuit open" in delivery["hops"][0]["reason"]
    assert delivery["attemptLog"] == [
        {**delivery["attemptLog"][0], "channelId": chain.ids["B"], "outcome": "sent"}
    ]
    # The two that opened it were waiting for their retry on A; they move on too.
    assert chain.clock is not None
    chain.clock.advance(30)
    await worker.run_until_idle()
    for delivery_id in (first, second):
        moved = await chain.delivery(delivery_id)
        assert (moved["status"], moved["channelId"]) == ("SENT", chain.ids["B"])


async def test_with_every_channel_down_the_message_waits_and_is_delivered_once_one_recovers(
    chain: Chain,
) -> None:
    chain.primary.default = Scripted(503, "down")
    chain.secondary.default = Scripted(502, "bad gateway")
    delivery_id = await chain.event()
    worker = chain.worker()
    await worker.run_until_idle()
    clock = chain.clock
    assert clock is not None
    for _ in range(3):
        clock.advance(20)
        await worker.run_until_idle()
    waiting = await chain.delivery(delivery_id)
    assert waiting["status"] in ("QUEUED", "FAILED")
    assert waiting["channelId"] == chain.ids["B"]
    assert (await chain.status("B"))["circuit"]["state"] == "open"
    chain.secondary.default = Scripted(200, "ok")
    clock.advance(120)
    await worker.run_until_idle()
    delivered = await chain.delivery(delivery_id)
    assert delivered["status"] == "SENT"
    assert delivered["channelId"] == chain.ids["B"]
    on_b = [a for a in delivered["attemptLog"] if a["channelId"] == chain.ids["B"]]
    assert on_b[-1]["outcome"] == "sent"
    assert len(chain.secondary.requests_for(delivered["idempotencyId"])) == len(on_b)
    # The trial that succeeded closed B's circuit.
    assert (await chain.status("B"))["circuit"] == {"state": "closed", "opens": 0, "retryAt": None}


async def test_a_disabled_first_channel_routes_to_the_next_with_a_note(chain: Chain) -> None:
    response = await chain.client.put(
        f"{CHANNELS}/{chain.ids['A']}", json={"enabled": False}, headers=chain.headers
    )
    assert response.status_code == 200, response.text
    body = {"type": "service.down", "severity": "CRITICAL", "message": "down"}
    answer = await chain.client.post(EVENTS, json=body, headers=chain.headers)
    assert answer.status_code in (200, 201, 202), answer.text
    [delivery] = answer.json()["deliveries"]
    assert delivery["channelId"] == chain.ids["B"]
    assert any(
        note["code"] == "CHANNEL_DISABLED" and "next channel of its chain" in note["message"]
        for note in answer.json()["notes"]
    )
    await chain.worker().run_until_idle()
    assert len(chain.secondary.received) == 1
    assert chain.primary.received == []


async def test_a_channel_switched_off_after_routing_hands_its_deliveries_on(chain: Chain) -> None:
    delivery_id = await chain.event()
    response = await chain.client.put(
        f"{CHANNELS}/{chain.ids['A']}", json={"enabled": False}, headers=chain.headers
    )
    assert response.status_code == 200, response.text
    await chain.worker().run_until_idle()
    delivery = await chain.delivery(delivery_id)
    assert (delivery["status"], delivery["channelId"]) == ("SENT", chain.ids["B"])
    assert "disabled" in delivery["hops"][0]["reason"]
    assert chain.primary.received == []


async def test_a_half_open_circuit_lets_one_trial_through_and_reopens_for_longer(
    chain: Chain,
) -> None:
    # Without a chain: a rule for another type straight to A.
    response = await chain.client.post(
        RULES,
        json={
            "name": "up → A only",
            "match": {"types": ["service.up"]},
            "actions": [{"channelId": chain.ids["A"]}],
        },
        headers=chain.headers,
    )
    assert response.status_code == 201, response.text
    chain.primary.default = Scripted(503, "down")
    body = {"type": "service.up", "severity": "INFO", "message": "up"}
    ids = []
    for _ in range(4):
        answer = await chain.client.post(EVENTS, json=body, headers=chain.headers)
        assert answer.status_code in (200, 201, 202), answer.text
        ids.append(answer.json()["deliveries"][0]["id"])
    worker = chain.worker()
    clock = chain.clock
    assert clock is not None
    await worker.run_until_idle()
    first = await chain.status("A")
    assert first["circuit"]["state"] == "open"
    assert first["circuit"]["opens"] == 1
    tried = len(chain.primary.received)
    # Still open: nothing is tried, however often the worker runs.
    clock.advance(30)
    await worker.run_until_idle()
    assert len(chain.primary.received) == tried
    # Past the interval: exactly one trial goes; it fails and the circuit reopens twice
    # as long.
    clock.advance(31)
    await worker.run_until_idle()
    assert len(chain.primary.received) == tried + 1
    second = await chain.status("A")
    assert second["circuit"]["state"] == "open"
    assert second["circuit"]["opens"] == 2
    async with chain.app.state.nabat.sessions() as session:
        health = await session.get(ChannelHealth, chain.ids["A"])
        assert health is not None
        assert health.circuit_retry_at is not None
        assert health.circuit_retry_at - clock.now() == timedelta(seconds=120)
        waiting = list(await session.scalars(select(Delivery.status).where(Delivery.id.in_(ids))))
        tries = await session.scalars(
            select(DeliveryAttempt.id).where(DeliveryAttempt.delivery_id.in_(ids))
        )
    assert len(list(tries)) == tried + 1
    assert "DEAD" not in waiting
    # A success closes it and the waiting deliveries go.
    chain.primary.default = Scripted(200, "ok")
    clock.advance(121)
    await worker.run_until_idle()
    clock.advance(1)
    await worker.run_until_idle()
    assert (await chain.status("A"))["circuit"]["state"] == "closed"
    for delivery_id in ids:
        assert (await chain.delivery(delivery_id))["status"] == "SENT"


@pytest.mark.parametrize(
    ("fallback", "field", "says"),
    [
        ("self", "actions[0].fallbackChannelIds", "only once in a chain"),
        ([999_999], "actions[0].fallbackChannelIds[0]", "not a channel of this project"),
        ("many", "actions[0].fallbackChannelIds", "at most 5"),
        (["x"], "actions[0].fallbackChannelIds", "list of channel ids"),
    ],
)
async def test_a_bad_chain_is_refused_naming_the_field(
    chain: Chain, fallback: Any, field: str, says: str
) -> None:
    if fallback == "self":
        fallback = [chain.ids["B"], chain.ids["A"]]
    elif fallback == "many":
        fallback = list(range(100, 106))
    response = await chain.client.post(
        RULES,
        json={
            "name": "bad chain",
            "actions": [{"channelId": chain.ids["A"], "fallbackChannelIds": fallback}],
        },
        headers=chain.headers,
    )
    assert response.status_code == 422, response.text
    details = response.json()["details"]
    assert any(d["field"] == field and says in d["message"] for d in details), details
