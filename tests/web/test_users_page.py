"""Accounts in the console, for instance administrators only."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from tests.conftest import login
from tests.test_isolation import PASSWORD, add_user
from tests.web.support import assert_translated, console_login, post_form


async def test_an_instance_administrator_creates_an_account(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await console_login(client, language="ru")
    listed = await client.get("/users")
    assert listed.status_code == 200
    assert_translated(listed.text)
    refused = await post_form(
        client,
        "/users",
        "/users",
        {"username": "ivan", "email": "not-an-address", "password": PASSWORD},
    )
    assert refused.status_code == 422
    assert 'id="user-email-error"' in refused.text
    assert 'value="ivan"' in refused.text
    assert PASSWORD not in refused.text
    made = await post_form(
        client,
        "/users",
        "/users",
        {"username": "ivan", "email": "ivan@example.org", "password": PASSWORD},
    )
    assert made.status_code == 303
    shown = await client.get(made.headers["location"])
    assert "Учётная запись ivan создана" in shown.text
    assert (await login(client, "ivan", PASSWORD))["Authorization"].startswith("Bearer ")


async def test_a_project_owner_cannot_manage_accounts(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await add_user(client, admin_headers, "olga", "owner")
    await console_login(client, "olga", PASSWORD)
    assert 'href="/users"' not in (await client.get("/")).text
    assert (await client.get("/users")).status_code == 403
    answer = await post_form(
        client,
        "/me/contact-points",
        "/users",
        {"username": "eve", "email": "eve@example.org", "password": PASSWORD},
    )
    assert answer.status_code == 403
