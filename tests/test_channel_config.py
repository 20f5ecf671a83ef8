"""Channel configuration: which settings each type accepts, and how refusals name the key.

The tables cover every registered type; most rows run against the models directly (as the
API's ``parse_config`` does), and a representative subset runs through the HTTP API on
both databases.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from nabat.channels.base import MASK, ChannelConfig, restore_masked
from nabat.channels.email import EmailConfig
from nabat.channels.registry import CONFIG_MODELS
from nabat.errors import ValidationFailed
from nabat.services.channels import parse_config
from tests.support.channels import made_by_people

CHANNELS = "/api/v1/notifications/channels"
TOKEN = "123456789:ABCdefGHIjklMNOpqrsTUVwxyz"  # seed 002
SLACK_URL = "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"
DISCORD_URL = "https://discord.com/api/webhooks/123456789/abcdefTOKEN"
TEAMS_URL = (
    "https://prod-12.westeurope.logic.azure.com:443/workflows/5f0c2a7d/triggers/manual/paths/"
    "invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=AbCdEf123456"
)
SMTP = {"smtpHost": "smtp.example.org", "smtpPort": 587}
HOOK = {"url": "https://your-service.com/webhook"}

# Seed 002's configurations, exactly as written there.
SEED: dict[str, dict[str, Any]] = {
    "PYTHON_BOT": {"botUrl": "http://localhost:5000"},
    "TELEGRAM": {"botToken": TOKEN, "chatId": "-1001234567890"},
    "EMAIL": {
        "smtpHost": "smtp.gmail.com",
        "smtpPort": "587",
        "username": "your-email@gmail.com",
        "password": "your-app-password",
        "fromEmail": "alerts@yourcompany.com",
        "useTls": True,
    },
    "SLACK": {"webhookUrl": SLACK_URL, "channel": "#alerts", "username": "PingTower Bot"},
    "WEBHOOK": {
        "url": "https://your-service.com/webhook",
        "method": "POST",
        "headers": {"Authorization": "Bearer your-token", "Content-Type": "application/json"},
        "timeout": 30,
    },
    "DISCORD": {"webhookUrl": DISCORD_URL},
    # Not a seed type: its own cases are in tests/test_sms_config.py.
    "SMS": {"provider": "SMSRU", "apiId": "0E1F2A3B-4C5D", "defaultRecipients": ["89255070602"]},
    # Not seed types: their own cases are in tests/test_teams_sender.py and
    # tests/test_apprise_sender.py.
    "TEAMS": {"webhookUrl": TEAMS_URL},
    "APPRISE": {"urls": ["json://hooks.example.org/in", "ntfy://ntfy.example.org/alerts"]},
    # Not seed types: their own cases are in tests/test_ews_sender.py and
    # tests/test_graph_mail_sender.py.
    "EWS": {
        "server": "mail.example.org",
        "username": "svc-nabat",
        "password": "ews-password",
        "fromEmail": "alerts@example.org",
    },
    "GRAPH_MAIL": {
        "tenantId": "contoso.onmicrosoft.com",
        "clientId": "0b6f3a9e-2c4d-4e8f-8a1b-6d5c4b3a2f10",
        "clientSecret": "graph-client-secret",
        "fromEmail": "alerts@example.org",
    },
    # Not a seed type, and made by Nabat in every project: its cases are in
    # tests/test_inapp_sender.py, and the API test below changes it instead of adding one.
    "INAPP": {"linkBaseUrl": "https://desk.example.org"},
}

# (type, configuration, what the public configuration then shows)
GOOD: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("EMAIL", SEED["EMAIL"], {"smtpPort": 587, "password": MASK, "useTls": True}),
    (
        "EMAIL",
        {**SEED["EMAIL"], "smtpPort": 587, "username": "alerts@yourcompany.com"},
        {"smtpPort": 587},
    ),
    ("EMAIL", {"smtpHost": "smtp-mail.outlook.com", "smtpPort": 587, "useTls": True}, {}),
    ("EMAIL", {"smtpHost": "smtp.mail.yahoo.com", "smtpPort": 587, "useTls": True}, {}),
    ("EMAIL", {"smtpHost": "mail.yourcompany.com", "smtpPort": 25, "useTls": False}, {}),
    ("EMAIL", {**SMTP, "useTls": "true"}, {"useTls": True}),
    ("EMAIL", {**SMTP, "useTls": "false"}, {"useTls": False}),
    ("EMAIL", {**SMTP, "smtpPort": "465", "encryption": "ssl"}, {"encryption": "ssl"}),
    ("EMAIL", {**SMTP, "encryption": "starttls", "useTls": True}, {"encryption": "starttls"}),
    ("EMAIL", {**SMTP, "encryption": "none", "useTls": False}, {"encryption": "none"}),
    ("EMAIL", {**SMTP, "encryption": "SSL"}, {"encryption": "ssl"}),
    # Seed 003's names: "TLS" is STARTTLS, in any case.
    ("EMAIL", {**SMTP, "encryption": "TLS"}, {"encryption": "starttls"}),
    ("EMAIL", {**SMTP, "encryption": "tls", "useTls": True}, {"encryption": "starttls"}),
    ("EMAIL", {**SMTP, "encryption": "None", "useTls": False}, {"encryption": "none"}),
    ("EMAIL", {**SMTP, "username": "relay", "auth": False}, {"auth": False}),
    ("EMAIL", {**SMTP, "auth": False, "to": ["a@example.org", "b@example.org"]}, {}),
    (
        "EMAIL",
        {**SMTP, "to": "a@example.org, b@example.org"},
        {"to": ["a@example.org", "b@example.org"]},
    ),
    (
        "EMAIL",
        {**SMTP, "to": "a@example.org; b@example.org"},
        {"to": ["a@example.org", "b@example.org"]},
    ),
    (
        "EMAIL",
        {**SMTP, "fromName": "Nabat Alerts", "replyTo": "ops@example.org", "timeout": "15"},
        {"fromName": "Nabat Alerts", "replyTo": "ops@example.org", "timeout": 15.0},
    ),
    ("TELEGRAM", SEED["TELEGRAM"], {"botToken": MASK, "chatId": "-1001234567890"}),
    ("TELEGRAM", {"botToken": TOKEN, "chatId": -1001234567890}, {"chatId": "-1001234567890"}),
    ("TELEGRAM", {"botToken": TOKEN, "chatId": 42}, {"chatId": "42"}),
    (
        "TELEGRAM",
        {"botToken": TOKEN, "chatId": "@pingtower_alerts"},
        {"chatId": "@pingtower_alerts"},
    ),
    (
        "TELEGRAM",
        {
            "botToken": TOKEN,
            "chatId": "-100123",
            "parseMode": "MarkdownV2",
            "messageThreadId": "7",
            "disableNotification": True,
            "apiBaseUrl": "http://bot-api.internal:8081",
        },
        {"parseMode": "MarkdownV2", "messageThreadId": 7, "disableNotification": True},
    ),
    ("SLACK", SEED["SLACK"], {"webhookUrl": MASK, "channel": "#alerts"}),
    ("SLACK", {"webhookUrl": SLACK_URL}, {"webhookUrl": MASK}),
    (
        "WEBHOOK",
        SEED["WEBHOOK"],
        {
            "method": "POST",
            "timeout": 30.0,
            "headers": {"Authorization": MASK, "Content-Type": "application/json"},
        },
    ),
    ("WEBHOOK", {**HOOK, "method": "put"}, {"method": "PUT"}),
    ("WEBHOOK", HOOK, {"method": "POST", "headers": {}}),
    (
        "WEBHOOK",
        {**HOOK, "timeout": "5", "secret": "whsec_" + "QUJDREVGR0hJSktMTU5PUFFS"},
        {"timeout": 5.0, "secret": MASK},
    ),
    ("WEBHOOK", {**HOOK, "secret": "a-raw-secret-of-32-characters-xx"}, {"secret": MASK}),
    ("PYTHON_BOT", SEED["PYTHON_BOT"], {"botUrl": "http://localhost:5000"}),
    ("PYTHON_BOT", {"botUrl": "https://bot.internal/hooks", "timeout": "3"}, {"timeout": 3.0}),
    ("DISCORD", SEED["DISCORD"], {"webhookUrl": MASK}),
    (
        "DISCORD",
        {
            "webhookUrl": DISCORD_URL,
            "username": "Nabat",
            "avatarUrl": "https://cdn.example.org/a.png",
        },
        {"username": "Nabat", "avatarUrl": "https://cdn.example.org/a.png"},
    ),
    ("SMS", SEED["SMS"], {"apiId": MASK, "defaultRecipients": ["+79255070602"]}),
    ("TEAMS", SEED["TEAMS"], {"webhookUrl": MASK, "maxCardBytes": 20000}),
    ("TEAMS", {"webhookUrl": TEAMS_URL, "maxCardBytes": "8000"}, {"maxCardBytes": 8000}),
    ("APPRISE", SEED["APPRISE"], {"urls": MASK, "bodyFormat": "text", "timeout": 15.0}),
    ("APPRISE", {"urls": "json://a.example.org/x tgram://1:AAbb/2"}, {"urls": MASK}),
    ("EWS", SEED["EWS"], {"password": MASK, "authType": "ntlm", "oauth2": False}),
    ("GRAPH_MAIL", SEED["GRAPH_MAIL"], {"clientSecret": MASK, "saveToSentItems": False}),
    ("INAPP", {}, {}),
    ("INAPP", SEED["INAPP"], SEED["INAPP"]),
]

CRLF = "Alerts\r\nBcc: victim@example.org"

# (type, configuration, the field named first, words its message must hold)
BAD: list[tuple[str, dict[str, Any], str, tuple[str, ...]]] = [
    ("EMAIL", {**SMTP, "smtpPort": 70000}, "smtpPort", ("65535",)),
    ("EMAIL", {**SMTP, "smtpPort": "abc"}, "smtpPort", ("integer",)),
    ("EMAIL", {**SMTP, "smtpPort": 0}, "smtpPort", ()),
    ("EMAIL", {**SMTP, "smtpPort": True}, "smtpPort", ("number",)),
    (
        "EMAIL",
        {"smtpHots": "smtp.example.org", "smtpPort": 587},
        "smtpHots",
        ("did you mean 'smtpHost'", "allowed keys: smtpHost, smtpPort, username, password"),
    ),
    ("EMAIL", {"smtpHost": "smtp.example.org"}, "smtpPort", ("required", "missing")),
    ("EMAIL", {**SMTP, "useTls": False, "encryption": "ssl"}, "useTls", ("'ssl'", "agree")),
    ("EMAIL", {**SMTP, "useTls": True, "encryption": "none"}, "useTls", ("'none'",)),
    ("EMAIL", {**SMTP, "encryption": "tls1.2"}, "encryption", ("ssl",)),
    ("EMAIL", {**SMTP, "encryption": "TLS", "useTls": False}, "useTls", ("'starttls'",)),
    ("EMAIL", {**SMTP, "auth": True, "username": "u"}, "password", ("auth",)),
    ("EMAIL", {**SMTP, "auth": True, "password": "pw"}, "username", ("auth",)),
    ("EMAIL", {**SMTP, "username": "u"}, "password", ("password are required",)),
    ("EMAIL", {**SMTP, "fromName": CRLF}, "fromName", ("single line",)),
    ("EMAIL", {**SMTP, "fromName": "Alerts\nBcc: x@example.org"}, "fromName", ("single line",)),
    ("EMAIL", {**SMTP, "username": "u\r\nX: y", "password": "pw"}, "username", ("single line",)),
    ("EMAIL", {**SMTP, "smtpHost": "smtp.example.org\r\nRCPT TO:x"}, "smtpHost", ()),
    ("EMAIL", {**SMTP, "fromEmail": "not-an-email"}, "fromEmail", ()),
    ("EMAIL", {**SMTP, "to": "a@example.org, nope"}, "to.1", ()),
    ("EMAIL", {**SMTP, "timeout": 0}, "timeout", ()),
    ("EMAIL", {**SMTP, "username": "u", "password": MASK}, "password", ("mask",)),
    ("TELEGRAM", {"botToken": "not-a-token", "chatId": "1"}, "botToken", ("BotFather",)),
    ("TELEGRAM", {"botToken": "123:short", "chatId": "1"}, "botToken", ()),
    ("TELEGRAM", {"chatId": "1"}, "botToken", ("missing",)),
    ("TELEGRAM", {"botToken": TOKEN, "chatId": "general"}, "chatId", ("@channelname",)),
    ("TELEGRAM", {"botToken": TOKEN, "chatId": "@ab"}, "chatId", ()),
    ("TELEGRAM", {"botToken": TOKEN, "chatId": True}, "chatId", ()),
    ("TELEGRAM", {"botToken": TOKEN, "chat_id": "1"}, "chat_id", ("did you mean 'chatId'",)),
    ("TELEGRAM", {"botToken": TOKEN, "chatId": "1", "messageThreadId": 0}, "messageThreadId", ()),
    (
        "TELEGRAM",
        {"botToken": TOKEN, "chatId": "1", "apiBaseUrl": "api.telegram.org"},
        "apiBaseUrl",
        ("http",),
    ),
    ("SLACK", {"webhookUrl": "hooks.slack.com/services/T/B/X"}, "webhookUrl", ("http",)),
    ("SLACK", {"webhookUrl": "javascript:alert(1)"}, "webhookUrl", ()),
    ("SLACK", {}, "webhookUrl", ("missing",)),
    ("SLACK", {"webhookURL": SLACK_URL}, "webhookURL", ("did you mean 'webhookUrl'",)),
    ("SLACK", {"webhookUrl": SLACK_URL, "username": CRLF}, "username", ("single line",)),
    ("WEBHOOK", {"url": "ftp://example.org/hook"}, "url", ("http",)),
    ("WEBHOOK", {"url": "https://exa mple.org/hook"}, "url", ()),
    ("WEBHOOK", {"url": "https://example.org:99999/hook"}, "url", ("port",)),
    ("WEBHOOK", {**HOOK, "method": "GET"}, "method", ("POST",)),
    (
        "WEBHOOK",
        {**HOOK, "headers": {"X-Trace": "a\r\nX-Injected: 1"}},
        "headers.X-Trace",
        ("single line",),
    ),
    (
        "WEBHOOK",
        {**HOOK, "headers": {"Content-Length": "5"}},
        "headers.Content-Length",
        ("set by Nabat",),
    ),
    ("WEBHOOK", {**HOOK, "headers": {"Host": "evil.example"}}, "headers.Host", ("set by Nabat",)),
    (
        "WEBHOOK",
        {**HOOK, "headers": {"webhook-signature": "v1,x"}},
        "headers.webhook-signature",
        (),
    ),
    ("WEBHOOK", {**HOOK, "headers": {"Bad Name": "x"}}, "headers.Bad Name", ("header name",)),
    ("WEBHOOK", {**HOOK, "headers": ["Authorization: x"]}, "headers", ()),
    ("WEBHOOK", {**HOOK, "secret": "short"}, "secret", ("16 bytes",)),
    ("WEBHOOK", {**HOOK, "secret": "whsec_!!not-base64!!"}, "secret", ("base64",)),
    ("WEBHOOK", {**HOOK, "timeout": 500}, "timeout", ()),
    ("WEBHOOK", {**HOOK, "headers": {"X-Api-Key": MASK}}, "headers.X-Api-Key", ("mask",)),
    ("PYTHON_BOT", {}, "botUrl", ("missing",)),
    ("PYTHON_BOT", {"botUrl": "localhost:5000"}, "botUrl", ("http",)),
    ("PYTHON_BOT", {"botURL": "http://localhost:5000"}, "botURL", ("did you mean 'botUrl'",)),
    ("PYTHON_BOT", {"botUrl": "http://localhost:5000", "timeout": -1}, "timeout", ()),
    ("DISCORD", {"webhookUrl": "not a url"}, "webhookUrl", ()),
    ("DISCORD", {"webhookUrl": DISCORD_URL, "username": ""}, "username", ()),
    ("DISCORD", {"webhookUrl": DISCORD_URL, "username": "x" * 81}, "username", ()),
    ("DISCORD", {"webhookUrl": DISCORD_URL, "avatarUrl": "file:///etc/passwd"}, "avatarUrl", ()),
    ("SMS", {**SEED["SMS"], "defaultRecipients": ["+0123"]}, "defaultRecipients.0", ()),
    (
        "TEAMS",
        {"webhookUrl": "https://contoso.webhook.office.com/webhookb2/a@b/IncomingWebhook/c/d"},
        "webhookUrl",
        ("Office 365 connector", "Post to a channel when a webhook request is received"),
    ),
    ("TEAMS", {"webhookUrl": TEAMS_URL, "maxCardBytes": 50}, "maxCardBytes", ()),
    ("APPRISE", {"urls": []}, "urls", ()),
    ("APPRISE", {"urls": ["json://a.example.org/x", "nope://x"]}, "urls.1", ("URL 2 of 2",)),
    ("APPRISE", {**SEED["APPRISE"], "bodyFormat": "rtf"}, "bodyFormat", ()),
    ("EWS", {**SEED["EWS"], "server": "not a host name!"}, "server", ()),
    ("GRAPH_MAIL", {"tenantId": "t", "clientId": "c"}, "clientSecret", ("missing",)),
    ("INAPP", {"linkBaseUrl": "ftp://desk.example.org"}, "linkBaseUrl", ("http",)),
]


def ids(rows: list[Any]) -> list[str]:
    """Test ids: the type, then the field at fault if any, then the row number."""
    return [f"{row[0]}-{row[2] if len(row) > 3 else ''}-{index}" for index, row in enumerate(rows)]


def parse(type_name: str, configuration: dict[str, Any]) -> ChannelConfig:
    """Validate as the API does: the registered model, through ``parse_config``."""
    return parse_config(CONFIG_MODELS[type_name], configuration)


@pytest.mark.parametrize(("type_name", "configuration", "shown"), GOOD, ids=ids(GOOD))
def test_a_good_configuration_is_accepted_and_read_back(
    type_name: str, configuration: dict[str, Any], shown: dict[str, Any]
) -> None:
    config = parse(type_name, configuration)
    public = config.to_public()
    assert public.items() >= shown.items()
    # What clients read, sent back with the masks, is the same configuration again.
    again = parse(type_name, restore_masked(public, config.to_storage()))
    assert again.to_storage() == config.to_storage()


@pytest.mark.parametrize(("type_name", "configuration", "field", "words"), BAD, ids=ids(BAD))
def test_a_bad_configuration_is_refused_naming_the_field(
    type_name: str, configuration: dict[str, Any], field: str, words: tuple[str, ...]
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse(type_name, configuration)
    error = caught.value
    assert error.status_code == 422
    first = error.details[0]
    assert first["field"] == f"configuration.{field}", error.details
    assert error.message.startswith(f"configuration.{field}: ")
    for word in words:
        assert word in first["message"], first["message"]


def test_an_unknown_key_is_named_with_the_allowed_keys() -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse("EMAIL", {"smtpHots": "smtp.example.org", "smtpPort": 587})
    details = caught.value.details
    assert [detail["field"] for detail in details] == [
        "configuration.smtpHots",
        "configuration.smtpHost",
    ]
    assert details[0]["type"] == "extra_forbidden"
    for key in CONFIG_MODELS["EMAIL"].wire_keys():
        assert key in details[0]["message"]


def test_email_tls_mode_follows_use_tls_encryption_and_port() -> None:
    def mode(extra: dict[str, Any]) -> str:
        config = parse("EMAIL", {**SMTP, **extra})
        assert isinstance(config, EmailConfig)
        return config.effective_encryption

    assert mode({}) == "starttls"
    assert mode({"useTls": True}) == "starttls"
    assert mode({"useTls": False}) == "none"
    assert mode({"smtpPort": 465}) == "ssl"
    assert mode({"smtpPort": "465", "useTls": True}) == "ssl"
    assert mode({"encryption": "ssl", "smtpPort": 2465}) == "ssl"


def test_an_email_password_is_kept_exactly_as_written() -> None:
    config = parse("EMAIL", {**SMTP, "username": "u", "password": "  pass word  "})
    assert config.to_storage()["password"] == "  pass word  "


def test_every_registered_type_has_good_and_bad_rows() -> None:
    assert {row[0] for row in GOOD} == set(CONFIG_MODELS)
    assert {row[0] for row in BAD} == set(CONFIG_MODELS)
    assert set(SEED) == set(CONFIG_MODELS)


# Through the HTTP API, on both databases.


async def test_the_seed_configurations_are_created_as_written(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    listed = (await client.get(CHANNELS, headers=admin_headers)).json()
    [inapp] = [c for c in listed if c["type"] == "INAPP"]
    for type_name, configuration in SEED.items():
        body = {"name": f"{type_name} channel", "type": type_name, "configuration": configuration}
        if type_name == inapp["type"]:
            # The project has it already: changed, not added.
            url = f"{CHANNELS}/{inapp['id']}"
            response = await client.put(url, json=body, headers=admin_headers)
            assert response.status_code == 200, response.text
        else:
            response = await client.post(
                CHANNELS, json={**body, "enabled": True}, headers=admin_headers
            )
            assert response.status_code == 201, response.text
        created = response.json()
        assert isinstance(created["id"], int)
        assert created["type"] == type_name
        assert created["enabled"] is True
        expected = parse(type_name, configuration).to_public()
        assert created["configuration"] == expected
    listed = await client.get(CHANNELS, headers=admin_headers)
    assert sorted(item["type"] for item in listed.json()) == sorted(SEED)


# One row per (type, field) pair below: the first in BAD.
HTTP_PICKS = [
    ("EMAIL", "smtpPort"),
    ("EMAIL", "smtpHots"),
    ("EMAIL", "useTls"),
    ("EMAIL", "fromName"),
    ("TELEGRAM", "chatId"),
    ("SLACK", "webhookUrl"),
    ("WEBHOOK", "headers.Content-Length"),
    ("PYTHON_BOT", "botUrl"),
    ("DISCORD", "avatarUrl"),
]
HTTP_BAD = [next(row for row in BAD if (row[0], row[2]) == pick) for pick in HTTP_PICKS]


@pytest.mark.parametrize(
    ("type_name", "configuration", "field", "words"), HTTP_BAD, ids=ids(HTTP_BAD)
)
async def test_the_api_refuses_a_bad_configuration_naming_the_field(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    type_name: str,
    configuration: dict[str, Any],
    field: str,
    words: tuple[str, ...],
) -> None:
    body = {"name": "bad", "type": type_name, "configuration": configuration}
    response = await client.post(CHANNELS, json=body, headers=admin_headers)
    assert response.status_code == 422, response.text
    error = response.json()
    assert error["success"] is False
    assert error["code"] == "VALIDATION_ERROR"
    assert error["error"].startswith(f"configuration.{field}: ")
    assert error["details"][0]["field"] == f"configuration.{field}"
    assert error["timestamp"]
    for word in words:
        assert word in error["details"][0]["message"]
    assert made_by_people((await client.get(CHANNELS, headers=admin_headers)).json()) == []


async def test_an_unknown_channel_type_names_the_valid_types(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    body = {"name": "pigeon", "type": "CARRIER_PIGEON", "configuration": {}}
    response = await client.post(CHANNELS, json=body, headers=admin_headers)
    assert response.status_code == 422, response.text
    error = response.json()
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"][0]["field"] == "type"
    for type_name in CONFIG_MODELS:
        assert type_name in error["error"]


async def test_an_update_is_validated_like_a_create(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    body = {"name": "mail", "type": "EMAIL", "configuration": SEED["EMAIL"]}
    created = (await client.post(CHANNELS, json=body, headers=admin_headers)).json()
    response = await client.put(
        f"{CHANNELS}/{created['id']}",
        json={"configuration": {"smtpPort": "70000"}},
        headers=admin_headers,
    )
    assert response.status_code == 422, response.text
    assert response.json()["details"][0]["field"] == "configuration.smtpPort"
    again = (await client.get(f"{CHANNELS}/{created['id']}", headers=admin_headers)).json()
    assert again["configuration"]["smtpPort"] == 587
