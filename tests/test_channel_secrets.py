"""Channel secrets: never shown by the API, never stored in clear, kept when sent back masked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from nabat.channels.base import MASK
from nabat.channels.registry import CONFIG_MODELS
from nabat.state import AppState

CHANNELS = "/api/v1/notifications/channels"
WHSEC = "whsec_" + "c2lnbmluZy1zZWNyZXQtZm9yLXdlYmhvb2tz"  # base64 of 24 bytes


@dataclass(frozen=True)
class Secretive:
    """A channel type with secrets: a configuration, its secret values, where they show."""

    type: str
    configuration: dict[str, Any]
    secrets: tuple[str, ...]
    masked: dict[str, Any]


SECRETIVE = [
    Secretive(
        "EMAIL",
        {
            "smtpHost": "smtp.example.org",
            "smtpPort": "587",
            "username": "alerts@example.org",
            "password": "smtp-pass-Zq9-secret",
            "fromEmail": "alerts@example.org",
            "useTls": True,
        },
        ("smtp-pass-Zq9-secret",),
        {"password": MASK},
    ),
    Secretive(
        "TELEGRAM",
        {"botToken": "987654321:AAHsecretTokenValue_abcdefghij", "chatId": -1001234567890},
        ("987654321:AAHsecretTokenValue_abcdefghij", "AAHsecretTokenValue"),
        {"botToken": MASK, "chatId": "-1001234567890"},
    ),
    Secretive(
        "SLACK",
        {"webhookUrl": "https://hooks.slack.com/services/T0SEC/B0SEC/slackSecretXYZ123"},
        ("slackSecretXYZ123", "T0SEC/B0SEC"),
        {"webhookUrl": MASK},
    ),
    Secretive(
        "DISCORD",
        {"webhookUrl": "https://discord.com/api/webhooks/4242/discordSecretTokenABC"},
        ("discordSecretTokenABC", "webhooks/4242"),
        {"webhookUrl": MASK},
    ),
    Secretive(
        "WEBHOOK",
        {
            "url": "https://hooks.example.org/in",
            "method": "post",
            "headers": {
                "Authorization": "Bearer hook-bearer-secret-123",
                "X-Api-Key": "api-key-secret-456",
                "Content-Type": "application/json",
            },
            "secret": WHSEC,
        },
        (WHSEC, "c2lnbmluZy1zZWNyZXQ", "hook-bearer-secret-123", "api-key-secret-456"),
        {
            "secret": MASK,
            "headers": {
                "Authorization": MASK,
                "X-Api-Key": MASK,
                "Content-Type": "application/json",
            },
        },
    ),
]
BY_TYPE = {case.type: case for case in SECRETIVE}


def no_secret_in(body: str, case: Secretive) -> None:
    for secret in case.secrets:
        assert secret not in body, f"{secret!r} leaked in {body}"


async def create(http: httpx.AsyncClient, headers: dict[str, str], case: Secretive) -> Any:
    body = {"name": case.type.lower(), "type": case.type, "configuration": case.configuration}
    response = await http.post(CHANNELS, json={**body, "isDefault": True}, headers=headers)
    assert response.status_code == 201, response.text
    no_secret_in(response.text, case)
    return response.json()


async def stored_row(app: FastAPI, channel_id: int) -> Any:
    state: AppState = app.state.nabat
    async with state.sessions() as session:
        result = await session.execute(
            text("SELECT * FROM channels WHERE id = :id"), {"id": channel_id}
        )
        return result.one()


async def stored_config(app: FastAPI, channel_id: int) -> dict[str, Any]:
    state: AppState = app.state.nabat
    row = await stored_row(app, channel_id)
    return state.box.decrypt_json(row.config_sealed)


def test_every_type_with_secrets_is_covered() -> None:
    with_secrets = {
        name
        for name, model in CONFIG_MODELS.items()
        if any("Secret" in str(field.annotation) for field in model.model_fields.values())
    }
    assert with_secrets <= set(BY_TYPE)


@pytest.mark.parametrize("case", SECRETIVE, ids=[case.type for case in SECRETIVE])
async def test_no_response_and_no_stored_row_shows_a_secret(
    client: httpx.AsyncClient, admin_headers: dict[str, str], app: FastAPI, case: Secretive
) -> None:
    created = await create(client, admin_headers, case)
    url = f"{CHANNELS}/{created['id']}"
    assert created["configuration"].items() >= case.masked.items()
    answers = [
        await client.get(url, headers=admin_headers),
        await client.get(CHANNELS, headers=admin_headers),
        await client.get(f"{CHANNELS}/default", headers=admin_headers),
        await client.put(url, json={"name": "renamed", "enabled": False}, headers=admin_headers),
        await client.put(url, json={"configuration": {}}, headers=admin_headers),
    ]
    for answer in answers:
        assert answer.status_code == 200, answer.text
        no_secret_in(answer.text, case)
    assert answers[0].json()["configuration"] == created["configuration"]
    assert answers[2].json()["id"] == created["id"]
    row = await stored_row(app, created["id"])
    no_secret_in(" ".join(str(value) for value in row), case)
    # The secrets are there all the same, sealed.
    opened = str(await stored_config(app, created["id"]))
    for secret in case.secrets:
        assert secret in opened


@pytest.mark.parametrize("case", SECRETIVE, ids=[case.type for case in SECRETIVE])
async def test_sending_the_masked_configuration_back_keeps_the_secrets(
    client: httpx.AsyncClient, admin_headers: dict[str, str], app: FastAPI, case: Secretive
) -> None:
    created = await create(client, admin_headers, case)
    url = f"{CHANNELS}/{created['id']}"
    before = await stored_config(app, created["id"])
    read = (await client.get(url, headers=admin_headers)).json()
    response = await client.put(
        url, json={"configuration": read["configuration"]}, headers=admin_headers
    )
    assert response.status_code == 200, response.text
    no_secret_in(response.text, case)
    assert response.json()["configuration"] == read["configuration"]
    after = await stored_config(app, created["id"])
    assert after == before
    for secret in case.secrets:
        assert secret in str(after)


async def test_a_new_secret_replaces_the_stored_one(
    client: httpx.AsyncClient, admin_headers: dict[str, str], app: FastAPI
) -> None:
    mail = await create(client, admin_headers, BY_TYPE["EMAIL"])
    url = f"{CHANNELS}/{mail['id']}"
    patch = {"configuration": {"password": "brand-new-pass"}}
    response = await client.put(url, json=patch, headers=admin_headers)
    assert response.status_code == 200, response.text
    assert response.json()["configuration"]["password"] == MASK
    assert "brand-new-pass" not in response.text
    assert (await stored_config(app, mail["id"]))["password"] == "brand-new-pass"

    hook = await create(client, admin_headers, BY_TYPE["WEBHOOK"])
    url = f"{CHANNELS}/{hook['id']}"
    headers = {**hook["configuration"]["headers"], "Authorization": "Bearer rotated-789"}
    response = await client.put(
        url, json={"configuration": {"headers": headers}}, headers=admin_headers
    )
    assert response.status_code == 200, response.text
    assert "rotated-789" not in response.text
    stored = await stored_config(app, hook["id"])
    assert stored["headers"] == {
        "Authorization": "Bearer rotated-789",
        "X-Api-Key": "api-key-secret-456",
        "Content-Type": "application/json",
    }
    assert stored["secret"] == WHSEC


async def test_a_partial_configuration_merges_and_null_removes_a_key(
    client: httpx.AsyncClient, admin_headers: dict[str, str], app: FastAPI
) -> None:
    created = await create(client, admin_headers, BY_TYPE["EMAIL"])
    url = f"{CHANNELS}/{created['id']}"
    patch = {"configuration": {"fromName": "Ops", "smtpPort": "465", "timeout": "15"}}
    response = await client.put(url, json=patch, headers=admin_headers)
    assert response.status_code == 200, response.text
    shown = response.json()["configuration"]
    assert shown["fromName"] == "Ops"
    assert shown["smtpPort"] == 465
    assert shown["timeout"] == 15.0
    assert shown["smtpHost"] == "smtp.example.org"
    assert shown["fromEmail"] == "alerts@example.org"
    assert (await stored_config(app, created["id"]))["password"] == "smtp-pass-Zq9-secret"

    response = await client.put(
        url, json={"configuration": {"fromName": None, "timeout": None}}, headers=admin_headers
    )
    assert response.status_code == 200, response.text
    assert "fromName" not in response.json()["configuration"]
    again = (await client.get(url, headers=admin_headers)).json()["configuration"]
    assert "fromName" not in again
    assert again["timeout"] == 30.0  # back to the default
    assert again["smtpHost"] == "smtp.example.org"
    stored = await stored_config(app, created["id"])
    assert "fromName" not in stored
    assert stored["password"] == "smtp-pass-Zq9-secret"

    # A required key cannot be removed that way.
    response = await client.put(
        url, json={"configuration": {"smtpHost": None}}, headers=admin_headers
    )
    assert response.status_code == 422, response.text
    assert response.json()["details"][0]["field"] == "configuration.smtpHost"


MASKED_ON_CREATE = [
    ("EMAIL", {"password": MASK}, "password"),
    ("TELEGRAM", {"botToken": MASK}, "botToken"),
    ("SLACK", {"webhookUrl": MASK}, "webhookUrl"),
    ("DISCORD", {"webhookUrl": MASK}, "webhookUrl"),
    ("WEBHOOK", {"secret": MASK}, "secret"),
    ("WEBHOOK", {"headers": {"X-Api-Key": MASK}}, "headers.X-Api-Key"),
]


@pytest.mark.parametrize(
    ("type_name", "change", "field"),
    MASKED_ON_CREATE,
    ids=[f"{row[0]}-{row[2]}" for row in MASKED_ON_CREATE],
)
async def test_creating_a_channel_whose_secret_is_the_mask_is_refused(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    type_name: str,
    change: dict[str, Any],
    field: str,
) -> None:
    configuration = {**BY_TYPE[type_name].configuration, **change}
    body = {"name": "masked", "type": type_name, "configuration": configuration}
    response = await client.post(CHANNELS, json=body, headers=admin_headers)
    assert response.status_code == 422, response.text
    error = response.json()
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"][0]["field"] == f"configuration.{field}"
    assert "mask" in error["details"][0]["message"]
    assert (await client.get(CHANNELS, headers=admin_headers)).json() == []


async def test_sending_the_mask_for_a_secret_never_stored_is_refused(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    case = BY_TYPE["WEBHOOK"]
    without = {key: value for key, value in case.configuration.items() if key != "secret"}
    body = {"name": "plain", "type": "WEBHOOK", "configuration": without}
    created = (await client.post(CHANNELS, json=body, headers=admin_headers)).json()
    response = await client.put(
        f"{CHANNELS}/{created['id']}",
        json={"configuration": {"secret": MASK}},
        headers=admin_headers,
    )
    assert response.status_code == 422, response.text
    assert response.json()["details"][0]["field"] == "configuration.secret"


async def test_a_refused_configuration_does_not_echo_its_secrets(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    refused: list[tuple[str, dict[str, Any]]] = [
        ("EMAIL", {"smtpPort": "70000"}),
        ("TELEGRAM", {"chatId": "not a chat"}),
        ("WEBHOOK", {"headers": {"X-Api-Key": "api-key-secret-456", "Host": "x"}}),
    ]
    for type_name, bad in refused:
        case = BY_TYPE[type_name]
        configuration = {**case.configuration, **bad}
        body = {"name": "bad", "type": type_name, "configuration": configuration}
        response = await client.post(CHANNELS, json=body, headers=admin_headers)
        assert response.status_code == 422, response.text
        no_secret_in(response.text, case)
