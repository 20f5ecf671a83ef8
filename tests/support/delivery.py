"""Helpers for tests that queue deliveries through the API and then send them."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

CHANNELS = "/api/v1/notifications/channels"


async def webhook_channel(
    client: httpx.AsyncClient, headers: dict[str, str], url: str, **extra: Any
) -> int:
    """Create a WEBHOOK channel posting to ``url``; its id."""
    body = {"name": "hook", "type": "WEBHOOK", "configuration": {"url": url}, **extra}
    response = await client.post(CHANNELS, json=body, headers=headers)
    assert response.status_code == 201, response.text
    channel_id: int = response.json()["id"]
    return channel_id


async def deliver(app: FastAPI) -> None:
    """Route stored batched events, then run a worker in burst mode until nothing is due
    (what ``nabat serve`` does on its own)."""
    await app.state.nabat.router.run_until_idle()
    await app.state.nabat.new_worker().run_until_idle()
