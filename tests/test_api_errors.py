"""Every failure answers in the one JSON error shape, with the right status (SPEC 3)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import insert, select

from nabat.models.account import Project
from nabat.models.channel import Channel
from nabat.settings import Settings
from nabat.state import AppState
from tests.conftest import ADMIN_PASSWORD
from tests.support.channels import made_by_people
from tests.support.errors import expect_error
from tests.support.serving import served

CHANNELS = "/api/v1/notifications/channels"
SLACK_SECRET_URL = "https://hooks.slack.com/services/T0001/B0001/very-secret-token"


def slack_channel(name: str = "Slack Channel") -> dict[str, Any]:
    """A valid channel body."""
    return {
        "name": name,
        "type": "SLACK",
        "configuration": {"webhookUrl": SLACK_SECRET_URL, "channel": "#alerts"},
        "enabled": True,
    }


async def channel_count(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    """How many channels the caller's project has, besides the in-app one Nabat made."""
    response = await client.get(CHANNELS, headers=headers)
    assert response.status_code == 200, response.text
    channels: list[dict[str, Any]] = response.json()
    return len(made_by_people(channels))


def json_headers(headers: dict[str, str]) -> dict[str, str]:
    """``headers`` plus a JSON content type."""
    return {**headers, "Content-Type": "application/json"}


# --- malformed JSON -------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b'{"name": "Slack Channel", "type": ', id="truncated"),
        pytest.param(b"{'name': 'Slack Channel', 'type': 'SLACK'}", id="single-quotes"),
        pytest.param(b'{"name": "Slack Channel", "type": "SLACK",}', id="trailing-comma"),
        pytest.param(b"name=Slack+Channel&type=SLACK", id="form-encoded"),
        pytest.param(b'{"name": "caf\xe9", "type": "SLACK"}', id="not-utf8"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, id="nested-too-deep"),
    ],
)
async def test_malformed_json_is_400_malformed_json(
    client: httpx.AsyncClient, admin_headers: dict[str, str], raw: bytes
) -> None:
    response = await client.post(CHANNELS, content=raw, headers=json_headers(admin_headers))
    body = expect_error(response, 400, "MALFORMED_JSON")
    assert "JSON" in body["error"]
    assert await channel_count(client, admin_headers) == 0


