"""The Channels pages: the list, the forms generated from each type's model, the Test
panel and the actions, driven over HTTP as a person in a browser would."""

from __future__ import annotations

import html
import itertools
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from nabat.channels.registry import channel_type, channel_types, config_model
from nabat.services.channels import ChannelService
from nabat.state import AppState
from tests.fakes.smtp import SMTP_PASSWORD, SMTP_USER, FakeSmtpServer
from tests.fakes.webhook import Scripted, WebhookReceiver
from tests.support.channels import made_by_people
from tests.test_isolation import PASSWORD, add_user
from tests.web.support import assert_translated, console_login, csrf_of, post_form

CHANNELS = "/api/v1/notifications/channels"


async def api_channel(
    client: httpx.AsyncClient, headers: dict[str, str], config: dict[str, Any], name: str = "hook"
) -> int:
    created = await client.post(
        CHANNELS,
        json={"name": name, "type": "WEBHOOK", "configuration": config},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    channel_id: int = created.json()["id"]
    return channel_id


async def api_get(client: httpx.AsyncClient, headers: dict[str, str], channel_id: int) -> Any:
    answer = await client.get(f"{CHANNELS}/{channel_id}", headers=headers)
    return answer.json() if answer.status_code == 200 else None


async def stored_config(app: FastAPI, channel_id: int) -> dict[str, Any]:
    """A channel's configuration as stored, secrets in clear."""
    state: AppState = app.state.nabat
    async with state.sessions() as session:
        view = await ChannelService(session, state.box, state.clock).get(1, channel_id)
        return view.config.to_storage()


async def _stored_secret(app: FastAPI, channel_id: int) -> Any:
    return (await stored_config(app, channel_id)).get("secret")


def near(page: str, anchor: str, span: int = 1500) -> str:
    """The text of ``page`` from ``anchor`` on (what is shown next to it)."""
    at = page.find(anchor)
    assert at >= 0, anchor
    return html.unescape(page[at : at + span])


@pytest.fixture
async def second(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Another browser on the same app (its own cookies)."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        yield http


async def test_a_webhook_channel_made_through_the_form_is_what_the_api_lists(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    receiver: WebhookReceiver,
) -> None:
    await console_login(client)
    answer = await post_form(
        client,
        "/channels/new?type=WEBHOOK",
        "/channels/new",
        {
            "type": "WEBHOOK",
            "name": "Ops hook",
            "enabled": "on",
            "config.url": receiver.url,
            "config.method": "PUT",
            "config.headers": "X-Team: ops\nX-Env: prod",
            "config.timeout": "7",
            "config.secret": "s3cret-value-long-enough",
        },
    )
    assert answer.status_code == 303, answer.text
    listed = (await client.get(CHANNELS, headers=admin_headers)).json()
    [channel] = [entry for entry in listed if entry["name"] == "Ops hook"]
    assert channel["type"] == "WEBHOOK"
    assert channel["enabled"] is True
    assert channel["isDefault"] is False
    assert channel["configuration"]["url"] == receiver.url
    assert channel["configuration"]["method"] == "PUT"
    # Header values may be credentials: read back masked, stored as typed.
    assert channel["configuration"]["headers"] == {"X-Team": "********", "X-Env": "********"}
    assert (await stored_config(app, channel["id"]))["headers"] == {
        "X-Team": "ops",
        "X-Env": "prod",
    }
    assert channel["configuration"]["timeout"] == 7
    assert channel["configuration"]["secret"] == "********"
    assert answer.headers["location"] == f"/channels/{channel['id']}?saved=1"
    edit = await client.get(answer.headers["location"])
    assert "Saved." in edit.text
    assert "s3cret-value-long-enough" not in edit.text
    assert "X-Team: ********" in edit.text
    page = await client.get("/channels")
    assert_translated(page.text)
    row = near(page.text, "Ops hook", 600)
    assert "Webhook" in row
    assert "enabled" in row
    assert "not used yet" in row


async def test_an_email_channel_from_its_form_mails_its_recipients_and_says_so_in_russian(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await console_login(client, language="ru")
    async with FakeSmtpServer(users={SMTP_USER: SMTP_PASSWORD}, auth_over_plain=True) as smtp:
        fields = {
            "type": "EMAIL",
            "name": "Почта",
            "enabled": "on",
            "config.smtpHost": smtp.host,
            "config.smtpPort": str(smtp.port),
            "config.encryption": "none",
            "config.auth": "true",
            "config.useTls": "",
            "config.username": SMTP_USER,
            "config.password": SMTP_PASSWORD,
            "config.fromEmail": "alerts@example.org",
            "config.to": "ops@example.org\n\n  duty@example.org  ",
            "config.timeout": "5",
        }
        made = await post_form(client, "/channels/new?type=EMAIL", "/channels/new", fields)
        assert made.status_code == 303, made.text
        [channel] = made_by_people((await client.get(CHANNELS, headers=admin_headers)).json())
        assert channel["configuration"]["to"] == ["ops@example.org", "duty@example.org"]
        assert channel["configuration"]["auth"] is True
        assert "useTls" not in channel["configuration"]
        page = f"/channels/{channel['id']}"
        posted = await post_form(client, page, f"{page}/test", {"subject": "Проверка"})
        assert posted.status_code == 303
        tested = await client.get(posted.headers["location"])
        assert "Тестовое письмо успешно отправлено" in tested.text
        [mail] = smtp.received
        assert sorted(mail.rcpt_tos) == ["duty@example.org", "ops@example.org"]
        assert mail.message()["Subject"] == "Проверка"


async def test_a_bad_url_or_headers_line_is_shown_next_to_its_field_and_the_name_is_kept(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await console_login(client, language="ru")
    answer = await post_form(
        client,
        "/channels/new?type=WEBHOOK",
        "/channels/new",
        {
            "type": "WEBHOOK",
            "name": "Typed name",
            "config.url": "ftp://nowhere",
            "config.secret": "x",
        },
    )
    assert answer.status_code == 422
    assert_translated(answer.text)
    assert 'value="Typed name"' in answer.text
    # Secrets are not given back to the browser, even a failed form's.
    assert 'name="config.secret" value=""' in answer.text
    after_url = near(answer.text, 'id="field-url"').split('id="field-method"')[0]
    assert "Не принято: должен быть полный адрес http:// или https:// с именем хоста" in after_url
    assert "Канал не сохранён" in answer.text
    # A headers line that is not "Name: value" is caught before the service is asked.
    answer = await post_form(
        client,
        "/channels/new?type=WEBHOOK",
        "/channels/new",
        {"type": "WEBHOOK", "name": "h", "config.url": "http://x.test/", "config.headers": "oops"},
    )
    assert answer.status_code == 422
    after = near(answer.text, 'id="field-headers"').split('id="field-timeout"')[0]
    assert "строка 1: пишите каждую запись как «Имя: значение»" in after
    assert ">oops</textarea>" in after
    assert made_by_people((await client.get(CHANNELS, headers=admin_headers)).json()) == []


async def test_saving_with_the_secret_left_empty_keeps_the_stored_secret(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    receiver: WebhookReceiver,
) -> None:
    channel = await api_channel(
        client, admin_headers, {"url": receiver.url, "secret": "keep-me-sixteen-bytes"}
    )
    await console_login(client)
    edit = await client.get(f"/channels/{channel}")
    assert "keep-me-sixteen-bytes" not in edit.text
    assert "stored" in near(edit.text, 'id="field-secret"', 800)
    answer = await post_form(
        client,
        f"/channels/{channel}",
        f"/channels/{channel}",
        {"name": "renamed", "enabled": "on", "config.url": receiver.url, "config.secret": ""},
    )
    assert answer.status_code == 303, answer.text
    assert (await api_get(client, admin_headers, channel))["name"] == "renamed"
    assert await _stored_secret(app, channel) == "keep-me-sixteen-bytes"
    # A typed secret replaces it; ticking "remove" drops it.
    fields = {
        "name": "renamed",
        "config.url": receiver.url,
        "config.secret": "new-one-sixteen-bytes",
    }
    await post_form(client, f"/channels/{channel}", f"/channels/{channel}", fields)
    assert await _stored_secret(app, channel) == "new-one-sixteen-bytes"
    fields = {"name": "renamed", "config.url": receiver.url, "config.secret.remove": "on"}
    await post_form(client, f"/channels/{channel}", f"/channels/{channel}", fields)
    assert await _stored_secret(app, channel) is None


async def test_moving_the_url_without_the_secret_is_refused_next_to_the_secret(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    receiver: WebhookReceiver,
) -> None:
    channel = await api_channel(
        client, admin_headers, {"url": receiver.url, "secret": "keep-me-sixteen-bytes"}
    )
    await console_login(client)
    answer = await post_form(
        client,
        f"/channels/{channel}",
        f"/channels/{channel}",
        {"name": "new name", "config.url": "http://127.0.0.1:9/elsewhere", "config.secret": ""},
    )
    assert answer.status_code == 422
    assert 'value="new name"' in answer.text
    assert "requires sending secret again" in near(answer.text, 'id="field-secret"')
    stored = await api_get(client, admin_headers, channel)
    assert stored["name"] == "hook"
    assert stored["configuration"]["url"] == receiver.url


async def test_the_test_panel_shows_the_success_sentence_in_the_consoles_language(
    client: httpx.AsyncClient, admin_headers: dict[str, str], receiver: WebhookReceiver
) -> None:
    channel = await api_channel(client, admin_headers, {"url": receiver.url})
    await console_login(client, language="ru")
    kind = channel_type("WEBHOOK")
    assert kind is not None
    for language in ("ru", "en"):
        client.cookies.set("nabat_lang", language)
        answer = await post_form(
            client,
            f"/channels/{channel}",
            f"/channels/{channel}/test",
            {"recipient": "", "subject": "Hello", "message": f"From the console ({language})"},
        )
        # Post/redirect/get: the outcome is read back from the test delivery.
        assert answer.status_code == 303
        answer = await client.get(answer.headers["location"])
        assert answer.status_code == 200
        assert_translated(answer.text)
        notice = re.search(r'class="notice" role="status">([^<]+)<', answer.text)
        assert notice is not None
        assert html.unescape(notice.group(1)) == kind.test_sent.said(language)
        assert f"From the console ({language})" in answer.text  # the panel keeps it
    assert [got.json()["message"] for got in receiver.received] == [
        "From the console (ru)",
        "From the console (en)",
    ]


async def test_the_test_panel_shows_the_providers_reason(
    client: httpx.AsyncClient, admin_headers: dict[str, str], receiver: WebhookReceiver
) -> None:
    receiver.default = Scripted(status=500, body="boom")
    channel = await api_channel(client, admin_headers, {"url": receiver.url})
    await console_login(client, language="ru")
    answer = await post_form(client, f"/channels/{channel}", f"/channels/{channel}/test", {})
    assert answer.status_code == 303
    answer = await client.get(answer.headers["location"])
    assert answer.status_code == 200
    kind = channel_type("WEBHOOK")
    assert kind is not None
    failed = re.search(r'class="notice bad" role="alert">([^<]+)<', answer.text)
    assert failed is not None
    lead = kind.test_failed.said("ru", reason="\0").split("\0")[0]
    assert html.unescape(failed.group(1)).startswith(lead)
    assert "500" in failed.group(1)
    health = near(answer.text, "<h2>Работоспособность</h2>", 1200)
    assert "Последняя ошибка" in health


async def test_make_default_disable_and_delete(
    client: httpx.AsyncClient, admin_headers: dict[str, str], receiver: WebhookReceiver
) -> None:
    channel = await api_channel(client, admin_headers, {"url": receiver.url})
    await console_login(client)
    page = f"/channels/{channel}"
    made = await post_form(client, page, f"{page}/default", {})
    assert made.status_code == 303
    assert (await api_get(client, admin_headers, channel))["isDefault"] is True
    off = await post_form(client, page, f"{page}/enabled", {"enabled": "false"})
    assert off.status_code == 303
    assert (await api_get(client, admin_headers, channel))["enabled"] is False
    shown = await client.get(page)
    assert 'name="enabled" value="true"' in shown.text  # now offers to switch it on
    assert 'data-confirm="Delete the channel «hook»?' in shown.text
    gone = await post_form(client, page, f"{page}/delete", {})
    assert gone.status_code == 303
    assert gone.headers["location"] == "/channels?deleted=1"
    assert await api_get(client, admin_headers, channel) is None
    assert "The channel was deleted." in (await client.get(gone.headers["location"])).text


async def test_a_viewer_sees_channels_but_gets_no_forms_and_cannot_post(
    client: httpx.AsyncClient,
    second: httpx.AsyncClient,
    admin_headers: dict[str, str],
    receiver: WebhookReceiver,
) -> None:
    channel = await api_channel(
        client, admin_headers, {"url": receiver.url, "secret": "x-sixteen-bytes-long"}
    )
    await add_user(client, admin_headers, "watcher", "viewer")
    await console_login(second, "watcher", PASSWORD)
    listed = await second.get("/channels")
    assert listed.status_code == 200
    assert "hook" in listed.text
    assert 'action="/channels/new"' not in listed.text
    edit = await second.get(f"/channels/{channel}")
    assert edit.status_code == 200
    assert_translated(edit.text)
    assert 'method="post" action="/channels/' not in edit.text
    assert receiver.url in edit.text  # the settings are shown, read-only
    assert (await second.get("/channels/new?type=WEBHOOK")).status_code == 403
    token = csrf_of(edit.text)
    for action, fields in [
        (f"/channels/{channel}", {"name": "taken", "config.url": receiver.url}),
        (f"/channels/{channel}/delete", {}),
        (f"/channels/{channel}/default", {}),
        (f"/channels/{channel}/enabled", {"enabled": "false"}),
        (f"/channels/{channel}/test", {}),
        ("/channels/new", {"type": "WEBHOOK", "name": "n", "config.url": receiver.url}),
    ]:
        refused = await second.post(action, data={"csrf": token, **fields})
        assert refused.status_code == 403, action
    stored = await api_get(client, admin_headers, channel)
    assert stored["name"] == "hook"
    assert stored["enabled"] is True
    assert not stored["isDefault"]
    assert receiver.received == []


async def test_a_post_without_the_csrf_token_is_refused(
    client: httpx.AsyncClient, admin_headers: dict[str, str], receiver: WebhookReceiver
) -> None:
    channel = await api_channel(client, admin_headers, {"url": receiver.url})
    await console_login(client)
    made = await client.post(
        "/channels/new", data={"type": "WEBHOOK", "name": "n", "config.url": receiver.url}
    )
    assert made.status_code == 403
    deleted = await client.post(f"/channels/{channel}/delete", data={"csrf": "forged"})
    assert deleted.status_code == 403
    listed = made_by_people((await client.get(CHANNELS, headers=admin_headers)).json())
    assert [entry["id"] for entry in listed] == [channel]


async def test_every_registered_type_gets_a_form_with_a_labelled_input_per_key(
    client: httpx.AsyncClient,
) -> None:
    await console_login(client)
    picker = await client.get("/channels/new")
    for language, type_name in itertools.product(("en", "ru"), channel_types()):
        client.cookies.set("nabat_lang", language)
        assert f'<option value="{type_name}">' in picker.text
        answer = await client.get(f"/channels/new?type={type_name}")
        assert answer.status_code == 200, type_name
        assert_translated(answer.text)
        model = config_model(type_name)
        assert model is not None
        for key in model.wire_keys():
            assert f'<label for="field-{key}"' in answer.text, (type_name, key)
            assert re.search(rf'<(input|select|textarea)[^>]* id="field-{key}"', answer.text), (
                type_name,
                key,
            )
            assert f'name="config.{key}"' in answer.text
        for key in model.required_keys():
            label = near(answer.text, f'<label for="field-{key}"', 300).split("</label>")[0]
            assert "(required)" in label or "(обязательно)" in label, (type_name, key)
