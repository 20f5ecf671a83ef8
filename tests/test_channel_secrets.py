"""Channel secrets: never shown by the API, never stored in clear, kept when sent back masked."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from nabat.channels.base import MASK, masked_url, restore_masked
from nabat.channels.registry import CONFIG_MODELS
from nabat.state import AppState
from tests.fakes.webhook import Scripted, WebhookReceiver
from tests.support.channels import made_by_people

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
            "url": "https://hook-user:hook-pass-Vw3-secret@hooks.example.org/in?x=1",
            "method": "post",
            "headers": {
                "Authorization": "Bearer hook-bearer-secret-123",
                "X-Api-Key": "api-key-secret-456",
                "Content-Type": "application/json",
            },
            "secret": WHSEC,
        },
        (
            WHSEC,
            "c2lnbmluZy1zZWNyZXQ",
            "hook-bearer-secret-123",
            "api-key-secret-456",
            "hook-pass-Vw3-secret",
        ),
        {
            "url": f"https://{MASK}@hooks.example.org/in?x=1",
            "secret": MASK,
            "headers": {
                "Authorization": MASK,
                "X-Api-Key": MASK,
                "Content-Type": "application/json",
            },
        },
    ),
    Secretive(
        "PYTHON_BOT",
        {"botUrl": "http://bot:bot-pass%40Kx7-secret@bot.example.org:5000/hooks"},
        ("bot-pass%40Kx7-secret",),
        {"botUrl": f"http://{MASK}@bot.example.org:5000/hooks"},
    ),
    Secretive(
        "TEAMS",
        {
            "webhookUrl": "https://prod-12.westeurope.logic.azure.com:443/workflows/5f0c2a7d/"
            "triggers/manual/paths/invoke?api-version=2016-06-01&sv=1.0&sig=teamsSigSecret789"
        },
        ("teamsSigSecret789",),
        {"webhookUrl": MASK},
    ),
    Secretive(
        "APPRISE",
        {
            "urls": [
                "json://ops:apprisePassSecret1@hooks.example.org/in",
                "tgram://123456789:AAHappriseBotTokenSecret2/-1001234567890",
            ]
        },
        ("apprisePassSecret1", "AAHappriseBotTokenSecret2"),
        {"urls": MASK},
    ),
    Secretive(
        "SMS",
        {
            "provider": "SMSRU",
            "apiId": "smsru-api-Secret-77",
            "defaultRecipients": ["+79255070602"],
        },
        ("smsru-api-Secret-77",),
        {"apiId": MASK},
    ),
    Secretive(
        "EWS",
        {
            "server": "mail.example.org",
            "username": "svc-nabat",
            "password": "ews-pass-Secret-88",
            "fromEmail": "alerts@example.org",
        },
        ("ews-pass-Secret-88",),
        {"password": MASK},
    ),
    Secretive(
        "GRAPH_MAIL",
        {
            "tenantId": "contoso.onmicrosoft.com",
            "clientId": "0b6f3a9e-2c4d-4e8f-8a1b-6d5c4b3a2f10",
            "clientSecret": "graph-client-Secret-99",
            "fromEmail": "alerts@example.org",
        },
        ("graph-client-Secret-99",),
        {"clientSecret": MASK},
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
    ("WEBHOOK", {"url": f"https://{MASK}@hooks.example.org/in?x=1"}, "url"),
    ("PYTHON_BOT", {"botUrl": f"http://{MASK}@bot.example.org:5000/hooks"}, "botUrl"),
    ("TEAMS", {"webhookUrl": MASK}, "webhookUrl"),
    ("APPRISE", {"urls": MASK}, "urls"),
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
    assert made_by_people((await client.get(CHANNELS, headers=admin_headers)).json()) == []


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


def basic(user: str, password: str) -> str:
    """The value of an ``Authorization`` header with these Basic credentials."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(
    ("type_name", "key", "path"), [("WEBHOOK", "url", "/in"), ("PYTHON_BOT", "botUrl", "/bot")]
)
async def test_url_credentials_survive_a_masked_round_trip_and_a_new_password_replaces_them(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    app: FastAPI,
    receiver: WebhookReceiver,
    type_name: str,
    key: str,
    path: str,
) -> None:
    host = receiver.url.removeprefix("http://")
    body = {
        "name": "creds",
        "type": type_name,
        "configuration": {key: f"http://ops:first-Pw9-secret@{host}{path}"},
    }
    created = await client.post(CHANNELS, json=body, headers=admin_headers)
    assert created.status_code == 201, created.text
    url = f"{CHANNELS}/{created.json()['id']}"
    read = await client.get(url, headers=admin_headers)
    assert "first-Pw9-secret" not in read.text
    assert read.json()["configuration"][key] == f"http://{MASK}@{host}{path}"

    kept = await client.put(
        url,
        json={"name": "renamed", "configuration": read.json()["configuration"]},
        headers=admin_headers,
    )
    assert kept.status_code == 200, kept.text
    sent = await client.post(f"{url}/test", headers=admin_headers)
    assert sent.status_code == 200, sent.text
    assert receiver.received[-1].headers["authorization"] == basic("ops", "first-Pw9-secret")

    rotated = await client.put(
        url,
        json={"configuration": {key: f"http://ops:second-Pw9-secret@{host}{path}"}},
        headers=admin_headers,
    )
    assert rotated.status_code == 200, rotated.text
    assert "second-Pw9-secret" not in rotated.text
    assert (await stored_config(app, created.json()["id"]))[
        key
    ] == f"http://ops:second-Pw9-secret@{host}{path}"
    sent = await client.post(f"{url}/test", headers=admin_headers)
    assert sent.status_code == 200, sent.text
    assert receiver.received[-1].headers["authorization"] == basic("ops", "second-Pw9-secret")


