"""Seed 002 (PingTower's channel guide) replayed verbatim: its clients must work unchanged.

Request bodies below are copied from the seed byte for byte; only the host and the token
differ. The ``/test`` endpoint is not built yet and is left out.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from nabat.channels.base import MASK
from nabat.models.channel import Channel
from nabat.services.channels import ChannelService
from nabat.state import AppState
from tests.support.channels import made_by_people
from tests.support.errors import expect_error

CHANNELS = "/api/v1/notifications/channels"
CHANNEL_KEYS = {
    "id",
    "name",
    "type",
    "configuration",
    "enabled",
    "isDefault",
    "createdAt",
    "updatedAt",
}

# "Создание канала" for each type, the text after curl's -d.
CURL_BODIES: dict[str, str] = {
    "PYTHON_BOT": """{
    "name": "Python Bot Channel",
    "type": "PYTHON_BOT",
    "configuration": {
      "botUrl": "http://localhost:5000"
    },
    "enabled": true
  }""",
    "TELEGRAM": """{
    "name": "Telegram Channel",
    "type": "TELEGRAM",
    "configuration": {
      "botToken": "123456789:ABCdefGHIjklMNOpqrsTUVwxyz",
      "chatId": "-1001234567890"
    },
    "enabled": true
  }""",
    "EMAIL": """{
    "name": "Email Channel",
    "type": "EMAIL",
    "configuration": {
      "smtpHost": "smtp.gmail.com",
      "smtpPort": "587",
      "username": "your-email@gmail.com",
      "password": "your-app-password",
      "fromEmail": "alerts@yourcompany.com",
      "useTls": true
    },
    "enabled": true
  }""",
    "SLACK": """{
    "name": "Slack Channel",
    "type": "SLACK",
    "configuration": {
      "webhookUrl": "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
      "channel": "#alerts",
      "username": "PingTower Bot"
    },
    "enabled": true
  }""",
    "WEBHOOK": """{
    "name": "Custom Webhook",
    "type": "WEBHOOK",
    "configuration": {
      "url": "https://your-service.com/webhook",
      "method": "POST",
      "headers": {
        "Authorization": "Bearer your-token",
        "Content-Type": "application/json"
      },
      "timeout": 30
    },
    "enabled": true
  }""",
}

# What must come back in the configuration (secrets masked) and what must never appear.
EXPECTED_CONFIG: dict[str, dict[str, Any]] = {
    "PYTHON_BOT": {"botUrl": "http://localhost:5000"},
    "TELEGRAM": {"botToken": MASK, "chatId": "-1001234567890"},
    "EMAIL": {
        "smtpHost": "smtp.gmail.com",
        "smtpPort": 587,
        "username": "your-email@gmail.com",
        "password": MASK,
        "fromEmail": "alerts@yourcompany.com",
        "useTls": True,
    },
    "SLACK": {"webhookUrl": MASK, "channel": "#alerts", "username": "PingTower Bot"},
    "WEBHOOK": {
        "url": "https://your-service.com/webhook",
        "method": "POST",
        "headers": {"Authorization": MASK, "Content-Type": "application/json"},
        "timeout": 30,
    },
}
SECRETS: dict[str, list[str]] = {
    "PYTHON_BOT": [],
    "TELEGRAM": ["ABCdefGHIjklMNOpqrsTUVwxyz"],
    "EMAIL": ["your-app-password"],
    "SLACK": ["XXXXXXXXXXXXXXXXXXXXXXXX"],
    "WEBHOOK": ["your-token"],
}

# "Полная конфигурация для всех типов", verbatim.
FULL_CONFIGURATION = """{
  "pythonBot": {
    "name": "Python Bot Channel",
    "type": "PYTHON_BOT",
    "configuration": {
      "botUrl": "http://localhost:5000"
    },
    "enabled": true
  },
  "telegram": {
    "name": "Telegram Channel",
    "type": "TELEGRAM",
    "configuration": {
      "botToken": "123456789:ABCdefGHIjklMNOpqrsTUVwxyz",
      "chatId": "-1001234567890"
    },
    "enabled": true
  },
  "email": {
    "name": "Email Channel",
    "type": "EMAIL",
    "configuration": {
      "smtpHost": "smtp.gmail.com",
      "smtpPort": 587,
      "username": "alerts@yourcompany.com",
      "password": "your-app-password",
      "fromEmail": "alerts@yourcompany.com",
      "useTls": true
    },
    "enabled": true
  },
  "slack": {
    "name": "Slack Channel",
    "type": "SLACK",
    "configuration": {
      "webhookUrl": "https://hooks.slack.com/services/...",
      "channel": "#alerts",
      "username": "PingTower Bot"
    },
    "enabled": true
  },
  "webhook": {
    "name": "Custom Webhook",
    "type": "WEBHOOK",
    "configuration": {
      "url": "https://your-service.com/webhook",
      "method": "POST",
      "headers": {
        "Authorization": "Bearer your-token"
      },
      "timeout": 30
    },
    "enabled": true
  }
}"""

# "Настройка других SMTP серверов", verbatim.
OTHER_SMTP_SERVERS = {
    "outlook": """{
  "smtpHost": "smtp-mail.outlook.com",
  "smtpPort": 587,
  "useTls": true
}""",
    "yahoo": """{
  "smtpHost": "smtp.mail.yahoo.com",
  "smtpPort": 587,
  "useTls": true
}""",
    "custom": """{
  "smtpHost": "mail.yourcompany.com",
  "smtpPort": 25,
  "useTls": false
}""",
}


def curl_headers(auth: dict[str, str], *, body: bool) -> dict[str, str]:
    """The headers the seed's curl commands send."""
    return {**auth, "Content-Type": "application/json"} if body else dict(auth)


