"""What the receiver tests for Alertmanager and Grafana share: a project API key, a
default webhook channel, and delivery in burst mode."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from tests.fakes.webhook import WebhookReceiver


async def api_key_headers(
    client: httpx.AsyncClient, admin_headers: dict[str, str], scopes: list[str] | None = None
) -> dict[str, str]:
    """Authorization with a new project API key (the default scopes unless given)."""
    body: dict[str, Any] = {"name": "alerting"}
    if scopes is not None:
        body["scopes"] = scopes
    created = await client.post("/api/v1/api-keys", json=body, headers=admin_headers)
    assert created.status_code == 201, created.text
    return {"Authorization": f"Bearer {created.json()['key']}"}


async def default_webhook(
    client: httpx.AsyncClient, admin_headers: dict[str, str], receiver: WebhookReceiver
) -> int:
    """A WEBHOOK channel to ``receiver``, made the project's default; its id."""
    body = {
        "name": "hook",
        "type": "WEBHOOK",
        "configuration": {"url": receiver.url},
        "isDefault": True,
    }
    response = await client.post("/api/v1/notifications/channels", json=body, headers=admin_headers)
    assert response.status_code == 201, response.text
    channel_id: int = response.json()["id"]
    return channel_id


async def deliver(app: FastAPI) -> None:
    """Route stored batched events, then run a worker until nothing is due."""
    await app.state.nabat.router.run_until_idle()
    await app.state.nabat.new_worker().run_until_idle()


def received_events(receiver: WebhookReceiver) -> list[dict[str, Any]]:
    """The events the receiver got, by their alert's fingerprint and type order."""
    events = [got.json()["event"] for got in receiver.received]
    return sorted(events, key=lambda event: (event["subject"]["objectId"], event["type"]))
