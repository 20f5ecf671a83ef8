"""Projects are isolated and roles are enforced on every channel route (SPEC 2, 5)."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from nabat.security.tokens import issue_token
from nabat.state import AppState
from tests.conftest import login
from tests.support.channels import made_by_people
from tests.support.errors import expect_error

CHANNELS = "/api/v1/notifications/channels"
PASSWORD = "a long enough password"
A_WEBHOOK = "https://hooks.slack.com/services/TA/BA/project-a-secret"


def slack(name: str, url: str = A_WEBHOOK) -> dict[str, Any]:
    """A valid channel body."""
    return {"name": name, "type": "SLACK", "configuration": {"webhookUrl": url}, "enabled": True}


async def create_channel(
    client: httpx.AsyncClient, headers: dict[str, str], name: str, *, default: bool = False
) -> int:
    """Create a channel in the caller's project and return its id."""
    response = await client.post(
        CHANNELS, json={**slack(name), "isDefault": default}, headers=headers
    )
    assert response.status_code == 201, response.text
    channel_id: int = response.json()["id"]
    return channel_id


async def add_user(
    client: httpx.AsyncClient, admin_headers: dict[str, str], username: str, role: str
) -> dict[str, str]:
    """Create a user with ``role`` in the project ``admin_headers`` select; log them in."""
    created = await client.post(
        "/api/v1/users",
        json={"username": username, "email": f"{username}@example.org", "password": PASSWORD},
        headers=admin_headers,
    )
    assert created.status_code == 201, created.text
    member = await client.put(
        "/api/v1/members", json={"user": username, "role": role}, headers=admin_headers
    )
    assert member.status_code == 200, member.text
    return await login(client, username, PASSWORD)


