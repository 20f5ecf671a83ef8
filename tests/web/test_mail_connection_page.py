"""The settings page's outgoing-mail connection card (seed 003: SMTP or EWS), in Russian
and English, checked through the API."""

from __future__ import annotations

import html
import re

import httpx
import pytest

from tests.test_isolation import PASSWORD, add_user
from tests.web.support import assert_translated, console_login, post_form

CHANNELS = "/api/v1/notifications/channels"
MAIL = "/api/v1/settings/mail"


async def channel(
    client: httpx.AsyncClient, headers: dict[str, str], name: str, kind: str, enabled: bool = True
) -> int:
    """A channel of ``kind`` (nothing is sent through it here); its id."""
    configuration = (
        {"smtpHost": "mail.example.org", "smtpPort": "587", "auth": False}
        if kind == "EMAIL"
        else {"url": "https://hooks.example.org/nabat"}
    )
    body = {"name": name, "type": kind, "configuration": configuration, "enabled": enabled}
    created = await client.post(CHANNELS, json=body, headers=headers)
    assert created.status_code == 201, created.text
    channel_id: int = created.json()["id"]
    return channel_id


def options(page: str) -> dict[str, str]:
    """The connection select's options: value → text."""
    select = re.search(r'<select id="settings-mailChannelId".*?</select>', page, re.S)
    assert select is not None, "no connection select on the page"
    found = re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select.group(0))
    return {value: html.unescape(text) for value, text in found}


def selected(page: str) -> str:
    found = re.search(r'<option value="([^"]*)" selected>', page)
    assert found is not None
    return found.group(1)


@pytest.mark.parametrize(
    ("language", "title", "none", "mail_type"),
    [
        ("ru", "Подключение исходящей почты", "— не выбран —", "Электронная почта (SMTP)"),
        ("en", "Outgoing mail connection", "— none —", "E-mail (SMTP)"),
    ],
)
async def test_the_card_offers_the_enabled_mail_channels_and_saves_the_choice(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    language: str,
    title: str,
    none: str,
    mail_type: str,
) -> None:
    office = await channel(client, admin_headers, "Office mail", "EMAIL")
    await channel(client, admin_headers, "Ops hook", "WEBHOOK")
    await channel(client, admin_headers, "Old relay", "EMAIL", enabled=False)
    await console_login(client, language=language)
    shown = await client.get("/settings")
    assert title in shown.text
    assert_translated(shown.text)
    # Neither the webhook nor the disabled relay can carry the project's mail.
    assert options(shown.text) == {"": none, str(office): f"Office mail · {mail_type}"}
    assert selected(shown.text) == ""

    saved = await post_form(
        client, "/settings", "/settings/connection", {"mailChannelId": str(office)}
    )
    assert saved.status_code == 303, saved.text
    assert (await client.get(MAIL, headers=admin_headers)).json()["mailChannelId"] == office
    assert selected((await client.get(saved.headers["location"])).text) == str(office)

    cleared = await post_form(client, "/settings", "/settings/connection", {"mailChannelId": ""})
    assert cleared.status_code == 303, cleared.text
    assert (await client.get(MAIL, headers=admin_headers)).json()["mailChannelId"] is None


@pytest.mark.parametrize(
    ("language", "not_mail", "not_offered"),
    [
        (
            "ru",
            "Не принято: канал {id} (Ops hook) — канал WEBHOOK, он не отправляет почту; "
            "выберите канал типа ",
            "Не принято: выберите один из предложенных каналов",
        ),
        (
            "en",
            "Not accepted: channel {id} (Ops hook) is a WEBHOOK channel, which does not send "
            "e-mail; choose a channel of type ",
            "Not accepted: choose one of the channels offered",
        ),
    ],
)
async def test_a_refused_channel_is_said_next_to_the_select_in_the_consoles_language(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    language: str,
    not_mail: str,
    not_offered: str,
) -> None:
    hook = await channel(client, admin_headers, "Ops hook", "WEBHOOK")
    await console_login(client, language=language)
    for posted, said in (
        (str(hook), not_mail.format(id=hook)),
        ("office", not_offered),
        ("9" * 30, not_offered),
    ):
        failed = await post_form(
            client, "/settings", "/settings/connection", {"mailChannelId": posted}
        )
        assert failed.status_code == 422
        error = re.search(r'id="mailChannelId-error"[^>]*>([^<]*)<', failed.text)
        assert error is not None, failed.text
        assert html.unescape(error.group(1)).startswith(said)
        assert_translated(failed.text)
    assert (await client.get(MAIL, headers=admin_headers)).json()["mailChannelId"] is None


async def test_a_disabled_connection_is_still_shown_as_the_stored_choice(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    office = await channel(client, admin_headers, "Office mail", "EMAIL")
    await client.put(MAIL, json={"mailChannelId": office}, headers=admin_headers)
    await client.put(f"{CHANNELS}/{office}", json={"enabled": False}, headers=admin_headers)
    await console_login(client)
    shown = await client.get("/settings")
    assert options(shown.text)[str(office)] == "Office mail · E-mail (SMTP) (disabled)"
    assert selected(shown.text) == str(office)


async def test_a_viewer_reads_the_connection_without_a_form(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    office = await channel(client, admin_headers, "Office mail", "EMAIL")
    await client.put(MAIL, json={"mailChannelId": office}, headers=admin_headers)
    await add_user(client, admin_headers, "watcher", "viewer")
    await console_login(client, "watcher", PASSWORD)
    shown = await client.get("/settings")
    assert 'action="/settings/connection"' not in shown.text
    assert "<dd>Office mail · E-mail (SMTP)</dd>" in shown.text
