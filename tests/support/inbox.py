"""Helpers for tests of the in-app channel and the inbox: members who can log in, the
project's in-app channel, a rule sending to members' inboxes, events that reach them."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from tests.conftest import login
from tests.support.delivery import deliver

CHANNELS = "/api/v1/notifications/channels"
EVENTS = "/api/v1/events"
RULES = "/api/v1/rules"
INBOX = "/api/v1/inbox"
PASSWORD = "a long enough password for tests"


async def member(
    client: httpx.AsyncClient, admin_headers: dict[str, str], name: str, display: str = ""
) -> tuple[int, dict[str, str]]:
    """A new member of the admin's project who can log in: their id and headers."""
    created = await client.post(
        "/api/v1/users",
        json={
            "username": name,
            "email": f"{name}@example.org",
            "password": PASSWORD,
            "displayName": display,
        },
        headers=admin_headers,
    )
    assert created.status_code == 201, created.text
    joined = await client.put(
        "/api/v1/members", json={"user": name, "role": "member"}, headers=admin_headers
    )
    assert joined.status_code == 200, joined.text
    user_id: int = created.json()["id"]
    return user_id, await login(client, name, PASSWORD)


async def inapp_channel(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    """The caller's project's in-app channel, as the API shows it."""
    listed = await client.get(CHANNELS, headers=headers)
    assert listed.status_code == 200, listed.text
    [found] = [channel for channel in listed.json() if channel["type"] == "INAPP"]
    return dict(found)


async def inbox_rule(
    client: httpx.AsyncClient, headers: dict[str, str], recipients: list[str], **match: Any
) -> int:
    """A rule sending every matching event to ``recipients``' inboxes."""
    channel = await inapp_channel(client, headers)
    response = await client.post(
        RULES,
        json={
            "name": "to the inbox",
            "match": match,
            "actions": [{"channelId": channel["id"], "recipients": recipients}],
        },
        headers=headers,
    )
    assert response.status_code == 201, response.text
    rule_id: int = response.json()["id"]
    return rule_id


async def post_event(
    client: httpx.AsyncClient, headers: dict[str, str], **fields: Any
) -> dict[str, Any]:
    """Post one event (a service.down unless told otherwise); the API's answer."""
    body = {
        "type": "service.down",
        "severity": "CRITICAL",
        "message": "No answer within 10 s.",
        "source": {"name": "Billing API", "url": "https://status.example.org/billing"},
        **fields,
    }
    answer = await client.post(EVENTS, json=body, headers=headers)
    assert answer.status_code == 202, answer.text
    accepted: dict[str, Any] = answer.json()
    return accepted


async def events_to_inbox(
    app: FastAPI, client: httpx.AsyncClient, headers: dict[str, str], bodies: list[dict[str, Any]]
) -> None:
    """Post events and deliver them (routing and the worker, in burst mode)."""
    for body in bodies:
        await post_event(client, headers, **body)
    await deliver(app)