def check_channel(channel: dict[str, Any]) -> None:
    """The seed's channel shape, with ISO timestamps."""
    assert set(channel) == CHANNEL_KEYS, channel
    assert isinstance(channel["id"], int)
    assert isinstance(channel["enabled"], bool)
    assert isinstance(channel["isDefault"], bool)
    created = datetime.fromisoformat(channel["createdAt"])
    updated = datetime.fromisoformat(channel["updatedAt"])
    assert created.tzinfo is not None
    assert updated >= created


async def stored_secrets(app: FastAPI, channel_id: int) -> dict[str, Any]:
    """The decrypted configuration as stored, secrets in clear."""
    state: AppState = app.state.nabat
    async with state.sessions() as session:
        row = await session.get(Channel, channel_id)
        assert row is not None
        return ChannelService(session, state.box, state.clock).view(row).config.to_storage()


async def create(
    client: httpx.AsyncClient, auth: dict[str, str], channel_type: str
) -> dict[str, Any]:
    """Create one of the seed's channels exactly as its curl command does."""
    response = await client.post(
        CHANNELS, content=CURL_BODIES[channel_type], headers=curl_headers(auth, body=True)
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


@pytest.mark.parametrize("channel_type", list(CURL_BODIES))
async def test_each_seed_curl_creates_its_channel(
    client: httpx.AsyncClient, admin_headers: dict[str, str], channel_type: str
) -> None:
    response = await client.post(
        CHANNELS, content=CURL_BODIES[channel_type], headers=curl_headers(admin_headers, body=True)
    )
    assert response.status_code == 201, response.text
    channel = response.json()
    check_channel(channel)
    sent = json.loads(CURL_BODIES[channel_type])
    assert channel["name"] == sent["name"]
    assert channel["type"] == channel_type
    assert channel["enabled"] is True
    assert channel["isDefault"] is False
    for key, value in EXPECTED_CONFIG[channel_type].items():
        assert channel["configuration"][key] == value, key
    for secret in SECRETS[channel_type]:
        assert secret not in response.text

    fetched = await client.get(f"{CHANNELS}/{channel['id']}", headers=admin_headers)
    assert fetched.status_code == 200
    assert fetched.json() == channel


async def test_seed_email_port_written_as_a_string_is_stored_as_a_number(
    client: httpx.AsyncClient, admin_headers: dict[str, str], app: FastAPI
) -> None:
    channel = await create(client, admin_headers, "EMAIL")
    stored = await stored_secrets(app, channel["id"])
    assert stored["smtpPort"] == 587
    assert stored["password"] == "your-app-password"


async def test_seed_full_configuration_creates_every_type(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    examples: dict[str, dict[str, Any]] = json.loads(FULL_CONFIGURATION)
    created: list[dict[str, Any]] = []
    for example in examples.values():
        response = await client.post(CHANNELS, json=example, headers=admin_headers)
        assert response.status_code == 201, response.text
        check_channel(response.json())
        created.append(response.json())
    assert [c["type"] for c in created] == ["PYTHON_BOT", "TELEGRAM", "EMAIL", "SLACK", "WEBHOOK"]
    assert [c["name"] for c in created] == [e["name"] for e in examples.values()]

    listed = await client.get(CHANNELS, headers=curl_headers(admin_headers, body=False))
    assert listed.status_code == 200
    assert made_by_people(listed.json()) == created
    assert "your-app-password" not in listed.text
    assert "your-token" not in listed.text


async def test_seed_channel_management_with_its_literal_urls(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    # The seed's management examples all address channel 1, the first channel made there.
    # Here the in-app channel every project has comes first: the examples' URLs address
    # the first channel made by its id instead.
    first = await create(client, admin_headers, "PYTHON_BOT")
    one = f"/api/v1/notifications/channels/{first['id']}"
    get_headers = curl_headers(admin_headers, body=False)

    listed = await client.get("/api/v1/notifications/channels", headers=get_headers)
    assert listed.status_code == 200
    assert made_by_people(listed.json()) == [first]

    fetched = await client.get(one, headers=get_headers)
    assert fetched.status_code == 200
    assert fetched.json() == first

    updated = await client.put(
        one,
        content="""{
    "name": "Updated Channel Name",
    "enabled": false
  }""",
        headers=curl_headers(admin_headers, body=True),
    )
    assert updated.status_code == 200, updated.text
    channel = updated.json()
    check_channel(channel)
    assert channel["name"] == "Updated Channel Name"
    assert channel["enabled"] is False
    assert channel["type"] == "PYTHON_BOT"
    assert channel["configuration"] == first["configuration"]
    assert channel["isDefault"] is False
    assert channel["createdAt"] == first["createdAt"]
    refetched = await client.get(one, headers=get_headers)
    assert refetched.json() == channel

    made_default = await client.put(
        one,
        content="""{
    "isDefault": true
  }""",
        headers=curl_headers(admin_headers, body=True),
    )
    assert made_default.status_code == 200, made_default.text
    assert made_default.json()["isDefault"] is True
    assert made_default.json()["name"] == "Updated Channel Name"
    default = await client.get("/api/v1/notifications/channels/default", headers=get_headers)
    assert default.status_code == 200
    assert default.json() == made_default.json()

    deleted = await client.delete(one, headers=get_headers)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["success"] is True
    gone = await client.get(one, headers=get_headers)
    body = expect_error(gone, 404, "CHANNEL_NOT_FOUND")
    assert str(first["id"]) in body["error"]
    again = await client.delete(one, headers=get_headers)
    expect_error(again, 404, "CHANNEL_NOT_FOUND")
    no_default = await client.get("/api/v1/notifications/channels/default", headers=get_headers)
    expect_error(no_default, 404, "CHANNEL_NOT_FOUND")
    assert made_by_people((await client.get(CHANNELS, headers=get_headers)).json()) == []


async def test_update_keeps_stored_secrets(
    client: httpx.AsyncClient, admin_headers: dict[str, str], app: FastAPI
) -> None:
    channel = await create(client, admin_headers, "EMAIL")
    response = await client.put(
        f"{CHANNELS}/{channel['id']}",
        json={"name": "Updated Channel Name", "enabled": False},
        headers=admin_headers,
    )
    assert response.status_code == 200, response.text
    stored = await stored_secrets(app, channel["id"])
    assert stored["password"] == "your-app-password"

    # A client that sends back what it read must not overwrite the secret with the mask.
    echoed = await client.put(
        f"{CHANNELS}/{channel['id']}",
        json={"configuration": response.json()["configuration"]},
        headers=admin_headers,
    )
    assert echoed.status_code == 200, echoed.text
    assert (await stored_secrets(app, channel["id"]))["password"] == "your-app-password"


@pytest.mark.parametrize("server", list(OTHER_SMTP_SERVERS))
async def test_seed_other_smtp_servers_apply_to_an_email_channel(
    client: httpx.AsyncClient, admin_headers: dict[str, str], app: FastAPI, server: str
) -> None:
    channel = await create(client, admin_headers, "EMAIL")
    fragment = json.loads(OTHER_SMTP_SERVERS[server])
    # Pointing a channel at another server never takes the stored password along:
    # whoever moves it must send the password for the new server.
    moved = await client.put(
        f"{CHANNELS}/{channel['id']}",
        content='{"configuration": ' + OTHER_SMTP_SERVERS[server] + "}",
        headers=curl_headers(admin_headers, body=True),
    )
    assert moved.status_code == 422, moved.text
    assert moved.json()["details"][0]["field"] == "configuration.password"
    response = await client.put(
        f"{CHANNELS}/{channel['id']}",
        json={"configuration": {**fragment, "password": "new-app-password"}},
        headers=admin_headers,
    )
    assert response.status_code == 200, response.text
    configuration = response.json()["configuration"]
    for key, value in fragment.items():
        assert configuration[key] == value
    assert configuration["username"] == "your-email@gmail.com"
    assert configuration["password"] == MASK
    assert (await stored_secrets(app, channel["id"]))["password"] == "new-app-password"


async def test_only_one_channel_is_default_and_the_default_moves(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    bot = await create(client, admin_headers, "PYTHON_BOT")
    slack = await create(client, admin_headers, "SLACK")

    for channel in (bot, slack):
        response = await client.put(
            f"{CHANNELS}/{channel['id']}", json={"isDefault": True}, headers=admin_headers
        )
        assert response.status_code == 200, response.text
        default = await client.get(f"{CHANNELS}/default", headers=admin_headers)
        assert default.status_code == 200
        assert default.json()["id"] == channel["id"]
        listed = (await client.get(CHANNELS, headers=admin_headers)).json()
        assert [c["id"] for c in listed if c["isDefault"]] == [channel["id"]]

    previous = await client.get(f"{CHANNELS}/{bot['id']}", headers=admin_headers)
    assert previous.json()["isDefault"] is False

    # Making the default the default again changes nothing.
    again = await client.put(
        f"{CHANNELS}/{slack['id']}", json={"isDefault": True}, headers=admin_headers
    )
    assert again.status_code == 200
    default = await client.get(f"{CHANNELS}/default", headers=admin_headers)
    assert default.json()["id"] == slack["id"]


async def test_creating_a_default_channel_takes_the_default(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    bot = await create(client, admin_headers, "PYTHON_BOT")
    await client.put(f"{CHANNELS}/{bot['id']}", json={"isDefault": True}, headers=admin_headers)
    example = {**json.loads(CURL_BODIES["TELEGRAM"]), "isDefault": True}
    response = await client.post(CHANNELS, json=example, headers=admin_headers)
    assert response.status_code == 201, response.text
    assert response.json()["isDefault"] is True
    default = await client.get(f"{CHANNELS}/default", headers=admin_headers)
    assert default.json()["id"] == response.json()["id"]
    listed = (await client.get(CHANNELS, headers=admin_headers)).json()
    assert sum(c["isDefault"] for c in listed) == 1


async def test_no_default_channel_is_404_with_a_helpful_message(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.get(f"{CHANNELS}/default", headers=admin_headers)
    body = expect_error(response, 404, "CHANNEL_NOT_FOUND")
    assert "default" in body["error"]
    assert "isDefault" in body["error"]

    # Channels exist but none is the default: still 404.
    bot = await create(client, admin_headers, "PYTHON_BOT")
    response = await client.get(f"{CHANNELS}/default", headers=admin_headers)
    expect_error(response, 404, "CHANNEL_NOT_FOUND")

    # Unsetting the default leaves none.
    await client.put(f"{CHANNELS}/{bot['id']}", json={"isDefault": True}, headers=admin_headers)
    unset = await client.put(
        f"{CHANNELS}/{bot['id']}", json={"isDefault": False}, headers=admin_headers
    )
    assert unset.json()["isDefault"] is False
    response = await client.get(f"{CHANNELS}/default", headers=admin_headers)
    expect_error(response, 404, "CHANNEL_NOT_FOUND")


async def test_deleting_the_default_channel_leaves_no_default(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    bot = await create(client, admin_headers, "PYTHON_BOT")
    await create(client, admin_headers, "SLACK")
    await client.put(f"{CHANNELS}/{bot['id']}", json={"isDefault": True}, headers=admin_headers)
    deleted = await client.delete(f"{CHANNELS}/{bot['id']}", headers=admin_headers)
    assert deleted.status_code == 200
    response = await client.get(f"{CHANNELS}/default", headers=admin_headers)
    expect_error(response, 404, "CHANNEL_NOT_FOUND")


async def test_seed_automation_script_flow(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    # The seed's create_channel(), with httpx in place of requests.
    jwt_token = admin_headers["Authorization"].removeprefix("Bearer ")

    async def create_channel(channel_config: dict[str, Any]) -> int | None:
        url = f"{client.base_url}/api/v1/notifications/channels"
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {jwt_token}"}
        try:
            response = await client.post(url, json=channel_config, headers=headers)
            response.raise_for_status()
            result = response.json()
            channel_id: int = result["id"]
            return channel_id
        except httpx.HTTPError:
            return None

    channels = [
        {
            "name": "Python Bot Channel",
            "type": "PYTHON_BOT",
            "configuration": {"botUrl": "http://localhost:5000"},
            "enabled": True,
        },
        {
            "name": "Email Channel",
            "type": "EMAIL",
            "configuration": {
                "smtpHost": "smtp.gmail.com",
                "smtpPort": 587,
                "username": "alerts@yourcompany.com",
                "password": "your-app-password",
                "fromEmail": "alerts@yourcompany.com",
                "useTls": True,
            },
            "enabled": True,
        },
    ]

    created_channels: list[int] = []
    for channel in channels:
        channel_id = await create_channel(channel)
        if channel_id:
            created_channels.append(channel_id)

    assert len(created_channels) == 2
    listed = made_by_people((await client.get(CHANNELS, headers=admin_headers)).json())
    assert [c["id"] for c in listed] == created_channels
    assert [c["name"] for c in listed] == ["Python Bot Channel", "Email Channel"]
