"""A user in no project yet signs in to the console and joins by accepting an invitation."""

from __future__ import annotations

import re

import httpx
from fastapi import FastAPI

from tests.test_isolation import PASSWORD, add_user
from tests.web.support import assert_translated, console_login, csrf_of


async def test_a_user_without_a_project_accepts_an_invitation_in_the_console(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    owner = await add_user(client, admin_headers, "olga", "owner")
    created = await client.post(
        "/api/v1/users",
        json={"username": "newbie", "email": "newbie@example.org", "password": PASSWORD},
        headers=admin_headers,
    )
    assert created.status_code == 201, created.text
    invited = await client.put(
        "/api/v1/members", json={"user": "newbie", "role": "member"}, headers=owner
    )
    assert invited.status_code == 202, invited.text
    await console_login(client, "newbie", PASSWORD, language="ru")
    welcome = await client.get("/")
    assert welcome.status_code == 200
    assert_translated(welcome.text)
    assert "Вы пока не участник ни одного проекта" in welcome.text
    assert "Default project" in welcome.text
    found = re.search(r'action="(/me/invitations/\d+/accept)"', welcome.text)
    assert found is not None, welcome.text
    action = found.group(1)
    joined = await client.post(action, data={"csrf": csrf_of(welcome.text)})
    assert joined.status_code == 303
    dashboard = await client.get("/")
    assert "<h1>Обзор</h1>" in dashboard.text
    members = await client.get("/api/v1/members", headers=admin_headers)
    assert {"newbie": "member"}.items() <= {
        m["username"]: m["role"] for m in members.json()
    }.items()
