"""The worker against a real receiver: retries, backoff, leases, dead letters, health."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from nabat.channels.contract import DeliveryError, FailureClass, OutgoingMessage, Receipt
from nabat.channels.outbound import Outbound
from nabat.channels.webhook import WebhookConfig
from nabat.channels.webhook_sender import WebhookSender
from nabat.clock import FrozenClock
from nabat.delivery.metrics import Metrics
from nabat.delivery.queue import NewDelivery, Outcome, claim, enqueue, settle
from nabat.delivery.worker import Worker
from nabat.models.delivery import Delivery, DeliveryAttempt, DeliveryStatus
from nabat.security.ssrf import OutboundPolicy
from nabat.services.channels import ChannelChanges, ChannelService
from nabat.services.notification_types import TypeChanges, update_type
from nabat.settings import Settings
from tests.fakes.webhook import Scripted, WebhookReceiver, running_receiver
from tests.support.content import notification_content


@dataclass
class Rig:
    app: FastAPI
    clock: FrozenClock
    settings: Settings
    receiver: WebhookReceiver
    outbound: Outbound
    project_id: int = 1

    def worker(self, name: str = "w1", senders: dict[str, Any] | None = None) -> Worker:
        state = self.app.state.nabat
        return Worker(
            sessions=state.sessions,
            senders=senders or {"WEBHOOK": WebhookSender(self.outbound, self.clock)},
            box=state.box,
            clock=self.clock,
            settings=self.settings,
            metrics=Metrics(),
            name=name,
        )

    async def channel(self, url: str, *, default: bool = False) -> int:
        async with self.app.state.nabat.sessions() as session:
            view = await ChannelService(session, self.app.state.nabat.box, self.clock).create(
                self.project_id,
                name=f"hook {url}",
                type_name="WEBHOOK",
                configuration={"url": url},
                is_default=default,
            )
            await session.commit()
            return view.row.id

    async def enqueue(self, channel_id: int, count: int = 1) -> list[int]:
        content = notification_content(
            service="svc", status="DOWN", severity="ERROR", message="down", now=self.clock.now()
        )
        async with self.app.state.nabat.sessions() as session:
            ids = await enqueue(
                session,
                [
                    NewDelivery(self.project_id, channel_id, "WEBHOOK", content)
                    for _ in range(count)
                ],
                now=self.clock.now(),
                max_attempts=self.settings.max_attempts,
            )
            await session.commit()
        return [claimed.id for claimed in ids]

    async def delivery(self, delivery_id: int) -> tuple[Delivery, list[DeliveryAttempt]]:
        async with self.app.state.nabat.sessions() as session:
            delivery = await session.get(Delivery, delivery_id)
            assert delivery is not None
            attempts = await session.scalars(
                select(DeliveryAttempt)
                .where(DeliveryAttempt.delivery_id == delivery_id)
                .order_by(DeliveryAttempt.id)
            )
            return delivery, list(attempts)


@pytest.fixture
async def rig(app: FastAPI, settings: Settings) -> AsyncIterator[Rig]:
    outbound = Outbound(OutboundPolicy(["127.0.0.0/8"]))
    tuned = settings.model_copy(update={"max_attempts": 3, "retry_base_seconds": 10.0})
    async for receiver in running_receiver():
        yield Rig(app, FrozenClock(datetime.now(UTC)), tuned, receiver, outbound)
    await outbound.close()


async def test_every_queued_delivery_reaches_the_receiver_once(rig: Rig) -> None:
    channel = await rig.channel(rig.receiver.url)
    ids = await rig.enqueue(channel, 40)
    await rig.worker().run_until_idle()
    assert len(rig.receiver.received) == 40
    assert len({r.headers["x-nabat-delivery-id"] for r in rig.receiver.received}) == 40
    for delivery_id in ids[:5]:
        delivery, attempts = await rig.delivery(delivery_id)
        assert delivery.status == DeliveryStatus.SENT
        assert delivery.sent_at is not None
        assert [a.outcome for a in attempts] == ["sent"]


async def test_transient_failure_is_retried_after_backoff_with_every_attempt_recorded(
    rig: Rig,
) -> None:
    channel = await rig.channel(rig.receiver.url)
    [delivery_id] = await rig.enqueue(channel)
    rig.receiver.script.append(Scripted(503, "busy"))
    worker = rig.worker()
    await worker.run_until_idle()
    delivery, attempts = await rig.delivery(delivery_id)
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.last_failure_class == "upstream"
    assert delivery.next_attempt_at >= rig.clock.now()
    rig.clock.advance(rig.settings.retry_base_seconds + 1)
    await worker.run_until_idle()
    delivery, attempts = await rig.delivery(delivery_id)
    assert delivery.status == DeliveryStatus.SENT
    assert [(a.number, a.outcome, a.status_code, a.failure_class) for a in attempts] == [
        (1, "failed", 503, "upstream"),
        (2, "sent", 200, None),
    ]
    assert all(a.duration_ms >= 0 for a in attempts)


async def test_retry_after_is_never_undercut(rig: Rig) -> None:
    channel = await rig.channel(rig.receiver.url)
    [delivery_id] = await rig.enqueue(channel)
    rig.receiver.script.append(Scripted(429, "slow down", {"Retry-After": "120"}))
    worker = rig.worker()
    await worker.run_until_idle()
    delivery, _ = await rig.delivery(delivery_id)
    assert delivery.next_attempt_at >= rig.clock.now() + timedelta(seconds=120)
    rig.clock.advance(119)
    await worker.run_until_idle()
    assert len(rig.receiver.received) == 1
    rig.clock.advance(2)
    await worker.run_until_idle()
    assert len(rig.receiver.received) == 2
    assert (await rig.delivery(delivery_id))[0].status == DeliveryStatus.SENT


async def test_permanent_failure_dies_after_one_attempt(rig: Rig) -> None:
    channel = await rig.channel(rig.receiver.url)
    [delivery_id] = await rig.enqueue(channel)
    rig.receiver.script.append(Scripted(404, "no such hook"))
    await rig.worker().run_until_idle()
    rig.clock.advance(10_000)
    await rig.worker().run_until_idle()
    delivery, attempts = await rig.delivery(delivery_id)
    assert delivery.status == DeliveryStatus.DEAD
    assert delivery.last_failure_class == "gone"
    assert len(attempts) == 1
    assert len(rig.receiver.received) == 1


async def test_transient_failures_stop_at_the_attempt_limit(rig: Rig) -> None:
    channel = await rig.channel(rig.receiver.url)
    [delivery_id] = await rig.enqueue(channel)
    rig.receiver.default = Scripted(500, "broken")
    worker = rig.worker()
    for _ in range(6):
        await worker.run_until_idle()
        rig.clock.advance(3600)
    delivery, attempts = await rig.delivery(delivery_id)
    assert delivery.status == DeliveryStatus.DEAD
    assert len(attempts) == rig.settings.max_attempts == 3


async def test_expired_lease_is_taken_over_and_the_old_owner_cannot_settle(rig: Rig) -> None:
    channel = await rig.channel(rig.receiver.url)
    [delivery_id] = await rig.enqueue(channel)
    sessions = rig.app.state.nabat.sessions
    async with sessions() as session:
        [claimed] = await claim(
            session,
            worker="crashed",
            now=rig.clock.now(),
            lease=timedelta(seconds=30),
            limit=10,
            dead_after=timedelta(seconds=5),
        )
    assert claimed.id == delivery_id
    await rig.worker().run_until_idle()
    assert rig.receiver.received == []
    rig.clock.advance(31)
    await rig.worker("rescuer").run_until_idle()
    assert len(rig.receiver.received) == 1

    late = Outcome(
        delivery_id=delivery_id,
        status=DeliveryStatus.DEAD,
        next_attempt_at=rig.clock.now(),
        attempted=True,
        started_at=rig.clock.now(),
        duration_ms=1.0,
        status_code=500,
        failure_class="upstream",
        reason="late",
        provider_id=None,
        attempt_number=1,
    )
    async with sessions() as session:
        owned = await settle(session, [late], worker="crashed", now=rig.clock.now())
        await session.commit()
    assert owned == set()
    delivery, attempts = await rig.delivery(delivery_id)
    assert delivery.status == DeliveryStatus.SENT
    assert [a.worker for a in attempts] == ["rescuer"]


async def test_deliveries_of_a_disabled_channel_die_with_the_reason(rig: Rig) -> None:
    channel = await rig.channel(rig.receiver.url)
    [delivery_id] = await rig.enqueue(channel)
    async with rig.app.state.nabat.sessions() as session:
        await ChannelService(session, rig.app.state.nabat.box, rig.clock).update(
            rig.project_id, channel, ChannelChanges(enabled=False)
        )
        await session.commit()
    await rig.worker().run_until_idle()
    delivery, _ = await rig.delivery(delivery_id)
    assert delivery.status == DeliveryStatus.DEAD
    assert "disabled" in (delivery.last_error or "")
    assert rig.receiver.received == []


class ExplodingSender:
    async def send(self, config: WebhookConfig, message: OutgoingMessage) -> Receipt:
        raise RuntimeError("bug")


async def test_an_unclassified_sender_error_is_internal_and_retried(rig: Rig) -> None:
    channel = await rig.channel(rig.receiver.url)
    [delivery_id] = await rig.enqueue(channel)
    await rig.worker(senders={"WEBHOOK": ExplodingSender()}).run_until_idle()
    delivery, attempts = await rig.delivery(delivery_id)
    assert delivery.status == DeliveryStatus.FAILED
    assert attempts[0].failure_class == FailureClass.INTERNAL.value


async def test_a_failing_channel_raises_one_notice_per_incident_and_one_recovery(
    rig: Rig,
) -> None:
    async for admin_hook in running_receiver():
        await rig.channel(admin_hook.url, default=True)
        failing = await rig.channel(rig.receiver.url)
        rig.receiver.default = Scripted(503, "down")
        worker = rig.worker()
        await rig.enqueue(failing, 2)
        await worker.run_until_idle()
        rig.clock.advance(100)
        await rig.enqueue(failing, 3)
        await worker.run_until_idle()
        rig.clock.advance(100)
        await worker.run_until_idle()
        notices = [r.json() for r in admin_hook.received]
        assert [n["event"]["type"] for n in notices] == ["channel.failing"]
        assert notices[0]["event"]["data"]["channelId"] == failing
        assert "503" in notices[0]["message"]
        rig.receiver.default = Scripted(200, "ok")
        rig.clock.advance(3600)
        await worker.run_until_idle()
        await rig.enqueue(failing, 1)
        await worker.run_until_idle()
        kinds = [r.json()["event"]["type"] for r in admin_hook.received]
        assert kinds == ["channel.failing", "channel.recovered"]


async def test_a_switched_off_channel_failing_type_records_the_notice_but_sends_nothing(
    rig: Rig,
) -> None:
    state = rig.app.state.nabat
    async with state.sessions() as session:
        await update_type(
            session, rig.clock, rig.project_id, "channel.failing", TypeChanges(enabled=False)
        )
        await session.commit()
    async for admin_hook in running_receiver():
        await rig.channel(admin_hook.url, default=True)
        failing = await rig.channel(rig.receiver.url)
        rig.receiver.default = Scripted(401, "bad token")
        await rig.enqueue(failing, 1)
        await rig.worker().run_until_idle()
        assert admin_hook.received == []
    async with state.sessions() as session:
        notice = await session.scalar(select(Delivery).where(Delivery.kind == "health"))
    assert notice is not None
    assert notice.status == DeliveryStatus.SUPPRESSED
    assert notice.suppressed_by == "TYPE_DISABLED"
    assert "channel.failing" in (notice.last_error or "")


async def test_a_permanent_failure_opens_the_incident_at_once(rig: Rig) -> None:
    async for admin_hook in running_receiver():
        await rig.channel(admin_hook.url, default=True)
        failing = await rig.channel(rig.receiver.url)
        rig.receiver.default = Scripted(401, "bad token")
        await rig.enqueue(failing, 1)
        await rig.worker().run_until_idle()
        assert [r.json()["event"]["type"] for r in admin_hook.received] == ["channel.failing"]


class RecordingSender:
    def __init__(self) -> None:
        self.seen: list[str] = []

    async def send(self, config: WebhookConfig, message: OutgoingMessage) -> Receipt:
        self.seen.append(message.delivery_id)
        if len(self.seen) == 1:
            raise DeliveryError(FailureClass.NETWORK, "blip")
        return Receipt(status=200)


async def test_a_retry_reuses_the_idempotency_id(rig: Rig) -> None:
    channel = await rig.channel(rig.receiver.url)
    await rig.enqueue(channel)
    sender = RecordingSender()
    worker = rig.worker(senders={"WEBHOOK": sender})
    await worker.run_until_idle()
    rig.clock.advance(3600)
    await worker.run_until_idle()
    assert len(sender.seen) == 2
    assert sender.seen[0] == sender.seen[1]


async def test_two_workers_on_one_queue_send_each_delivery_once(rig: Rig) -> None:
    import asyncio

    channel = await rig.channel(rig.receiver.url)
    await rig.enqueue(channel, 300)
    rig.receiver.default = Scripted(200, "ok", delay=0.002)
    first, second = rig.worker("w-a"), rig.worker("w-b")
    await asyncio.gather(first.run_until_idle(), second.run_until_idle())
    ids = [r.headers["x-nabat-delivery-id"] for r in rig.receiver.received]
    assert len(ids) == 300
    assert len(set(ids)) == 300
    async with rig.app.state.nabat.sessions() as session:
        workers = set(await session.scalars(select(DeliveryAttempt.worker).distinct()))
    assert workers <= {"w-a", "w-b"}
