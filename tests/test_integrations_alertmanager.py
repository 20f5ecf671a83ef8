"""``POST /api/v1/integrations/alertmanager``: Alertmanager's webhook in, deliveries out."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text

from nabat.models.delivery import Delivery
from tests.conftest import Backend
from tests.fakes.webhook import WebhookReceiver
from tests.fixtures import payload
from tests.support.alerting import api_key_headers, default_webhook, deliver, received_events
from tests.support.errors import expect_error

URL = "/api/v1/integrations/alertmanager"
AM = "alertmanager_v4.json"


async def test_the_documented_payload_is_delivered_as_one_event_per_alert(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    app: FastAPI,
    receiver: WebhookReceiver,
) -> None:
    channel_id = await default_webhook(client, admin_headers, receiver)
    key = await api_key_headers(client, admin_headers)
    response = await client.post(URL, json=payload(AM), headers=key)
    assert response.status_code == 202, response.text
    answer = response.json()
    assert answer["success"] is True
    assert [outcome["status"] for outcome in answer["events"]] == ["ACCEPTED", "ACCEPTED"]
    # Stored and answered; routed right after the answer, like every batch.
    assert [outcome["routing"] for outcome in answer["events"]] == ["PENDING", "PENDING"]
    assert receiver.received == []  # stored, not yet sent
    await deliver(app)
    async with app.state.nabat.sessions() as session:
        channels = await session.scalars(select(Delivery.channel_id))
        assert list(channels) == [channel_id, channel_id]
    cleared, raised = received_events(receiver)
    assert raised["type"] == "alarm.raised"
    assert raised["severity"] == "CRITICAL"
    assert raised["labels"] == {
        "alertname": "InstanceDown",
        "env": "prod",
        "instance": "web-1:9100",
        "job": "node",
        "severity": "critical",
    }
    assert raised["subject"] == {
        "objectType": "alert",
        "objectId": "b2d0c6ef1f4f5a39",
        "title": "InstanceDown",
        "status": "firing",
        "previousStatus": None,
    }
    assert raised["source"]["name"] == "node"
    assert raised["message"].startswith("web-1:9100 is down\n")
    assert raised["occurredAt"] == "2026-11-30T21:04:05.123456Z"
    assert raised["data"]["endsAt"] is None
    assert raised["data"]["externalURL"] == "http://alertmanager.example.org:9093"
    assert (cleared["type"], cleared["severity"]) == ("alarm.cleared", "WARNING")
    assert cleared["occurredAt"] == "2026-11-30T18:00:00Z"
    firing_id = answer["events"][0]["eventId"]
    detail = (await client.get(f"/api/v1/events/{firing_id}", headers=admin_headers)).json()
    assert detail["origin"] == "alertmanager"
    assert detail["dedupKey"] == "b2d0c6ef1f4f5a39@2026-11-30T21:04:05.123456Z"
    assert [delivery["status"] for delivery in detail["deliveries"]] == ["SENT"]


async def test_the_same_group_sent_again_notifies_no_one_twice_but_the_all_clear_goes_out(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    app: FastAPI,
    receiver: WebhookReceiver,
) -> None:
    await default_webhook(client, admin_headers, receiver)
    key = await api_key_headers(client, admin_headers)
    first = (await client.post(URL, json=payload(AM), headers=key)).json()
    await deliver(app)
    assert len(receiver.received) == 2
    # An HA twin, or Alertmanager's repeat: the same alerts again.
    again = await client.post(URL, json=payload(AM), headers=key)
    assert again.status_code == 202, again.text
    assert [outcome["status"] for outcome in again.json()["events"]] == ["DUPLICATE"] * 2
    assert [o["eventId"] for o in again.json()["events"]] == [o["eventId"] for o in first["events"]]
    await deliver(app)
    assert len(receiver.received) == 2
    firing_id = first["events"][0]["eventId"]
    detail = (await client.get(f"/api/v1/events/{firing_id}", headers=admin_headers)).json()
    assert detail["repeats"] == 1
    # The firing alert resolves: that is news.
    resolved: dict[str, Any] = payload(AM)
    resolved["status"] = "resolved"
    resolved["alerts"] = [
        {**resolved["alerts"][0], "status": "resolved", "endsAt": "2026-11-30T21:30:00Z"}
    ]
    cleared = await client.post(URL, json=resolved, headers=key)
    assert [o["status"] for o in cleared.json()["events"]] == ["ACCEPTED"]
    await deliver(app)
    assert len(receiver.received) == 3
    last = receiver.received[-1].json()["event"]
    assert (last["type"], last["subject"]["objectId"]) == ("alarm.cleared", "b2d0c6ef1f4f5a39")
    assert last["severity"] == "CRITICAL"  # the all-clear follows the alarm's routes


async def test_an_idempotency_key_replays_the_first_answer(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    app: FastAPI,
    receiver: WebhookReceiver,
) -> None:
    await default_webhook(client, admin_headers, receiver)
    key = {**await api_key_headers(client, admin_headers), "Idempotency-Key": "am-group-1"}
    first = await client.post(URL, json=payload(AM), headers=key)
    second = await client.post(URL, json=payload(AM), headers=key)
    assert first.status_code == second.status_code == 202
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
    other = payload(AM)
    other["alerts"] = other["alerts"][:1]
    expect_error(await client.post(URL, json=other, headers=key), 422, "VALIDATION_ERROR")
    await deliver(app)
    assert len(receiver.received) == 2


@pytest.mark.parametrize(
    ("content", "status", "code", "words"),
    [
        (b"", 400, "MALFORMED_JSON", "empty body"),
        (b'{"version": "4", "alerts": [', 400, "MALFORMED_JSON", "not valid JSON"),
        (b"\xff\xfe\x00", 400, "MALFORMED_JSON", "not valid JSON"),
        (b'{"version": "4", "truncatedAlerts": NaN}', 400, "MALFORMED_JSON", "NaN"),
        (b"[" * 100_000, 400, "MALFORMED_JSON", "nested too deeply"),
        (b"[]", 422, "VALIDATION_ERROR", "body: must be a JSON object"),
        (b'{"version": "3", "alerts": []}', 422, "VALIDATION_ERROR", "version: "),
        (b'{"version": "4", "alerts": []}', 422, "VALIDATION_ERROR", "alerts: "),
        (
            b'{"version": "4", "alerts": [{"status": "pending", "labels": {}}]}',
            422,
            "VALIDATION_ERROR",
            "alerts[0].status: ",
        ),
    ],
)
async def test_malformed_input_is_a_4xx_naming_the_problem_and_stores_nothing(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    receiver: WebhookReceiver,
    content: bytes,
    status: int,
    code: str,
    words: str,
) -> None:
    await default_webhook(client, admin_headers, receiver)
    key = await api_key_headers(client, admin_headers)
    headers = {**key, "Content-Type": "application/json"}
    response = await client.post(URL, content=content, headers=headers)
    body = expect_error(response, status, code)
    assert words in body["error"]
    listed = (await client.get("/api/v1/events", headers=admin_headers)).json()
    assert listed["total"] == 0


async def test_an_alert_with_too_many_labels_is_refused_by_its_position(
    client: httpx.AsyncClient, admin_headers: dict[str, str], receiver: WebhookReceiver
) -> None:
    await default_webhook(client, admin_headers, receiver)
    key = await api_key_headers(client, admin_headers)
    body = payload(AM)
    body["alerts"][1]["labels"] = {f"l{n}": "x" for n in range(65)}
    refused = expect_error(await client.post(URL, json=body, headers=key), 422, "VALIDATION_ERROR")
    assert refused["error"].startswith("events[1].labels: ")


async def test_it_takes_a_project_api_key_with_the_events_write_scope(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    expect_error(await client.post(URL, json=payload(AM)), 401, "UNAUTHORIZED")
    reader = await api_key_headers(client, admin_headers, scopes=["channels:read"])
    denied = expect_error(
        await client.post(URL, json=payload(AM), headers=reader), 403, "FORBIDDEN"
    )
    assert "events:write" in denied["error"]


_REFUSE = {
    "sqlite": [
        "CREATE TRIGGER refuse_events BEFORE INSERT ON events "
        "BEGIN SELECT RAISE(ABORT, 'disk is full'); END",
    ],
    "postgres": [
        "CREATE FUNCTION refuse_events() RETURNS trigger LANGUAGE plpgsql "
        "AS $$ BEGIN RAISE EXCEPTION 'disk is full'; END $$",
        "CREATE TRIGGER refuse_events BEFORE INSERT ON events "
        "FOR EACH ROW EXECUTE FUNCTION refuse_events()",
    ],
}
_ALLOW = {
    "sqlite": ["DROP TRIGGER refuse_events"],
    "postgres": ["DROP TRIGGER refuse_events ON events", "DROP FUNCTION refuse_events()"],
}


async def _run(app: FastAPI, statements: list[str]) -> None:
    async with app.state.nabat.sessions() as session:
        for statement in statements:
            await session.execute(text(statement))
        await session.commit()


async def test_a_storage_failure_is_a_5xx_so_alertmanager_retries(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    app: FastAPI,
    backend: Backend,
    receiver: WebhookReceiver,
) -> None:
    await default_webhook(client, admin_headers, receiver)
    key = await api_key_headers(client, admin_headers)
    await _run(app, _REFUSE[backend.name])
    failed = expect_error(
        await client.post(URL, json=payload(AM), headers=key), 500, "INTERNAL_ERROR"
    )
    assert "disk is full" not in failed["error"]
    await _run(app, _ALLOW[backend.name])
    retried = await client.post(URL, json=payload(AM), headers=key)
    assert [o["status"] for o in retried.json()["events"]] == ["ACCEPTED", "ACCEPTED"]
    await deliver(app)
    assert len(receiver.received) == 2
