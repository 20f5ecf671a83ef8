"""``POST …/channels/{id}/test``: an immediate attempt with the provider's verdict."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from tests.conftest import login
from tests.fakes.telegram import TOKEN, TelegramFake
from tests.fakes.webhook import Scripted, WebhookReceiver
from tests.support.errors import expect_error
from tests.support.postgres import free_port

CHANNELS = "/api/v1/notifications/channels"


async def create(
    client: httpx.AsyncClient, headers: dict[str, str], kind: str, config: dict[str, Any]
) -> int:
    response = await client.post(
        CHANNELS, json={"name": kind, "type": kind, "configuration": config}, headers=headers
    )
    assert response.status_code == 201, response.text
    channel_id: int = response.json()["id"]
    return channel_id


async def test_seed_test_call_without_a_body_delivers_and_is_recorded(
    client: httpx.AsyncClient, admin_headers: dict[str, str], receiver: WebhookReceiver
) -> None:
    channel = await create(client, admin_headers, "WEBHOOK", {"url": receiver.url})
    response = await client.post(f"{CHANNELS}/{channel}/test", headers=admin_headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    assert body["durationMs"] >= 0
    [got] = receiver.received
    assert got.json()["status"] == "TEST"
    record = await client.get(
        f"/api/v1/notifications/deliveries/{body['deliveryId']}", headers=admin_headers
    )
    assert record.json()["kind"] == "test"
    assert record.json()["status"] == "SENT"


async def test_custom_message_and_username_reach_the_receiver(
    client: httpx.AsyncClient, admin_headers: dict[str, str], receiver: WebhookReceiver
) -> None:
    channel = await create(client, admin_headers, "WEBHOOK", {"url": receiver.url})
    response = await client.post(
        f"{CHANNELS}/{channel}/test",
        json={"message": "Custom test message", "username": "testuser"},
        headers=admin_headers,
    )
    assert response.status_code == 200
    payload = receiver.received[0].json()
    assert payload["message"] == "Custom test message"
    assert payload["username"] == "testuser"


async def test_a_refusing_receiver_gives_502_with_the_reason_and_no_retry(
    client: httpx.AsyncClient, admin_headers: dict[str, str], receiver: WebhookReceiver
) -> None:
    channel = await create(
        client,
        admin_headers,
        "WEBHOOK",
        {"url": receiver.url, "headers": {"Authorization": "Bearer hidden-token-value"}},
    )
    receiver.script.append(Scripted(503, "maintenance"))
    response = await client.post(f"{CHANNELS}/{channel}/test", headers=admin_headers)
    body = expect_error(response, 502, "WEBHOOK_ERROR")
    assert "503" in body["error"]
    assert "hidden-token-value" not in response.text
    assert body["details"][0]["failureClass"] == "upstream"
    assert len(receiver.received) == 1


async def test_an_unreachable_bot_is_bot_unavailable(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    channel = await create(
        client, admin_headers, "PYTHON_BOT", {"botUrl": f"http://127.0.0.1:{free_port()}"}
    )
    response = await client.post(f"{CHANNELS}/{channel}/test", headers=admin_headers)
    body = expect_error(response, 502, "BOT_UNAVAILABLE")
    assert "cannot reach" in body["error"]


async def test_telegram_test_reaches_the_chat_and_a_bad_token_says_so(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    async with TelegramFake() as fake:
        good = await create(
            client,
            admin_headers,
            "TELEGRAM",
            {"botToken": TOKEN, "chatId": "-1001234567890", "apiBaseUrl": fake.api_base_url()},
        )
        ok = await client.post(f"{CHANNELS}/{good}/test", headers=admin_headers)
        assert ok.status_code == 200, ok.text
        assert len(fake.sent) == 1
        wrong = "987654321:AAH-wrong-token-0123456789abcdefXYZ"
        bad = await create(
            client,
            admin_headers,
            "TELEGRAM",
            {"botToken": wrong, "chatId": "-1001234567890", "apiBaseUrl": fake.api_base_url()},
        )
        refused = await client.post(f"{CHANNELS}/{bad}/test", headers=admin_headers)
        body = expect_error(refused, 502, "TELEGRAM_ERROR")
        assert body["details"][0]["failureClass"] == "auth"
        assert wrong not in refused.text
        assert wrong.split(":")[1] not in refused.text


async def test_a_blocked_destination_is_refused_before_connecting(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    channel = await create(
        client, admin_headers, "WEBHOOK", {"url": "http://169.254.169.254/latest/meta-data"}
    )
    response = await client.post(f"{CHANNELS}/{channel}/test", headers=admin_headers)
    body = expect_error(response, 502, "WEBHOOK_ERROR")
    assert body["details"][0]["failureClass"] == "config"
    assert "NABAT_OUTBOUND_ALLOW" in body["error"]


async def test_a_viewer_cannot_send_tests_and_other_projects_channels_are_missing(
    client: httpx.AsyncClient, admin_headers: dict[str, str], receiver: WebhookReceiver
) -> None:
    channel = await create(client, admin_headers, "WEBHOOK", {"url": receiver.url})
    await client.post(
        "/api/v1/users",
        json={"username": "viewer1", "email": "v1@example.org", "password": "viewer-pass-1"},
        headers=admin_headers,
    )
    await client.put(
        "/api/v1/members", json={"user": "viewer1", "role": "viewer"}, headers=admin_headers
    )

    viewer = await login(client, "viewer1", "viewer-pass-1")
    expect_error(await client.post(f"{CHANNELS}/{channel}/test", headers=viewer), 403, "FORBIDDEN")
    expect_error(
        await client.post(f"{CHANNELS}/999999/test", headers=admin_headers),
        404,
        "CHANNEL_NOT_FOUND",
    )
    assert receiver.received == []


class ExplodingSender:
    """A sender with a bug: it raises something that is not a DeliveryError."""

    async def send(self, config: object, message: object) -> None:
        raise RuntimeError("bug in the sender")


async def test_a_sender_bug_in_a_test_send_is_recorded_as_internal_not_a_500(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    receiver: WebhookReceiver,
    app: FastAPI,
) -> None:
    channel = await create(client, admin_headers, "WEBHOOK", {"url": receiver.url})
    app.state.nabat.senders["WEBHOOK"] = ExplodingSender()
    response = await client.post(f"{CHANNELS}/{channel}/test", headers=admin_headers)
    body = expect_error(response, 502, "WEBHOOK_ERROR")
    assert body["details"][0]["failureClass"] == "internal"
    assert "bug in the sender" not in response.text
    record = await client.get(
        f"/api/v1/notifications/deliveries/{body['details'][0]['deliveryId']}",
        headers=admin_headers,
    )
    assert record.json()["kind"] == "test"
    assert record.json()["status"] == "DEAD"
    assert record.json()["attemptLog"][0]["failureClass"] == "internal"


async def test_test_sends_keep_to_the_providers_rate_limits(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    async with TelegramFake() as fake:
        group = await create(
            client,
            admin_headers,
            "TELEGRAM",
            {"botToken": TOKEN, "chatId": "-1001234567890", "apiBaseUrl": fake.api_base_url()},
        )
        first = await client.post(f"{CHANNELS}/{group}/test", headers=admin_headers)
        assert first.status_code == 200, first.text
        # Telegram allows about 20 messages a minute to a group: the next waits seconds.
        second = await client.post(f"{CHANNELS}/{group}/test", headers=admin_headers)
        body = expect_error(second, 502, "TELEGRAM_ERROR")
        assert body["details"][0]["failureClass"] == "throttled"
        assert "try again in" in body["error"]
        assert len(fake.sent) == 1
