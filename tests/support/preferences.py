"""People in the first administrator's project, their channels and switches, for tests
of what each person wants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from nabat.clock import FrozenClock
from nabat.models.account import Project, Role
from nabat.security.tokens import issue_token
from nabat.services import accounts
from nabat.state import AppState
from tests.fakes.telegram import TOKEN

PREFERENCES = "/api/v1/users/me/preferences"
QUIET_HOURS = "/api/v1/users/me/quiet-hours"
DEFAULTS = "/api/v1/preferences/defaults"
EVENTS = "/api/v1/events"
CHANNELS = "/api/v1/notifications/channels"
CONTACTS = "/api/v1/users/me/contact-points"


def state_of(app: FastAPI) -> AppState:
    """The running app's state."""
    found: AppState = app.state.nabat
    return found


async def admins_project(app: FastAPI) -> Project:
    """The project the first administrator owns (``admin_headers`` act in it)."""
    state = state_of(app)
    async with state.sessions() as session:
        admin = await accounts.find_user(session, "admin")
        assert admin is not None
        [(project, _)] = await accounts.memberships_of(session, admin.id)
    return project


async def member(app: FastAPI, name: str, role: Role) -> tuple[int, dict[str, str]]:
    """A new user with ``role`` in the administrator's project (no password, so no
    hashing): their id and Authorization."""
    state = state_of(app)
    project = await admins_project(app)
    async with state.sessions() as session:
        user = await accounts.create_user(
            session, state.clock, username=name, email=f"{name}@example.org", password=None
        )
        await accounts.set_membership(session, project_id=project.id, user_id=user.id, role=role)
        await session.commit()
    # PyJWT checks expiry against the real time, whatever the app's clock says.
    token = issue_token(state.keys.jwt_key, user.id, datetime.now(UTC), 30 * 24 * 3600)
    return user.id, {"Authorization": f"Bearer {token}"}


async def channel(
    client: httpx.AsyncClient, headers: dict[str, str], kind: str, config: dict[str, Any]
) -> int:
    body = {"name": kind.lower(), "type": kind, "configuration": config}
    made = await client.post(CHANNELS, json=body, headers=headers)
    assert made.status_code == 201, made.text
    channel_id: int = made.json()["id"]
    return channel_id


async def telegram(client: httpx.AsyncClient, headers: dict[str, str], base: str | None) -> int:
    config = {"botToken": TOKEN, "chatId": "-100500"}
    return await channel(
        client, headers, "TELEGRAM", {**config, "apiBaseUrl": base} if base else config
    )


async def mail(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    config = {"smtpHost": "127.0.0.1", "smtpPort": 2525, "fromEmail": "n@example.org"}
    return await channel(client, headers, "EMAIL", config)


async def chat_of(client: httpx.AsyncClient, headers: dict[str, str], chat: str) -> None:
    added = await client.post(CONTACTS, json={"kind": "TELEGRAM", "value": chat}, headers=headers)
    assert added.status_code == 201, added.text


async def switch(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    kind: str,
    enabled: bool | None,
    *,
    path: str = PREFERENCES,
    type_key: str = "service.down",
) -> None:
    body = {"switches": [{"type": type_key, "kind": kind, "enabled": enabled}]}
    changed = await client.put(path, json=body, headers=headers)
    assert changed.status_code == 200, changed.text


async def post(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    channels: list[int],
    recipients: list[str],
    severity: str = "ERROR",
) -> dict[str, Any]:
    body = {
        "type": "service.down",
        "severity": severity,
        "source": {"name": "uptime"},
        "message": "billing is down",
        "channelIds": channels,
        "recipients": recipients,
    }
    answer = await client.post(EVENTS, json=body, headers=headers)
    assert answer.status_code == 202, answer.text
    accepted: dict[str, Any] = answer.json()
    return accepted


async def recorded(
    client: httpx.AsyncClient, headers: dict[str, str], accepted: dict[str, Any]
) -> dict[tuple[str, str | None], dict[str, Any]]:
    """The event's deliveries as its record shows them, by (channel type, recipient)."""
    record = await client.get(f"{EVENTS}/{accepted['eventId']}", headers=headers)
    assert record.status_code == 200, record.text
    return {(d["channelType"], d["recipient"]): d for d in record.json()["deliveries"]}


async def quiet_now(
    client: httpx.AsyncClient, headers: dict[str, str], clock: FrozenClock, *, enabled: bool = True
) -> None:
    """Quiet hours (UTC) from an hour ago to two hours from now."""
    now = clock.now()
    body = {
        "timeZone": "UTC",
        "starts": (now - timedelta(hours=1)).strftime("%H:%M"),
        "ends": (now + timedelta(hours=2)).strftime("%H:%M"),
        "enabled": enabled,
    }
    answer = await client.put(QUIET_HOURS, json=body, headers=headers)
    assert answer.status_code == 200, answer.text
