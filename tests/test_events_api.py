"""``POST /api/v1/events``: stored with its deliveries before the answer, then delivered;
idempotent by ``Idempotency-Key`` and ``dedupKey``; the record shows what it became."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.fakes.webhook import WebhookReceiver
from tests.support.delivery import deliver, webhook_channel
from tests.support.errors import expect_error

EVENTS = "/api/v1/events"
CHANNELS = "/api/v1/notifications/channels"

EVENT = {
    "type": "service.down",
    "severity": "CRITICAL",
    "source": {"name": "uptime", "url": "https://status.example.org"},
    "subject": {
        "objectType": "service",
        "objectId": "42",
        "title": "Billing API",
        "status": "DOWN",
        "previousStatus": "UP",
    },
    "message": "Billing API does not answer",
    "labels": {"env": "prod", "team": "payments"},
    "data": {"latencyMs": 5000},
}


async def test_an_event_is_stored_with_its_deliveries_before_the_answer_then_delivered(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    app: FastAPI,
    receiver: WebhookReceiver,
) -> None:
    channel = await webhook_channel(client, admin_headers, receiver.url, isDefault=True)
    posted = await client.post(EVENTS, json=EVENT, headers=admin_headers)
    assert posted.status_code == 202, posted.text
    body = posted.json()
    assert body["success"] is True
    assert body["status"] == "ACCEPTED"
    [planned] = body["deliveries"]
    assert planned["channelId"] == channel
    assert planned["status"] == "QUEUED"
    assert receiver.received == []
    await deliver(app)
    [got] = receiver.received
    payload = got.json()
    assert payload["deliveryId"] == planned["idempotencyId"]
    assert payload["serviceName"] == "uptime"
    assert payload["status"] == "DOWN"
    assert payload["severity"] == "CRITICAL"
    assert payload["event"]["type"] == "service.down"
    assert payload["event"]["subject"]["title"] == "Billing API"
    assert payload["event"]["labels"] == {"env": "prod", "team": "payments"}
    record = (await client.get(f"{EVENTS}/{body['eventId']}", headers=admin_headers)).json()
    assert record["type"] == "service.down"
    assert record["data"] == {"latencyMs": 5000}
    [delivery] = record["deliveries"]
    assert delivery["status"] == "SENT"
    assert delivery["reason"] is None
    listed = (await client.get(EVENTS, headers=admin_headers)).json()
    assert [item["id"] for item in listed["items"]] == [body["eventId"]]


async def test_without_a_route_the_event_is_kept_and_says_why(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    posted = await client.post(EVENTS, json=EVENT, headers=admin_headers)
    assert posted.status_code == 202, posted.text
    body = posted.json()
    assert body["deliveries"] == []
    [note] = body["notes"]
    assert note["code"] == "NO_ROUTE"
    assert "default channel" in note["message"]
    record = (await client.get(f"{EVENTS}/{body['eventId']}", headers=admin_headers)).json()
    assert record["notes"] == [note]


async def test_a_disabled_type_is_recorded_and_its_deliveries_suppressed(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    app: FastAPI,
    receiver: WebhookReceiver,
) -> None:
    await webhook_channel(client, admin_headers, receiver.url, isDefault=True)
    switched = await client.put(
        "/api/v1/notification-types/service.down", json={"enabled": False}, headers=admin_headers
    )
    assert switched.status_code == 200, switched.text
    body = (await client.post(EVENTS, json=EVENT, headers=admin_headers)).json()
    [planned] = body["deliveries"]
    assert planned["status"] == "SUPPRESSED"
    await deliver(app)
    assert receiver.received == []
    record = (await client.get(f"{EVENTS}/{body['eventId']}", headers=admin_headers)).json()
    [delivery] = record["deliveries"]
    assert delivery["status"] == "SUPPRESSED"
    assert delivery["suppressedBy"] == "TYPE_DISABLED"
    assert "service.down" in delivery["reason"]
    assert "switched off" in delivery["reason"]
    # Other types still go out.
    up = await client.post(EVENTS, json={**EVENT, "type": "service.up"}, headers=admin_headers)
    assert up.json()["deliveries"][0]["status"] == "QUEUED"


async def test_an_idempotency_key_replays_the_first_answer(
    client: httpx.AsyncClient, admin_headers: dict[str, str], receiver: WebhookReceiver
) -> None:
    await webhook_channel(client, admin_headers, receiver.url, isDefault=True)
    headers = {**admin_headers, "Idempotency-Key": "order-17-down"}
    first = await client.post(EVENTS, json=EVENT, headers=headers)
    again = await client.post(EVENTS, json=EVENT, headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    listed = (await client.get(EVENTS, headers=admin_headers)).json()
    assert listed["total"] == 1
    other = await client.post(EVENTS, json={**EVENT, "message": "changed"}, headers=headers)
    error = expect_error(other, 422, "VALIDATION_ERROR")
    assert "different request body" in error["error"]


async def test_concurrent_repeats_of_one_key_make_one_event(
    client: httpx.AsyncClient, admin_headers: dict[str, str], receiver: WebhookReceiver
) -> None:
    await webhook_channel(client, admin_headers, receiver.url, isDefault=True)
    headers = {**admin_headers, "Idempotency-Key": "storm"}
    answers = await asyncio.gather(
        *(client.post(EVENTS, json=EVENT, headers=headers) for _ in range(20))
    )
    assert {a.status_code for a in answers} == {202}
    assert len({a.json()["eventId"] for a in answers}) == 1
    assert len({a.json()["deliveries"][0]["id"] for a in answers}) == 1
    listed = (await client.get(EVENTS, headers=admin_headers)).json()
    assert listed["total"] == 1


async def test_a_repeated_dedup_key_is_counted_on_the_first_not_sent_again(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    app: FastAPI,
    receiver: WebhookReceiver,
) -> None:
    await webhook_channel(client, admin_headers, receiver.url, isDefault=True)
    event = {**EVENT, "dedupKey": "billing-down"}
    first = (await client.post(EVENTS, json=event, headers=admin_headers)).json()
    second = (await client.post(EVENTS, json=event, headers=admin_headers)).json()
    assert second["status"] == "DUPLICATE"
    assert second["eventId"] == first["eventId"]
    assert second["deliveries"] == first["deliveries"]
    # A change of type (the service came back) is news, not a repeat.
    back = await client.post(EVENTS, json={**event, "type": "service.up"}, headers=admin_headers)
    assert back.json()["status"] == "ACCEPTED"
    await deliver(app)
    assert [r.json()["event"]["type"] for r in receiver.received] == ["service.down", "service.up"]
    record = (await client.get(f"{EVENTS}/{first['eventId']}", headers=admin_headers)).json()
    assert record["repeats"] == 1
    assert record["lastRepeatAt"] is not None


async def test_a_batch_repeating_a_dedup_key_delivers_it_once(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    app: FastAPI,
    receiver: WebhookReceiver,
) -> None:
    await webhook_channel(client, admin_headers, receiver.url, isDefault=True)
    event = {**EVENT, "dedupKey": "k"}
    answer = await client.post(
        f"{EVENTS}/batch", json={"events": [event, event, EVENT]}, headers=admin_headers
    )
    assert answer.status_code == 202, answer.text
    first, repeat, other = answer.json()["events"]
    assert (first["status"], repeat["status"], other["status"]) == (
        "ACCEPTED",
        "DUPLICATE",
        "ACCEPTED",
    )
    assert repeat["eventId"] == first["eventId"] != other["eventId"]
    await deliver(app)
    assert len(receiver.received) == 2
    assert (await client.get(EVENTS, headers=admin_headers)).json()["total"] == 2
    record = (await client.get(f"{EVENTS}/{first['eventId']}", headers=admin_headers)).json()
    assert (record["routing"], record["repeats"], len(record["deliveries"])) == ("ROUTED", 1, 1)


@pytest.mark.parametrize(
    ("change", "status", "code", "field"),
    [
        ({"type": "no.such.type"}, 422, "VALIDATION_ERROR", "type"),
        ({"severity": "LOUD"}, 422, "INVALID_SEVERITY", "severity"),
        ({"channelIds": [999999]}, 404, "CHANNEL_NOT_FOUND", None),
        ({"colour": "red"}, 422, "VALIDATION_ERROR", "colour"),
    ],
)
async def test_bad_events_are_refused_with_what_to_fix(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    change: dict[str, Any],
    status: int,
    code: str,
    field: str | None,
) -> None:
    answer = await client.post(EVENTS, json={**EVENT, **change}, headers=admin_headers)
    error = expect_error(answer, status, code)
    if field is not None:
        assert field in error["error"] or any(field in str(d) for d in error["details"])


async def test_one_bad_event_in_a_batch_stores_none(
    client: httpx.AsyncClient, admin_headers: dict[str, str], receiver: WebhookReceiver
) -> None:
    await webhook_channel(client, admin_headers, receiver.url, isDefault=True)
    answer = await client.post(
        f"{EVENTS}/batch",
        json={"events": [EVENT, {**EVENT, "severity": "LOUD"}]},
        headers=admin_headers,
    )
    error = expect_error(answer, 422, "INVALID_SEVERITY")
    assert "events[1].severity" in error["error"]
    assert (await client.get(EVENTS, headers=admin_headers)).json()["total"] == 0


async def test_forced_channels_skip_the_rules(
    client: httpx.AsyncClient, admin_headers: dict[str, str], receiver: WebhookReceiver
) -> None:
    await webhook_channel(client, admin_headers, receiver.url, isDefault=True)
    chosen = await webhook_channel(client, admin_headers, receiver.url + "/chosen")
    answer = (
        await client.post(EVENTS, json={**EVENT, "channelIds": [chosen]}, headers=admin_headers)
    ).json()
    assert [d["channelId"] for d in answer["deliveries"]] == [chosen]


async def test_events_of_another_project_are_not_visible(
    client: httpx.AsyncClient, admin_headers: dict[str, str], receiver: WebhookReceiver
) -> None:
    await webhook_channel(client, admin_headers, receiver.url, isDefault=True)
    body = (await client.post(EVENTS, json=EVENT, headers=admin_headers)).json()
    project = await client.post("/api/v1/projects", json={"name": "other"}, headers=admin_headers)
    assert project.status_code == 201, project.text
    other = {**admin_headers, "X-Nabat-Project": str(project.json()["id"])}
    expect_error(await client.get(f"{EVENTS}/{body['eventId']}", headers=other), 404, "NOT_FOUND")
    assert (await client.get(EVENTS, headers=other)).json()["total"] == 0


async def test_concurrent_events_share_commits_and_a_bad_one_fails_alone(
    client: httpx.AsyncClient, admin_headers: dict[str, str], receiver: WebhookReceiver
) -> None:
    await webhook_channel(client, admin_headers, receiver.url, isDefault=True)
    bodies = [{**EVENT, "message": f"event {n}"} for n in range(30)]
    bodies.insert(7, {**EVENT, "severity": "LOUD"})
    answers = await asyncio.gather(
        *(client.post(EVENTS, json=body, headers=admin_headers) for body in bodies)
    )
    statuses = [answer.status_code for answer in answers]
    assert statuses.count(202) == 30
    expect_error(answers[7], 422, "INVALID_SEVERITY")
    ids = {answer.json()["eventId"] for answer in answers if answer.status_code == 202}
    assert len(ids) == 30
    listed = (await client.get(f"{EVENTS}?size=100", headers=admin_headers)).json()
    assert sorted(item["message"] for item in listed["items"]) == sorted(
        str(body["message"]) for body in bodies if body["severity"] != "LOUD"
    )


async def api_key(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, str]:
    created = await client.post(
        "/api/v1/api-keys", json={"name": "producer", "scopes": ["events:write"]}, headers=headers
    )
    assert created.status_code == 201, created.text
    return {"Authorization": f"Bearer {created.json()['key']}"}


async def test_a_producer_key_gets_the_same_answers_on_every_request(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    app: FastAPI,
    receiver: WebhookReceiver,
) -> None:
    # The first request verifies the key; later ones are served from the principal
    # cache. Both must answer alike.
    await webhook_channel(client, admin_headers, receiver.url, isDefault=True)
    key = await api_key(client, admin_headers)
    answers = [await client.post(EVENTS, json=EVENT, headers=key) for _ in range(3)]
    assert [a.status_code for a in answers] == [202, 202, 202]
    shapes = [sorted(a.json()) for a in answers]
    assert shapes[0] == shapes[1] == shapes[2]
    assert [a.json()["deliveries"][0]["status"] for a in answers] == ["QUEUED"] * 3
    await deliver(app)
    assert len(receiver.received) == 3
    # Errors read the same for a known key as for any other caller.
    unknown = await client.post(EVENTS, json={**EVENT, "type": "nope"}, headers=key)
    assert "nope" in expect_error(unknown, 422, "VALIDATION_ERROR")["error"]
    bad = await client.post(EVENTS, json={**EVENT, "colour": 1}, headers=key)
    expect_error(bad, 422, "VALIDATION_ERROR")
    broken = await client.post(
        EVENTS, content=b"{not json", headers={**key, "content-type": "application/json"}
    )
    expect_error(broken, 400, "MALFORMED_JSON")
    huge = await client.post(EVENTS, json={**EVENT, "message": "x" * 2_000_000}, headers=key)
    expect_error(huge, 413, "PAYLOAD_TOO_LARGE")
    repeat = {**key, "Idempotency-Key": "k1"}
    first = await client.post(EVENTS, json=EVENT, headers=repeat)
    again = await client.post(EVENTS, json=EVENT, headers=repeat)
    assert again.json() == first.json()


async def test_a_revoked_key_is_refused_at_once(
    client: httpx.AsyncClient, admin_headers: dict[str, str], receiver: WebhookReceiver
) -> None:
    await webhook_channel(client, admin_headers, receiver.url, isDefault=True)
    key = await api_key(client, admin_headers)
    assert (await client.post(EVENTS, json=EVENT, headers=key)).status_code == 202
    assert (await client.post(EVENTS, json=EVENT, headers=key)).status_code == 202
    [listed] = (await client.get("/api/v1/api-keys", headers=admin_headers)).json()
    revoked = await client.delete(f"/api/v1/api-keys/{listed['id']}", headers=admin_headers)
    assert revoked.status_code == 200, revoked.text
    expect_error(await client.post(EVENTS, json=EVENT, headers=key), 401, "UNAUTHORIZED")