async def add_api_key(
    client: httpx.AsyncClient, headers: dict[str, str], scopes: list[str] | None
) -> tuple[int, dict[str, str]]:
    """Create an API key in the caller's project; return its id and Authorization header."""
    body: dict[str, Any] = {"name": "robot"}
    if scopes is not None:
        body["scopes"] = scopes
    response = await client.post("/api/v1/api-keys", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["id"], {"Authorization": f"Bearer {response.json()['key']}"}


def without_noise(response: httpx.Response, *refs: object) -> tuple[int, dict[str, Any]]:
    """Status and body with the timestamp dropped and the ids or names in the sentence
    replaced, for comparing two 404s."""
    body: dict[str, Any] = response.json()
    del body["timestamp"]
    for ref in refs:
        body["error"] = re.sub(rf"(?<![\w-]){re.escape(str(ref))}(?![\w-])", "<ref>", body["error"])
    return response.status_code, body


@dataclass
class TwoProjects:
    """Project A (``default``: admin, one default channel) and project B with its own
    owner, a channel and an API key that may do everything with channels."""

    a_channel: int
    b_channel: int
    b_owner: dict[str, str]
    b_key: dict[str, str]
    b_slug: str


@pytest.fixture
async def two_projects(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> TwoProjects:
    """Two projects, each with a channel."""
    a_channel = await create_channel(client, admin_headers, "A alerts", default=True)
    project = await client.post(
        "/api/v1/projects", json={"name": "Project B", "slug": "project-b"}, headers=admin_headers
    )
    assert project.status_code == 201, project.text
    in_b = {**admin_headers, "X-Nabat-Project": "project-b"}
    b_owner = await add_user(client, in_b, "bob", "owner")
    b_channel = await create_channel(client, b_owner, "B alerts")
    _, b_key = await add_api_key(
        client, b_owner, ["channels:read", "channels:write", "channels:test"]
    )
    return TwoProjects(a_channel, b_channel, b_owner, b_key, "project-b")


# --- isolation ------------------------------------------------------------------------

INTRUSIONS: list[tuple[str, dict[str, Any] | None]] = [
    ("GET", None),
    ("PUT", {"name": "hijacked"}),
    ("PUT", {"isDefault": True}),
    ("PUT", {"enabled": False}),
    ("PUT", {"configuration": {"webhookUrl": "https://attacker.example/hook"}}),
    ("PUT", {"type": "WEBHOOK", "configuration": {"url": "https://attacker.example/hook"}}),
    ("DELETE", None),
]


@pytest.mark.parametrize("caller", ["user", "api-key"])
@pytest.mark.parametrize(("method", "body"), INTRUSIONS)
async def test_another_projects_channel_looks_exactly_like_a_missing_one(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    two_projects: TwoProjects,
    caller: str,
    method: str,
    body: dict[str, Any] | None,
) -> None:
    headers = two_projects.b_owner if caller == "user" else two_projects.b_key
    a_channel = two_projects.a_channel
    missing = a_channel + 1000

    foreign = await client.request(method, f"{CHANNELS}/{a_channel}", json=body, headers=headers)
    expect_error(foreign, 404, "CHANNEL_NOT_FOUND")
    absent = await client.request(method, f"{CHANNELS}/{missing}", json=body, headers=headers)
    expect_error(absent, 404, "CHANNEL_NOT_FOUND")
    assert without_noise(foreign, a_channel) == without_noise(absent, missing)

    # Nothing changed in project A.
    seen = await client.get(f"{CHANNELS}/{a_channel}", headers=admin_headers)
    assert seen.status_code == 200
    assert seen.json()["name"] == "A alerts"
    assert seen.json()["type"] == "SLACK"
    assert seen.json()["enabled"] is True
    assert seen.json()["isDefault"] is True
    assert seen.json()["createdAt"] == seen.json()["updatedAt"]


@pytest.mark.parametrize("caller", ["user", "api-key"])
async def test_another_projects_channel_is_not_listed_nor_default(
    client: httpx.AsyncClient, admin_headers: dict[str, str], two_projects: TwoProjects, caller: str
) -> None:
    headers = two_projects.b_owner if caller == "user" else two_projects.b_key
    listed = await client.get(CHANNELS, headers=headers)
    assert listed.status_code == 200
    assert [c["id"] for c in made_by_people(listed.json())] == [two_projects.b_channel]
    assert "project-a-secret" not in listed.text

    # A has a default channel, B none: B sees none.
    expect_error(await client.get(f"{CHANNELS}/default", headers=headers), 404, "CHANNEL_NOT_FOUND")

    # B's default is B's own, and it leaves A's default alone.
    made = await client.put(
        f"{CHANNELS}/{two_projects.b_channel}", json={"isDefault": True}, headers=headers
    )
    assert made.status_code == 200, made.text
    b_default = await client.get(f"{CHANNELS}/default", headers=headers)
    assert b_default.json()["id"] == two_projects.b_channel
    a_default = await client.get(f"{CHANNELS}/default", headers=admin_headers)
    assert a_default.json()["id"] == two_projects.a_channel

    a_listed = await client.get(CHANNELS, headers=admin_headers)
    assert [c["id"] for c in made_by_people(a_listed.json())] == [two_projects.a_channel]


async def test_a_channel_created_in_one_project_stays_there(
    client: httpx.AsyncClient, admin_headers: dict[str, str], two_projects: TwoProjects
) -> None:
    new = await create_channel(client, two_projects.b_key, "made by key")
    assert (await client.get(f"{CHANNELS}/{new}", headers=two_projects.b_owner)).status_code == 200
    expect_error(
        await client.get(f"{CHANNELS}/{new}", headers=admin_headers), 404, "CHANNEL_NOT_FOUND"
    )
    # The superuser sees it only by choosing project B.
    in_b = {**admin_headers, "X-Nabat-Project": two_projects.b_slug}
    assert (await client.get(f"{CHANNELS}/{new}", headers=in_b)).status_code == 200


@pytest.mark.parametrize("caller", ["user", "api-key"])
async def test_naming_a_project_the_caller_is_not_in_is_404(
    client: httpx.AsyncClient, admin_headers: dict[str, str], two_projects: TwoProjects, caller: str
) -> None:
    headers = two_projects.b_owner if caller == "user" else two_projects.b_key
    projects = await client.get("/api/v1/projects", headers=admin_headers)
    a_id = next(p["id"] for p in projects.json() if p["slug"] == "default")

    for ref in ("default", str(a_id)):
        foreign = await client.get(CHANNELS, headers={**headers, "X-Nabat-Project": ref})
        expect_error(foreign, 404, "PROJECT_NOT_FOUND")
        absent = await client.get(CHANNELS, headers={**headers, "X-Nabat-Project": "no-such"})
        expect_error(absent, 404, "PROJECT_NOT_FOUND")
        assert without_noise(foreign, ref) == without_noise(absent, "no-such")
        expect_error(
            await client.get(
                f"{CHANNELS}/{two_projects.a_channel}",
                headers={**headers, "X-Nabat-Project": ref},
            ),
            404,
            "PROJECT_NOT_FOUND",
        )

    own = await client.get(CHANNELS, headers={**headers, "X-Nabat-Project": two_projects.b_slug})
    assert own.status_code == 200
    assert [c["id"] for c in made_by_people(own.json())] == [two_projects.b_channel]


# --- roles and scopes -----------------------------------------------------------------


async def assert_cannot_write(
    client: httpx.AsyncClient, headers: dict[str, str], channel_id: int, needs: str
) -> None:
    """Every write is 403 naming the missing right, and nothing changes."""
    attempts = [
        ("POST", CHANNELS, slack("intruder")),
        ("PUT", f"{CHANNELS}/{channel_id}", {"name": "renamed"}),
        ("PUT", f"{CHANNELS}/{channel_id}", {"isDefault": True}),
        ("DELETE", f"{CHANNELS}/{channel_id}", None),
    ]
    for method, path, body in attempts:
        response = await client.request(method, path, json=body, headers=headers)
        error = expect_error(response, 403, "FORBIDDEN")
        assert needs in error["error"]
    listed = await client.get(CHANNELS, headers=headers)
    assert listed.status_code == 200
    assert [(c["id"], c["name"], c["isDefault"]) for c in made_by_people(listed.json())] == [
        (channel_id, "A alerts", False)
    ]


async def assert_can_read(
    client: httpx.AsyncClient, headers: dict[str, str], channel_id: int
) -> None:
    """List, get and default all answer 200."""
    listed = await client.get(CHANNELS, headers=headers)
    assert listed.status_code == 200, listed.text
    assert [c["id"] for c in made_by_people(listed.json())] == [channel_id]
    one = await client.get(f"{CHANNELS}/{channel_id}", headers=headers)
    assert one.status_code == 200
    assert one.json()["configuration"]["webhookUrl"] != A_WEBHOOK


@pytest.mark.parametrize("role", ["viewer", "member"])
async def test_viewers_and_members_read_but_cannot_write_channels(
    client: httpx.AsyncClient, admin_headers: dict[str, str], role: str
) -> None:
    channel_id = await create_channel(client, admin_headers, "A alerts")
    headers = await add_user(client, admin_headers, f"{role}1", role)
    await assert_can_read(client, headers, channel_id)
    await assert_cannot_write(client, headers, channel_id, "channels:write")
    assert role in (await client.post(CHANNELS, json=slack("x"), headers=headers)).json()["error"]

    await client.put(f"{CHANNELS}/{channel_id}", json={"isDefault": True}, headers=admin_headers)
    default = await client.get(f"{CHANNELS}/default", headers=headers)
    assert default.status_code == 200
    assert default.json()["id"] == channel_id


@pytest.mark.parametrize("role", ["admin", "owner"])
async def test_admins_and_owners_write_channels(
    client: httpx.AsyncClient, admin_headers: dict[str, str], role: str
) -> None:
    headers = await add_user(client, admin_headers, f"{role}1", role)
    channel_id = await create_channel(client, headers, "mine")
    renamed = await client.put(
        f"{CHANNELS}/{channel_id}", json={"name": "renamed", "isDefault": True}, headers=headers
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == "renamed"
    assert renamed.json()["isDefault"] is True
    deleted = await client.delete(f"{CHANNELS}/{channel_id}", headers=headers)
    assert deleted.status_code == 200
    assert made_by_people((await client.get(CHANNELS, headers=headers)).json()) == []


@pytest.mark.parametrize(
    "scopes",
    [
        pytest.param(None, id="default-scopes"),
        pytest.param(["channels:read"], id="read-only"),
        pytest.param(["channels:read", "channels:test", "notifications:send"], id="no-write"),
    ],
)
async def test_api_key_without_channels_write_cannot_write(
    client: httpx.AsyncClient, admin_headers: dict[str, str], scopes: list[str] | None
) -> None:
    channel_id = await create_channel(client, admin_headers, "A alerts")
    _, headers = await add_api_key(client, admin_headers, scopes)
    await assert_can_read(client, headers, channel_id)
    await assert_cannot_write(client, headers, channel_id, "channels:write")


async def test_api_key_with_channels_write_manages_channels(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    _, headers = await add_api_key(client, admin_headers, ["channels:read", "channels:write"])
    channel_id = await create_channel(client, headers, "by key")
    updated = await client.put(f"{CHANNELS}/{channel_id}", json={"enabled": False}, headers=headers)
    assert updated.status_code == 200
    assert updated.json()["enabled"] is False
    deleted = await client.delete(f"{CHANNELS}/{channel_id}", headers=headers)
    assert deleted.status_code == 200


async def test_api_key_without_channels_read_cannot_read(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    channel_id = await create_channel(client, admin_headers, "A alerts")
    _, headers = await add_api_key(client, admin_headers, ["notifications:send"])
    for path in (CHANNELS, f"{CHANNELS}/{channel_id}", f"{CHANNELS}/default"):
        error = expect_error(await client.get(path, headers=headers), 403, "FORBIDDEN")
        assert "channels:read" in error["error"]


# --- bad credentials ------------------------------------------------------------------


def _b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unsigned_token(user_id: int) -> str:
    """A JWT with ``alg: none`` claiming to be ``user_id``."""
    now = int(datetime.now(UTC).timestamp())
    claims = {"sub": str(user_id), "iat": now, "exp": now + 3600, "typ": "access"}
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."


BAD_CREDENTIALS = [
    "no-header",
    "empty-bearer",
    "basic-scheme",
    "garbage",
    "unknown-api-key",
    "tampered-api-key",
    "revoked-api-key",
    "expired-jwt",
    "jwt-from-another-key",
    "unsigned-jwt",
    "jwt-of-unknown-user",
]


async def bad_authorization(
    kind: str, client: httpx.AsyncClient, app: FastAPI, admin_headers: dict[str, str]
) -> dict[str, str]:
    """The Authorization header for one kind of bad credential."""
    state: AppState = app.state.nabat
    now = datetime.now(UTC)
    if kind == "no-header":
        return {}
    if kind == "empty-bearer":
        return {"Authorization": "Bearer "}
    if kind == "basic-scheme":
        basic = base64.b64encode(b"admin:correct horse battery staple").decode()
        return {"Authorization": f"Basic {basic}"}
    if kind == "garbage":
        return {"Authorization": "Bearer 0J/RgNC40LLQtdGC.not-a-token"}
    if kind == "unknown-api-key":
        return {"Authorization": "Bearer nbt_deadbeef_" + "x" * 43}
    if kind in ("tampered-api-key", "revoked-api-key"):
        key_id, headers = await add_api_key(client, admin_headers, ["channels:read"])
        if kind == "tampered-api-key":
            return {"Authorization": headers["Authorization"][:-2] + "zz"}
        revoked = await client.delete(f"/api/v1/api-keys/{key_id}", headers=admin_headers)
        assert revoked.status_code == 200, revoked.text
        return headers
    if kind == "expired-jwt":
        token = issue_token(state.keys.jwt_key, 1, now - timedelta(days=2), 3600)
    elif kind == "jwt-from-another-key":
        token = issue_token(b"another-instance-key-0123456789ab", 1, now, 3600)
    elif kind == "unsigned-jwt":
        token = unsigned_token(1)
    else:
        token = issue_token(state.keys.jwt_key, 4242, now, 3600)
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("kind", BAD_CREDENTIALS)
async def test_bad_credentials_are_401_on_every_channel_route(
    client: httpx.AsyncClient, app: FastAPI, admin_headers: dict[str, str], kind: str
) -> None:
    channel_id = await create_channel(client, admin_headers, "A alerts")
    headers = await bad_authorization(kind, client, app, admin_headers)
    routes = [
        ("GET", CHANNELS, None),
        ("POST", CHANNELS, slack("intruder")),
        ("GET", f"{CHANNELS}/default", None),
        ("GET", f"{CHANNELS}/{channel_id}", None),
        ("PUT", f"{CHANNELS}/{channel_id}", {"name": "renamed"}),
        ("DELETE", f"{CHANNELS}/{channel_id}", None),
    ]
    for method, path, body in routes:
        response = await client.request(method, path, json=body, headers=headers)
        expect_error(response, 401, "UNAUTHORIZED")
        assert response.headers["www-authenticate"].startswith("Bearer")
    listed = await client.get(CHANNELS, headers=admin_headers)
    assert [c["name"] for c in made_by_people(listed.json())] == ["A alerts"]
