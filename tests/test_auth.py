"""Login, tokens, registration, profile and the first administrator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text

from nabat.app import create_app
from nabat.db.engine import create_engine
from nabat.models.account import User
from nabat.security.tokens import issue_token
from nabat.settings import Settings
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, login


async def test_login_by_username_returns_pingtower_shape(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"token", "type", "id", "username", "email", "roles"}
    assert body["type"] == "Bearer"
    assert body["username"] == "admin"
    assert body["email"] == ADMIN_EMAIL
    assert "OWNER" in body["roles"]


async def test_login_accepts_the_email_in_username_or_email_key(
    client: httpx.AsyncClient,
) -> None:
    for payload in (
        {"username": ADMIN_EMAIL.upper(), "password": ADMIN_PASSWORD},
        {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
    ):
        response = await client.post("/api/auth/login", json=payload)
        assert response.status_code == 200, response.text


async def test_wrong_password_is_401_without_saying_which_part_was_wrong(
    client: httpx.AsyncClient,
) -> None:
    wrong_password = await client.post(
        "/api/auth/login", json={"username": "admin", "password": "nope-nope"}
    )
    no_user = await client.post(
        "/api/auth/login", json={"username": "ghost", "password": "nope-nope"}
    )
    assert wrong_password.status_code == no_user.status_code == 401
    assert wrong_password.json()["code"] == no_user.json()["code"] == "INVALID_CREDENTIALS"
    assert wrong_password.json()["error"] == no_user.json()["error"]


async def test_passwords_are_stored_as_argon2id_hashes(app: FastAPI) -> None:
    async with app.state.nabat.sessions() as session:
        user = await session.scalar(select(User).where(User.username == "admin"))
    assert user is not None
    assert user.password_hash is not None
    assert user.password_hash.startswith("$argon2id$")
    assert ADMIN_PASSWORD not in user.password_hash


async def test_profile_lists_the_users_projects(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.get("/api/auth/profile", headers=admin_headers)
    assert response.status_code == 200
    body = response.json()
    assert body["username"] == "admin"
    assert body["isSuperuser"] is True
    assert [(p["slug"], p["role"]) for p in body["projects"]] == [("default", "owner")]


async def test_expired_and_forged_tokens_are_refused(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    key = app.state.nabat.keys.jwt_key
    expired = issue_token(key, 1, datetime.now(UTC) - timedelta(days=2), ttl_seconds=3600)
    forged = issue_token(b"x" * 32, 1, datetime.now(UTC), ttl_seconds=3600)
    for token in (expired, forged, "not-a-token"):
        response = await client.get(
            "/api/auth/profile", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 401, token
        assert response.json()["code"] == "UNAUTHORIZED"


async def test_registration_is_refused_while_switched_off(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/auth/register",
        json={"username": "newbie", "email": "newbie@example.org", "password": "long-enough-1"},
    )
    assert response.status_code == 403
    assert response.json()["code"] == "REGISTRATION_DISABLED"
    assert "NABAT_REGISTRATION_ENABLED" in response.json()["error"]


async def test_registration_when_on_creates_a_user_with_an_own_project(
    settings: Settings,
) -> None:
    settings = settings.model_copy(update={"registration_enabled": True})
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            body = {
                "username": "newbie",
                "email": "newbie@example.org",
                "password": "long-enough-1",
            }
            created = await http.post("/api/auth/register", json=body)
            assert created.status_code == 201, created.text
            assert created.json()["roles"] == ["OWNER"]
            again = await http.post("/api/auth/register", json=body)
            assert again.status_code == 409
            short = await http.post(
                "/api/auth/register",
                json={"username": "shorty", "email": "s@example.org", "password": "short"},
            )
            assert short.status_code == 422
            assert short.json()["details"][0]["field"] == "password"
            headers = await login(http, "newbie@example.org", "long-enough-1")
            profile = (await http.get("/api/auth/profile", headers=headers)).json()
            assert [p["role"] for p in profile["projects"]] == ["owner"]
            assert profile["isSuperuser"] is False


async def _without_accounts(settings: Settings) -> None:
    """Empty the accounts the suite's template database comes with: a first start."""
    engine = create_engine(settings.database_url)
    try:
        async with engine.begin() as connection:
            for table in ("memberships", "projects", "users"):
                await connection.execute(text(f"DELETE FROM {table}"))  # noqa: S608
    finally:
        await engine.dispose()


async def test_generated_admin_password_is_printed_once_and_works(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = settings.model_copy(update={"admin_password": None})
    await _without_accounts(settings)
    for start in (1, 2):
        application = create_app(settings)
        async with application.router.lifespan_context(application):
            printed = capsys.readouterr().out
            if start == 2:
                assert "password:" not in printed
                continue
            line = next(row for row in printed.splitlines() if "password:" in row)
            password = line.split("password:", 1)[1].strip()
            transport = httpx.ASGITransport(app=application)
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as h:
                await login(h, "admin", password)
