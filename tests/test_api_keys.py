"""Project API keys: shown once, stored hashed, scoped, revocable."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import text


async def test_api_key_is_shown_once_and_works_as_a_bearer_token(
    client: httpx.AsyncClient, admin_headers: dict[str, str], app: FastAPI
) -> None:
    created = await client.post(
        "/api/v1/api-keys",
        json={"name": "uptime monitor", "scopes": ["channels:read"]},
        headers=admin_headers,
    )
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    assert key.startswith("nbt_")
    listed = await client.get("/api/v1/api-keys", headers=admin_headers)
    assert key not in listed.text
    assert listed.json()[0]["scopes"] == ["channels:read"]
    async with app.state.nabat.sessions() as session:
        rows = (await session.execute(text("SELECT * FROM api_keys"))).all()
    assert key not in repr(rows)
    key_headers = {"Authorization": f"Bearer {key}"}
    assert (
        await client.get("/api/v1/notifications/channels", headers=key_headers)
    ).status_code == 200
    denied = await client.post(
        "/api/v1/notifications/channels",
        json={"name": "x", "type": "PYTHON_BOT", "configuration": {"botUrl": "http://b"}},
        headers=key_headers,
    )
    assert denied.status_code == 403
    assert "channels:write" in denied.json()["error"]


async def test_revoked_key_is_refused(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    created = (
        await client.post("/api/v1/api-keys", json={"name": "temp"}, headers=admin_headers)
    ).json()
    key_headers = {"Authorization": f"Bearer {created['key']}"}
    revoked = await client.delete(f"/api/v1/api-keys/{created['id']}", headers=admin_headers)
    assert revoked.status_code == 200
    response = await client.get("/api/v1/notifications/channels", headers=key_headers)
    assert response.status_code == 401


async def test_a_tampered_key_is_refused(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    key = (await client.post("/api/v1/api-keys", json={"name": "k"}, headers=admin_headers)).json()[
        "key"
    ]
    tampered = key[:-2] + ("AA" if not key.endswith("AA") else "BB")
    response = await client.get(
        "/api/v1/notifications/channels", headers={"Authorization": f"Bearer {tampered}"}
    )
    assert response.status_code == 401


async def test_unknown_scope_is_named_with_the_valid_ones(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.post(
        "/api/v1/api-keys", json={"name": "k", "scopes": ["channels:rule"]}, headers=admin_headers
    )
    assert response.status_code == 422
    assert "channels:rule" in response.json()["error"]
    assert "channels:read" in response.json()["error"]


async def test_a_key_cannot_create_keys_without_the_scope(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    key = (await client.post("/api/v1/api-keys", json={"name": "k"}, headers=admin_headers)).json()[
        "key"
    ]
    response = await client.post(
        "/api/v1/api-keys", json={"name": "k2"}, headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 403


async def test_ids_beyond_the_id_column_are_simply_not_found(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    huge = "99999999999"
    revoke = await client.delete(f"/api/v1/api-keys/{huge}", headers=admin_headers)
    assert revoke.status_code == 404
    assert revoke.json()["code"] == "API_KEY_NOT_FOUND"
    for ref in (huge, "²"):
        member = await client.put(
            "/api/v1/members", json={"user": ref, "role": "viewer"}, headers=admin_headers
        )
        assert member.status_code == 404, ref
    project = await client.get(
        "/api/v1/notifications/channels", headers={**admin_headers, "X-Nabat-Project": huge}
    )
    assert project.status_code == 404
    assert project.json()["code"] == "PROJECT_NOT_FOUND"