async def test_malformed_json_on_update_is_400_malformed_json(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    created = await client.post(CHANNELS, json=slack_channel(), headers=admin_headers)
    assert created.status_code == 201, created.text
    channel_id = created.json()["id"]
    response = await client.put(
        f"{CHANNELS}/{channel_id}", content=b'{"name": }', headers=json_headers(admin_headers)
    )
    expect_error(response, 400, "MALFORMED_JSON")


# --- validation -----------------------------------------------------------------------


def details_for(body: dict[str, Any], field: str) -> list[dict[str, Any]]:
    """The details entries that name ``field``."""
    return [detail for detail in body["details"] if detail.get("field") == field]


async def test_missing_name_is_422_naming_the_field(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    channel = slack_channel()
    del channel["name"]
    response = await client.post(CHANNELS, json=channel, headers=admin_headers)
    body = expect_error(response, 422, "VALIDATION_ERROR")
    (detail,) = details_for(body, "name")
    assert "missing" in detail["message"]
    assert body["error"].startswith("name:")
    assert await channel_count(client, admin_headers) == 0


async def test_unknown_top_level_key_is_422_naming_the_key(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    channel = {**slack_channel(), "colour": "red"}
    response = await client.post(CHANNELS, json=channel, headers=admin_headers)
    body = expect_error(response, 422, "VALIDATION_ERROR")
    (detail,) = details_for(body, "colour")
    assert "unknown" in detail["message"]
    assert await channel_count(client, admin_headers) == 0


async def test_unknown_key_in_an_update_is_422(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    created = await client.post(CHANNELS, json=slack_channel(), headers=admin_headers)
    channel_id = created.json()["id"]
    response = await client.put(
        f"{CHANNELS}/{channel_id}", json={"nmae": "Renamed"}, headers=admin_headers
    )
    body = expect_error(response, 422, "VALIDATION_ERROR")
    assert details_for(body, "nmae")
    unchanged = await client.get(f"{CHANNELS}/{channel_id}", headers=admin_headers)
    assert unchanged.json()["name"] == "Slack Channel"


async def test_misspelt_configuration_key_is_422_with_a_suggestion(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    channel = {
        "name": "Email Channel",
        "type": "EMAIL",
        "configuration": {"smtpHots": "smtp.gmail.com", "smtpPort": "587"},
    }
    response = await client.post(CHANNELS, json=channel, headers=admin_headers)
    body = expect_error(response, 422, "VALIDATION_ERROR")
    (detail,) = details_for(body, "configuration.smtpHots")
    assert "smtpHost" in detail["message"]


async def test_unknown_channel_type_is_422_listing_the_types(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    channel = {**slack_channel(), "type": "CARRIER_PIGEON"}
    response = await client.post(CHANNELS, json=channel, headers=admin_headers)
    body = expect_error(response, 422, "VALIDATION_ERROR")
    (detail,) = details_for(body, "type")
    for known in ("PYTHON_BOT", "TELEGRAM", "EMAIL", "SLACK", "WEBHOOK"):
        assert known in detail["message"]


async def test_wrong_value_type_is_422_naming_the_field(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    channel = {**slack_channel(), "enabled": ["yes"]}
    response = await client.post(CHANNELS, json=channel, headers=admin_headers)
    body = expect_error(response, 422, "VALIDATION_ERROR")
    assert details_for(body, "enabled")


async def test_a_json_array_instead_of_an_object_is_422(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.post(CHANNELS, json=[slack_channel()], headers=admin_headers)
    body = expect_error(response, 422, "VALIDATION_ERROR")
    assert details_for(body, "body")


async def test_validation_errors_never_echo_a_secret(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    channel = {
        "name": "Email Channel",
        "type": "EMAIL",
        "configuration": {
            "smtpHost": "smtp.gmail.com",
            "smtpPort": "not-a-port",
            "username": "your-email@gmail.com",
            "password": "hunter2-app-password",
        },
    }
    response = await client.post(CHANNELS, json=channel, headers=admin_headers)
    body = expect_error(response, 422, "VALIDATION_ERROR")
    assert details_for(body, "configuration.smtpPort")
    assert "hunter2-app-password" not in response.text


# --- body size ------------------------------------------------------------------------


def padded_channel(total: int) -> bytes:
    """A valid channel body padded with leading JSON whitespace to exactly ``total`` bytes."""
    body = httpx.Request("POST", "/", json=slack_channel()).content
    assert len(body) <= total
    return b" " * (total - len(body)) + body


async def stream(data: bytes, chunk: int = 64 * 1024) -> AsyncIterator[bytes]:
    """``data`` as a chunked upload with no Content-Length."""
    for start in range(0, len(data), chunk):
        yield data[start : start + chunk]


async def test_body_at_the_limit_is_accepted(
    client: httpx.AsyncClient, admin_headers: dict[str, str], settings: Settings
) -> None:
    content = padded_channel(settings.max_body_bytes)
    response = await client.post(CHANNELS, content=content, headers=json_headers(admin_headers))
    assert response.status_code == 201, response.text


async def test_declared_body_over_the_limit_is_413(
    client: httpx.AsyncClient, admin_headers: dict[str, str], settings: Settings
) -> None:
    content = padded_channel(settings.max_body_bytes + 1)
    response = await client.post(CHANNELS, content=content, headers=json_headers(admin_headers))
    assert response.request.headers["content-length"] == str(settings.max_body_bytes + 1)
    body = expect_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert str(settings.max_body_bytes) in body["error"]
    assert await channel_count(client, admin_headers) == 0


async def test_streamed_body_over_the_limit_is_413(
    client: httpx.AsyncClient, admin_headers: dict[str, str], settings: Settings
) -> None:
    content = stream(padded_channel(settings.max_body_bytes + 1))
    response = await client.post(CHANNELS, content=content, headers=json_headers(admin_headers))
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    expect_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert await channel_count(client, admin_headers) == 0


async def test_streamed_body_within_the_limit_reaches_the_handler(
    client: httpx.AsyncClient, admin_headers: dict[str, str], settings: Settings
) -> None:
    content = stream(padded_channel(settings.max_body_bytes))
    response = await client.post(CHANNELS, content=content, headers=json_headers(admin_headers))
    assert response.status_code == 201, response.text
    assert response.json()["name"] == "Slack Channel"


async def test_oversized_update_is_413(
    client: httpx.AsyncClient, admin_headers: dict[str, str], settings: Settings
) -> None:
    created = await client.post(CHANNELS, json=slack_channel(), headers=admin_headers)
    channel_id = created.json()["id"]
    content = b'{"name": "' + b"x" * settings.max_body_bytes + b'"}'
    response = await client.put(
        f"{CHANNELS}/{channel_id}", content=stream(content), headers=json_headers(admin_headers)
    )
    expect_error(response, 413, "PAYLOAD_TOO_LARGE")


# --- authentication, routes, methods --------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", CHANNELS),
        ("POST", CHANNELS),
        ("GET", f"{CHANNELS}/default"),
        ("GET", f"{CHANNELS}/1"),
        ("PUT", f"{CHANNELS}/1"),
        ("DELETE", f"{CHANNELS}/1"),
    ],
)
async def test_no_credentials_is_401_with_www_authenticate(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    body_json = slack_channel() if method in ("POST", "PUT") else None
    response = await client.request(method, path, json=body_json)
    body = expect_error(response, 401, "UNAUTHORIZED")
    assert response.headers["www-authenticate"] == "Bearer"
    assert "Authorization: Bearer" in body["error"]


@pytest.mark.parametrize("authenticated", [True, False])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/nothing-here"),
        ("POST", "/api/v1/notifications/nothing"),
        ("GET", f"{CHANNELS}/1/nothing"),
    ],
)
async def test_unknown_route_is_404_in_the_error_shape(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    method: str,
    path: str,
    authenticated: bool,
) -> None:
    headers = admin_headers if authenticated else {}
    response = await client.request(method, path, headers=headers)
    expect_error(response, 404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("method", "path"),
    [("PATCH", f"{CHANNELS}/1"), ("DELETE", CHANNELS), ("PUT", CHANNELS)],
)
async def test_wrong_method_is_405_in_the_error_shape(
    client: httpx.AsyncClient, admin_headers: dict[str, str], method: str, path: str
) -> None:
    response = await client.request(method, path, headers=admin_headers)
    body = expect_error(response, 405, "METHOD_NOT_ALLOWED")
    assert response.headers["allow"]
    assert "method" in body["error"]


@pytest.mark.parametrize("channel_id", ["0", str(2**31), str(2**63), "9" * 30])
async def test_an_id_out_of_range_is_channel_not_found(
    client: httpx.AsyncClient, admin_headers: dict[str, str], channel_id: str
) -> None:
    for method in ("GET", "PUT", "DELETE"):
        body_json = {"name": "x"} if method == "PUT" else None
        response = await client.request(
            method, f"{CHANNELS}/{channel_id}", json=body_json, headers=admin_headers
        )
        expect_error(response, 404, "CHANNEL_NOT_FOUND")


async def test_a_non_numeric_id_is_404_naming_it(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    # Nothing can be found under an id that is not a number (and "default" beside it
    # is a path of its own).
    response = await client.get(f"{CHANNELS}/one", headers=admin_headers)
    body = expect_error(response, 404, "NOT_FOUND")
    assert details_for(body, "channel_id")


# --- internal errors ------------------------------------------------------------------


async def insert_raw_channel(app: FastAPI, sealed: str, name: str = "Broken") -> int:
    """Put a channel row straight into the database, bypassing the service."""
    state: AppState = app.state.nabat
    now = datetime.now(UTC)
    async with state.sessions() as session:
        project_id = await session.scalar(select(Project.id).where(Project.slug == "default"))
        assert project_id is not None
        channel_id: int | None = await session.scalar(
            insert(Channel)
            .values(
                project_id=project_id,
                name=name,
                type="SLACK",
                config_sealed=sealed,
                enabled=True,
                is_default=False,
                created_at=now,
                updated_at=now,
            )
            .returning(Channel.id)
        )
        await session.commit()
    assert channel_id is not None
    return channel_id


async def test_undecryptable_channel_is_500_without_a_trace(
    client: httpx.AsyncClient, admin_headers: dict[str, str], app: FastAPI
) -> None:
    channel_id = await insert_raw_channel(app, "gAAAAAB-garbage-not-a-fernet-token")
    for path in (f"{CHANNELS}/{channel_id}", CHANNELS):
        response = await client.get(path, headers=admin_headers)
        body = expect_error(response, 500, "INTERNAL_ERROR")
        assert body["details"] == []
        assert "garbage" not in response.text
        assert "Error" not in body["error"]
    update = await client.put(
        f"{CHANNELS}/{channel_id}", json={"name": "Renamed"}, headers=admin_headers
    )
    expect_error(update, 500, "INTERNAL_ERROR")


async def test_undecryptable_channel_can_still_be_deleted(
    client: httpx.AsyncClient, admin_headers: dict[str, str], app: FastAPI
) -> None:
    channel_id = await insert_raw_channel(app, "not-a-fernet-token")
    response = await client.delete(f"{CHANNELS}/{channel_id}", headers=admin_headers)
    assert response.status_code == 200, response.text
    assert await channel_count(client, admin_headers) == 0


async def test_stored_configuration_that_no_longer_fits_is_500_without_its_secrets(
    client: httpx.AsyncClient, admin_headers: dict[str, str], app: FastAPI
) -> None:
    state: AppState = app.state.nabat
    sealed = state.box.encrypt_json({"webhookUrl": SLACK_SECRET_URL, "retired": True})
    channel_id = await insert_raw_channel(app, sealed)
    response = await client.get(f"{CHANNELS}/{channel_id}", headers=admin_headers)
    expect_error(response, 500, "INTERNAL_ERROR")
    assert "very-secret-token" not in response.text
    assert "retired" not in response.text


async def test_a_500_keeps_the_kept_alive_connection_usable(app: FastAPI) -> None:
    # A real server and one connection: the request after a 500 must get its answer on
    # the same connection, not a reset (a client retrying on the connection would fail).
    channel_id = await insert_raw_channel(app, "gAAAAAB-garbage-not-a-fernet-token")
    async with served(app) as base:
        reader, writer = await asyncio.open_connection("127.0.0.1", urlsplit(base).port)
        token = (
            await _raw_request(
                reader,
                writer,
                "POST",
                "/api/auth/login",
                b'{"username": "admin", "password": "%s"}' % ADMIN_PASSWORD.encode(),
            )
        )[2]["token"]
        for _ in range(2):
            status, headers, body = await _raw_request(
                reader, writer, "GET", f"{CHANNELS}/{channel_id}", token=token
            )
            assert status == 500
            assert body["code"] == "INTERNAL_ERROR"
            assert headers.get("connection") != "close"
        status, _, _ = await _raw_request(reader, writer, "GET", CHANNELS + "/default", token=token)
        assert status == 404
        writer.close()


async def _raw_request(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    method: str,
    path: str,
    body: bytes = b"",
    token: str | None = None,
) -> tuple[int, dict[str, str], Any]:
    """One HTTP/1.1 request on an open connection, and its status, headers and JSON."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
    if body:
        lines.append("Content-Type: application/json")
    if token is not None:
        lines.append(f"Authorization: Bearer {token}")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    status_line, *header_lines = head.decode().split("\r\n")
    headers = {
        name.lower(): value.strip()
        for name, _, value in (line.partition(":") for line in header_lines if line)
    }
    content = await reader.readexactly(int(headers["content-length"]))
    return int(status_line.split()[1]), headers, json.loads(content)
