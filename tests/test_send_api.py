"""The send API, the delivery record, statistics, channel status and metrics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import login
from tests.fakes.webhook import Scripted, WebhookReceiver, running_receiver
from tests.support.delivery import deliver, webhook_channel
from tests.support.errors import expect_error

SEND = "/api/v1/notifications/send"
CHANNELS = "/api/v1/notifications/channels"
DELIVERIES = "/api/v1/notifications/deliveries"

SEED_NOTIFICATION = {
    "username": "testuser",
    "serviceName": "My Service",
    "serviceUrl": "https://example.com",
    "status": "DOWN",
    "severity": "ERROR",
    "message": "Service is down",
}


async def test_a_sent_notification_is_stored_before_the_answer_then_delivered(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    app: FastAPI,
    receiver: WebhookReceiver,
) -> None:
    await webhook_channel(client, admin_headers, receiver.url, isDefault=True)
    sent = await client.post(SEND, json=SEED_NOTIFICATION, headers=admin_headers)
    assert sent.status_code == 200, sent.text
    body = sent.json()
    assert body["success"] is True
    assert {"message", "deliveryId", "timestamp"} <= set(body)
    queued = (await client.get(f"{DELIVERIES}/{body['deliveryId']}", headers=admin_headers)).json()
    assert queued["status"] == "QUEUED"
    assert receiver.received == []
    await deliver(app)
    [got] = receiver.received
    payload = got.json()
    for key, value in SEED_NOTIFICATION.items():
        assert payload[key] == value
    assert payload["deliveryId"] == body["idempotencyId"]
    record = (await client.get(f"{DELIVERIES}/{body['deliveryId']}", headers=admin_headers)).json()
    assert record["status"] == "SENT"
    assert [a["outcome"] for a in record["attemptLog"]] == ["sent"]
    assert record["attemptLog"][0]["statusCode"] == 200


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"status": "SIDEWAYS"}, "INVALID_STATUS", "status"),
        ({"severity": "APOCALYPSE"}, "INVALID_SEVERITY", "severity"),
    ],
)
async def test_unknown_status_or_severity_is_refused_with_its_code(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    receiver: WebhookReceiver,
    change: dict[str, str],
    code: str,
    field: str,
) -> None:
    await webhook_channel(client, admin_headers, receiver.url, isDefault=True)
    response = await client.post(SEND, json={**SEED_NOTIFICATION, **change}, headers=admin_headers)
    body = expect_error(response, 422, code)
    assert body["details"][0]["field"] == field


async def test_channel_choice_by_id_type_and_default(
    client: httpx.AsyncClient, admin_headers: dict[str, str], receiver: WebhookReceiver
) -> None:
    none = await client.post(SEND, json=SEED_NOTIFICATION, headers=admin_headers)
    expect_error(none, 404, "CHANNEL_NOT_FOUND")
    # Refused before anything is stored.
    assert (await client.get("/api/v1/events", headers=admin_headers)).json()["total"] == 0
    hook = await webhook_channel(client, admin_headers, receiver.url)
    by_type = await client.post(
        SEND, json={**SEED_NOTIFICATION, "channelType": "webhook"}, headers=admin_headers
    )
    assert by_type.status_code == 200
    missing = await client.post(
        SEND, json={**SEED_NOTIFICATION, "channelId": 999_999}, headers=admin_headers
    )
    expect_error(missing, 404, "CHANNEL_NOT_FOUND")
    no_telegram = await client.post(
        SEND, json={**SEED_NOTIFICATION, "channelType": "TELEGRAM"}, headers=admin_headers
    )
    expect_error(no_telegram, 404, "CHANNEL_NOT_FOUND")
    await client.put(f"{CHANNELS}/{hook}", json={"enabled": False}, headers=admin_headers)
    disabled = await client.post(
        SEND, json={**SEED_NOTIFICATION, "channelId": hook}, headers=admin_headers
    )
    expect_error(disabled, 409, "CHANNEL_DISABLED")
    await client.put(f"{CHANNELS}/{hook}", json={"isDefault": True}, headers=admin_headers)
    default_off = await client.post(SEND, json=SEED_NOTIFICATION, headers=admin_headers)
    assert "disabled" in expect_error(default_off, 409, "CHANNEL_DISABLED")["error"]


async def test_a_batch_is_all_or_nothing(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    receiver: WebhookReceiver,
    app: FastAPI,
) -> None:
    await webhook_channel(client, admin_headers, receiver.url, isDefault=True)
    bad = [SEED_NOTIFICATION, {**SEED_NOTIFICATION, "severity": "LOUD"}, SEED_NOTIFICATION]
    refused = await client.post(f"{SEND}/batch", json={"notifications": bad}, headers=admin_headers)
    body = expect_error(refused, 422, "INVALID_SEVERITY")
    assert body["details"][0]["field"] == "notifications[1].severity"
    listed = (await client.get(DELIVERIES, headers=admin_headers)).json()
    assert listed["total"] == 0
    accepted = await client.post(
        f"{SEND}/batch", json={"notifications": [SEED_NOTIFICATION] * 3}, headers=admin_headers
    )
    assert accepted.status_code == 200
    # Stored first, routed right after the answer: no delivery ids yet, three events.
    assert accepted.json()["deliveryIds"] == [None] * 3
    assert len(set(accepted.json()["eventIds"])) == 3
    await app.state.nabat.router.run_until_idle()
    assert (await client.get(DELIVERIES, headers=admin_headers)).json()["total"] == 3


async def test_the_delivery_list_filters_and_pages(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    app: FastAPI,
    receiver: WebhookReceiver,
) -> None:
    good = await webhook_channel(client, admin_headers, receiver.url, isDefault=True)
    async for broken in running_receiver():
        broken.default = Scripted(404, "gone")
        bad = await webhook_channel(client, admin_headers, broken.url)
        for _ in range(3):
            await client.post(SEND, json=SEED_NOTIFICATION, headers=admin_headers)
        await client.post(SEND, json={**SEED_NOTIFICATION, "channelId": bad}, headers=admin_headers)
        await deliver(app)
    dead = (await client.get(DELIVERIES, params={"status": "dead"}, headers=admin_headers)).json()
    assert dead["total"] == 1
    assert dead["items"][0]["channelId"] == bad
    assert dead["items"][0]["lastFailureClass"] == "gone"
    by_channel = (
        await client.get(DELIVERIES, params={"channelId": good}, headers=admin_headers)
    ).json()
    # The dead delivery opened a channel.failing incident, announced over the default.
    kinds = sorted(item["kind"] for item in by_channel["items"])
    assert kinds == ["health", "notification", "notification", "notification"]
    page = (
        await client.get(DELIVERIES, params={"size": 2, "page": 3}, headers=admin_headers)
    ).json()
    assert (page["total"], len(page["items"]), page["page"]) == (5, 1, 3)
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    later = (await client.get(DELIVERIES, params={"since": future}, headers=admin_headers)).json()
    assert later["total"] == 0
    earlier = (await client.get(DELIVERIES, params={"until": future}, headers=admin_headers)).json()
    assert earlier["total"] == 5
    wrong = await client.get(DELIVERIES, params={"status": "LOST"}, headers=admin_headers)
    expect_error(wrong, 422, "VALIDATION_ERROR")


async def test_a_dead_delivery_can_be_retried_with_its_idempotency_id(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    app: FastAPI,
    receiver: WebhookReceiver,
) -> None:
    await webhook_channel(client, admin_headers, receiver.url, isDefault=True)
    receiver.script.append(Scripted(410, "gone for now"))
    sent = (await client.post(SEND, json=SEED_NOTIFICATION, headers=admin_headers)).json()
    await deliver(app)
    url = f"{DELIVERIES}/{sent['deliveryId']}"
    assert (await client.get(url, headers=admin_headers)).json()["status"] == "DEAD"
    retried = await client.post(f"{url}/retry", headers=admin_headers)
    assert retried.status_code == 200
    assert retried.json()["status"] == "QUEUED"
    await deliver(app)
    record = (await client.get(url, headers=admin_headers)).json()
    assert record["status"] == "SENT"
    assert [a["outcome"] for a in record["attemptLog"]] == ["failed", "sent"]
    ids = {r.headers["x-nabat-delivery-id"] for r in receiver.received}
    assert ids == {sent["idempotencyId"]}
    again = await client.post(f"{url}/retry", headers=admin_headers)
    expect_error(again, 409, "CONFLICT")


async def test_stats_channel_status_and_metrics_follow_deliveries(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    app: FastAPI,
    receiver: WebhookReceiver,
) -> None:
    channel = await webhook_channel(client, admin_headers, receiver.url, isDefault=True)
    receiver.script.append(Scripted(400, "bad payload"))
    for _ in range(4):
        await client.post(SEND, json=SEED_NOTIFICATION, headers=admin_headers)
    await deliver(app)
    stats = (await client.get(f"{DELIVERIES}/stats", headers=admin_headers)).json()
    assert stats["total"] == 4
    assert stats["byStatus"] == {"SENT": 3, "DEAD": 1}
    assert stats["successRate"] == 0.75
    assert stats["averageResponseTimeMs"] is not None
    assert stats["last24h"] == stats["last7d"] == 4
    assert stats["byChannel"][0]["channelId"] == channel
    status = (await client.get(f"{CHANNELS}/{channel}/status", headers=admin_headers)).json()
    assert status["failedAttempts"] == 1
    assert "400" in status["lastError"]
    assert status["lastUsedAt"] is not None
    assert status["successRate"] == 0.75
    metrics = (await client.get("/metrics")).text
    assert 'notifications_sent_total{channel="WEBHOOK",status="SENT"} 3.0' in metrics
    assert 'notification_failures_total{channel="WEBHOOK",failure_class="rejected"} 1.0' in metrics
    assert "notification_delivery_duration_seconds_bucket" in metrics
    assert 'notification_queue_depth{status="QUEUED"} 0.0' in metrics


async def test_a_viewer_reads_the_record_but_cannot_send(
    client: httpx.AsyncClient, admin_headers: dict[str, str], receiver: WebhookReceiver
) -> None:
    await webhook_channel(client, admin_headers, receiver.url, isDefault=True)
    await client.post(
        "/api/v1/users",
        json={"username": "watcher", "email": "watcher@example.org", "password": "watch-pass-1"},
        headers=admin_headers,
    )
    await client.put(
        "/api/v1/members", json={"user": "watcher", "role": "viewer"}, headers=admin_headers
    )
    viewer = await login(client, "watcher", "watch-pass-1")
    expect_error(await client.post(SEND, json=SEED_NOTIFICATION, headers=viewer), 403, "FORBIDDEN")
    assert (await client.get(DELIVERIES, headers=viewer)).status_code == 200
