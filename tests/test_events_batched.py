"""``POST /api/v1/events/batch``: events durable before the answer, routed right after by
the router (wherever deliveries are made), exactly as single events are routed."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from fastapi import FastAPI

from nabat.app import create_app
from nabat.settings import Settings
from tests.fakes.webhook import WebhookReceiver
from tests.support.delivery import deliver, webhook_channel

EVENTS = "/api/v1/events"
CHANNELS = "/api/v1/notifications/channels"

EVENT: dict[str, Any] = {
    "type": "service.down",
    "severity": "ERROR",
    "source": {"name": "uptime", "url": "https://status.example.org"},
    "subject": {"objectType": "service", "objectId": 7, "title": "Billing API", "status": "DOWN"},
    "message": "Billing API does not answer",
    "labels": {"env": "prod", "paged": True, "port": 443},
}


async def _record(client: httpx.AsyncClient, headers: dict[str, str], event_id: int) -> Any:
    answer = await client.get(f"{EVENTS}/{event_id}", headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_a_batch_is_stored_before_the_answer_and_routed_after_it(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    app: FastAPI,
    receiver: WebhookReceiver,
) -> None:
    channel = await webhook_channel(client, admin_headers, receiver.url, isDefault=True)
    answer = await client.post(
        f"{EVENTS}/batch", json={"events": [EVENT, EVENT]}, headers=admin_headers
    )
    assert answer.status_code == 202, answer.text
    outcomes = answer.json()["events"]
    assert [(o["status"], o["routing"]) for o in outcomes] == [("ACCEPTED", "PENDING")] * 2
    assert "deliveries" not in outcomes[0]
    first = await _record(client, admin_headers, outcomes[0]["eventId"])
    assert (first["routing"], first["routedAt"], first["deliveries"]) == ("PENDING", None, [])
    # Numbers and true/false where text is wanted are stored as their text.
    assert first["labels"] == {"env": "prod", "paged": "true", "port": "443"}
    assert first["subject"]["objectId"] == "7"

    await deliver(app)

    assert len(receiver.received) == 2
    for outcome in outcomes:
        record = await _record(client, admin_headers, outcome["eventId"])
        assert record["routing"] == "ROUTED"
        assert record["routedAt"] is not None
        [delivery] = record["deliveries"]
        assert (delivery["channelId"], delivery["status"]) == (channel, "SENT")
    payload = receiver.received[0].json()
    assert payload["event"]["labels"] == {"env": "prod", "paged": "true", "port": "443"}


async def test_stored_events_are_routed_by_a_router_that_did_not_accept_them(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    settings: Settings,
    receiver: WebhookReceiver,
) -> None:
    """Accepted is durable: another process (here a second app on the same database)
    routes what the first stored, as after a crash between answer and routing."""
    await webhook_channel(client, admin_headers, receiver.url, isDefault=True)
    answer = await client.post(f"{EVENTS}/batch", json={"events": [EVENT]}, headers=admin_headers)
    assert answer.status_code == 202, answer.text
    other = create_app(settings)
    async with other.router.lifespan_context(other):
        await deliver(other)
    assert len(receiver.received) == 1
    [outcome] = answer.json()["events"]
    assert (await _record(client, admin_headers, outcome["eventId"]))["routing"] == "ROUTED"


async def test_a_batched_repeat_of_a_single_event_is_counted_on_it(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    app: FastAPI,
    receiver: WebhookReceiver,
) -> None:
    await webhook_channel(client, admin_headers, receiver.url, isDefault=True)
    event = {**EVENT, "dedupKey": "billing-down"}
    single = (await client.post(EVENTS, json=event, headers=admin_headers)).json()
    batch = (
        await client.post(f"{EVENTS}/batch", json={"events": [event]}, headers=admin_headers)
    ).json()
    assert batch["events"] == [{"eventId": single["eventId"], "status": "DUPLICATE"}]
    await deliver(app)
    assert len(receiver.received) == 1
    assert (await client.get(EVENTS, headers=admin_headers)).json()["total"] == 1
    assert (await _record(client, admin_headers, single["eventId"]))["repeats"] == 1


async def test_a_repeat_of_an_event_still_waiting_is_found_by_the_router(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    app: FastAPI,
    receiver: WebhookReceiver,
) -> None:
    await webhook_channel(client, admin_headers, receiver.url, isDefault=True)
    event = {**EVENT, "dedupKey": "billing-down"}
    body = {"events": [event]}
    [first] = (await client.post(f"{EVENTS}/batch", json=body, headers=admin_headers)).json()[
        "events"
    ]
    [later] = (await client.post(f"{EVENTS}/batch", json=body, headers=admin_headers)).json()[
        "events"
    ]
    # The first was not routed yet, so its key was not held: both were stored.
    assert first["status"] == later["status"] == "ACCEPTED"
    await deliver(app)
    assert len(receiver.received) == 1
    record = await _record(client, admin_headers, later["eventId"])
    assert (record["routing"], record["duplicateOf"]) == ("DUPLICATE", first["eventId"])
    assert record["deliveries"] == []
    assert (await _record(client, admin_headers, first["eventId"]))["repeats"] == 1


async def test_an_event_whose_channel_went_away_before_routing_is_kept_with_the_reason(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    app: FastAPI,
    receiver: WebhookReceiver,
) -> None:
    chosen = await webhook_channel(client, admin_headers, receiver.url)
    answer = await client.post(
        f"{EVENTS}/batch",
        json={"events": [{**EVENT, "channelIds": [chosen]}]},
        headers=admin_headers,
    )
    assert answer.status_code == 202, answer.text
    deleted = await client.delete(f"{CHANNELS}/{chosen}", headers=admin_headers)
    assert deleted.status_code in (200, 204), deleted.text
    await deliver(app)
    [outcome] = answer.json()["events"]
    record = await _record(client, admin_headers, outcome["eventId"])
    assert record["routing"] == "ROUTED"
    assert record["deliveries"] == []
    [note] = record["notes"]
    assert note["code"] == "NO_ROUTE"
    assert f"channel {chosen} not found" in note["message"]
    assert receiver.received == []


async def test_a_batch_with_an_idempotency_key_is_stored_once(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    app: FastAPI,
    receiver: WebhookReceiver,
) -> None:
    await webhook_channel(client, admin_headers, receiver.url, isDefault=True)
    headers = {**admin_headers, "Idempotency-Key": "nightly-import-1"}
    body = {"events": [EVENT, EVENT]}
    first = await client.post(f"{EVENTS}/batch", json=body, headers=headers)
    again = await client.post(f"{EVENTS}/batch", json=body, headers=headers)
    assert first.status_code == again.status_code == 202, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    await deliver(app)
    assert len(receiver.received) == 2
    assert (await client.get(EVENTS, headers=admin_headers)).json()["total"] == 2


async def test_values_json_cannot_carry_exactly_are_stored_exactly(
    client: httpx.AsyncClient, admin_headers: dict[str, str], app: FastAPI
) -> None:
    data = {"counter": 2**70 + 1, "ratio": 0.1, "text": 'кириллица \u2028 "quoted"'}
    answer = await client.post(
        f"{EVENTS}/batch", json={"events": [{**EVENT, "data": data}]}, headers=admin_headers
    )
    assert answer.status_code == 202, answer.text
    [outcome] = answer.json()["events"]
    record = await _record(client, admin_headers, outcome["eventId"])
    assert record["data"] == data


async def test_serve_routes_a_batch_as_soon_as_it_is_stored(
    settings: Settings, admin_headers: dict[str, str], receiver: WebhookReceiver
) -> None:
    serving = create_app(settings.model_copy(update={"run_workers": True, "poll_seconds": 60}))
    async with serving.router.lifespan_context(serving):
        transport = httpx.ASGITransport(app=serving)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            await webhook_channel(client, admin_headers, receiver.url, isDefault=True)
            answer = await client.post(
                f"{EVENTS}/batch", json={"events": [EVENT] * 3}, headers=admin_headers
            )
            assert answer.status_code == 202, answer.text
            # The poll is a minute away: only the wake-up after storing can route these.
            for _ in range(500):
                if len(receiver.received) == 3:
                    break
                await asyncio.sleep(0.01)
    assert len(receiver.received) == 3


async def test_the_backlog_is_visible_in_the_record_and_the_metrics(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    app: FastAPI,
    receiver: WebhookReceiver,
) -> None:
    await webhook_channel(client, admin_headers, receiver.url, isDefault=True)
    other = {**EVENT, "source": {"name": "cron"}}
    posted = await client.post(
        f"{EVENTS}/batch", json={"events": [EVENT, other, EVENT]}, headers=admin_headers
    )
    assert posted.status_code == 202, posted.text

    async def listed(query: str) -> Any:
        answer = await client.get(f"{EVENTS}?{query}", headers=admin_headers)
        assert answer.status_code == 200, answer.text
        return answer.json()

    assert (await listed("routing=PENDING"))["total"] == 3
    assert "nabat_events_pending 3.0" in (await client.get("/metrics")).text
    # The source filter counts and pages in the database, not after the page is cut.
    page = await listed("source=uptime&size=1")
    assert (page["total"], len(page["items"])) == (2, 1)

    await deliver(app)
    assert (await listed("routing=PENDING"))["total"] == 0
    assert (await listed("routing=ROUTED"))["total"] == 3
    assert "nabat_events_pending 0.0" in (await client.get("/metrics")).text
    refused = await client.get(f"{EVENTS}?routing=LATER", headers=admin_headers)
    assert refused.status_code == 422
