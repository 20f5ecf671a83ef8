"""Stored secrets never follow a channel to a new destination without being re-sent."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from nabat.channels.base import MASK
from tests.test_channel_secrets import stored_config

CHANNELS = "/api/v1/notifications/channels"

EMAIL = {
    "smtpHost": "smtp.example.org",
    "smtpPort": 587,
    "username": "alerts@example.org",
    "password": "pa55-word-secret",
    "fromEmail": "alerts@example.org",
}
HOOK = {
    "url": "https://hooks.example.org/in",
    "headers": {"Authorization": "Bearer hook-secret-token", "Content-Type": "application/json"},
}


async def _create(
    client: httpx.AsyncClient, headers: dict[str, str], kind: str, config: dict[str, Any]
) -> int:
    response = await client.post(
        CHANNELS, json={"name": kind, "type": kind, "configuration": config}, headers=headers
    )
    assert response.status_code == 201, response.text
    channel_id: int = response.json()["id"]
    return channel_id


async def test_moving_the_smtp_host_requires_the_password_again(
    client: httpx.AsyncClient, admin_headers: dict[str, str], app: FastAPI
) -> None:
    channel = await _create(client, admin_headers, "EMAIL", EMAIL)
    moved = await client.put(
        f"{CHANNELS}/{channel}",
        json={"configuration": {"smtpHost": "attacker.example"}},
        headers=admin_headers,
    )
    assert moved.status_code == 422
    assert moved.json()["details"][0]["field"] == "configuration.password"
    assert (await stored_config(app, channel))["smtpHost"] == "smtp.example.org"
    masked = await client.put(
        f"{CHANNELS}/{channel}",
        json={"configuration": {"smtpHost": "attacker.example", "password": MASK}},
        headers=admin_headers,
    )
    assert masked.status_code == 422
    resent = await client.put(
        f"{CHANNELS}/{channel}",
        json={"configuration": {"smtpHost": "smtp2.example.org", "password": "new-pass-1"}},
        headers=admin_headers,
    )
    assert resent.status_code == 200, resent.text
    assert (await stored_config(app, channel))["password"] == "new-pass-1"


async def test_other_changes_keep_the_stored_password(
    client: httpx.AsyncClient, admin_headers: dict[str, str], app: FastAPI
) -> None:
    channel = await _create(client, admin_headers, "EMAIL", EMAIL)
    response = await client.put(
        f"{CHANNELS}/{channel}",
        json={"configuration": {"smtpPort": "465", "fromName": "Ops"}},
        headers=admin_headers,
    )
    assert response.status_code == 200, response.text
    assert (await stored_config(app, channel))["password"] == EMAIL["password"]


async def test_moving_a_webhook_requires_its_secret_headers_again(
    client: httpx.AsyncClient, admin_headers: dict[str, str], app: FastAPI
) -> None:
    channel = await _create(client, admin_headers, "WEBHOOK", HOOK)
    read_back = (await client.get(f"{CHANNELS}/{channel}", headers=admin_headers)).json()
    config = {**read_back["configuration"], "url": "https://evil.example/in"}
    refused = await client.put(
        f"{CHANNELS}/{channel}", json={"configuration": config}, headers=admin_headers
    )
    assert refused.status_code == 422
    assert refused.json()["details"][0]["field"] == "configuration.headers"
    config["headers"] = {"Authorization": "Bearer fresh", "Content-Type": "application/json"}
    accepted = await client.put(
        f"{CHANNELS}/{channel}", json={"configuration": config}, headers=admin_headers
    )
    assert accepted.status_code == 200, accepted.text
    assert (await stored_config(app, channel))["headers"]["Authorization"] == "Bearer fresh"


async def test_a_type_change_carries_no_secret_over(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    channel = await _create(
        client, admin_headers, "SLACK", {"webhookUrl": "https://hooks.slack.com/services/T/B/x"}
    )
    response = await client.put(
        f"{CHANNELS}/{channel}",
        json={"type": "DISCORD", "configuration": {"webhookUrl": MASK}},
        headers=admin_headers,
    )
    assert response.status_code == 422
    assert response.json()["details"][0]["field"] == "configuration.webhookUrl"


async def test_the_whole_object_read_can_be_sent_back(
    client: httpx.AsyncClient, admin_headers: dict[str, str], app: FastAPI
) -> None:
    channel = await _create(client, admin_headers, "EMAIL", EMAIL)
    body = (await client.get(f"{CHANNELS}/{channel}", headers=admin_headers)).json()
    body["name"] = "Renamed"
    response = await client.put(f"{CHANNELS}/{channel}", json=body, headers=admin_headers)
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "Renamed"
    assert (await stored_config(app, channel))["password"] == EMAIL["password"]