async def test_masked_url_credentials_never_move_to_a_changed_url(
    client: httpx.AsyncClient, admin_headers: dict[str, str], app: FastAPI
) -> None:
    bot = await create(client, admin_headers, BY_TYPE["PYTHON_BOT"])
    before = await stored_config(app, bot["id"])
    for changed in (
        f"http://{MASK}@elsewhere.example.org:5000/hooks",
        f"http://{MASK}@bot.example.org:5000/other",
    ):
        response = await client.put(
            f"{CHANNELS}/{bot['id']}",
            json={"configuration": {"botUrl": changed}},
            headers=admin_headers,
        )
        assert response.status_code == 422, response.text
        assert response.json()["details"][0]["field"] == "configuration.botUrl"
        assert "mask" in response.json()["details"][0]["message"]
    assert await stored_config(app, bot["id"]) == before

    # The webhook's other secrets are sent again, as a move requires; its URL's are not.
    case = BY_TYPE["WEBHOOK"]
    hook = await create(client, admin_headers, case)
    moved = {**case.configuration, "url": f"https://{MASK}@elsewhere.example.org/in?x=1"}
    response = await client.put(
        f"{CHANNELS}/{hook['id']}", json={"configuration": moved}, headers=admin_headers
    )
    assert response.status_code == 422, response.text
    assert response.json()["details"][0]["field"] == "configuration.url"


async def test_a_receiver_echoing_url_credentials_gets_them_redacted_from_the_reason(
    client: httpx.AsyncClient, admin_headers: dict[str, str], receiver: WebhookReceiver
) -> None:
    password = "echo%2FPw9-secret"
    host = receiver.url.removeprefix("http://")
    config = {"url": f"http://ops:{password}@{host}/in", "headers": {"X-Key": "hdr-Pw9-secret"}}
    body = {"name": "echo", "type": "WEBHOOK", "configuration": config}
    created = (await client.post(CHANNELS, json=body, headers=admin_headers)).json()
    echoed = basic("ops", "echo/Pw9-secret")
    receiver.script.append(
        Scripted(401, f"no entry for ops:echo/Pw9-secret ({echoed}), key hdr-Pw9-secret")
    )
    response = await client.post(f"{CHANNELS}/{created['id']}/test", headers=admin_headers)
    assert response.status_code >= 400, response.text
    assert receiver.received[-1].headers["authorization"] == echoed
    record = await client.get(
        f"/api/v1/notifications/deliveries/{response.json()['details'][0]['deliveryId']}",
        headers=admin_headers,
    )
    for answer in (response.text, record.text):
        assert "<redacted>" in answer
        for secret in (password, "echo/Pw9-secret", echoed.removeprefix("Basic "), "hdr-Pw9"):
            assert secret not in answer, answer


def test_url_credentials_are_masked_whole_and_restored_only_into_their_own_url() -> None:
    assert masked_url("https://tok-en-secret@h.example.org/x") == f"https://{MASK}@h.example.org/x"
    assert masked_url("https://u:p@ss@h.example.org/x") == f"https://{MASK}@h.example.org/x"
    assert masked_url("https://h.example.org/a@b?c=d@e") == "https://h.example.org/a@b?c=d@e"
    stored = ["https://a:pw-one-secret@one.example.org/x", "https://two.example.org/y"]
    shown = [masked_url(item) for item in stored]
    assert shown == [f"https://{MASK}@one.example.org/x", "https://two.example.org/y"]
    # In a list the URL is found wherever it moved; a changed one keeps the mask.
    assert restore_masked(shown[::-1], stored) == stored[::-1]
    moved = f"https://{MASK}@one.example.org/other"
    assert restore_masked([moved], stored) == [moved]
    assert restore_masked({"u": shown[0]}, {"u": stored[0]}) == {"u": stored[0]}
    assert restore_masked(moved, stored[0]) == moved
