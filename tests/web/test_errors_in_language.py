"""Errors in the console are said in the console's language, next to the field they
concern: a generated channel form's (pydantic's own errors and the type's checks), a
rule's, a silence's and a template's, a service's refusal (the last owner), and a stored
channel this build cannot read — while the API answers the same requests in its English,
unchanged."""

from __future__ import annotations

import html
import re

import httpx
import pytest
from fastapi import FastAPI

from nabat.models.channel import Channel
from nabat.state import AppState
from tests.test_isolation import PASSWORD, add_user, create_channel
from tests.web.support import assert_translated, console_login, post_form

CHANNELS = "/api/v1/notifications/channels"

# A form of the EMAIL type as a person might fill it in: no host, port 0, a From that is
# not an address and a timeout above the limit.
BAD_EMAIL = {
    "type": "EMAIL",
    "name": "Почта",
    "config.smtpHost": "",
    "config.smtpPort": "0",
    "config.fromEmail": "nobody",
    "config.timeout": "301",
}


def field_errors(page: str, key: str) -> list[str]:
    """The errors shown inside the generated form's field ``key`` (text, tags removed)."""
    block = re.search(
        rf'<div class="config-field[^"]*"[^>]*>\s*<label for="field-{re.escape(key)}".*?'
        r'(?=<div class="config-field|<div class="form-actions|</form>)',
        page,
        re.S,
    )
    assert block is not None, f"no field {key}"
    found = re.findall(r'<p class="field-error"[^>]*>(.*?)</p>', block.group(0), re.S)
    return [html.unescape(re.sub(r"<[^>]+>", "", text)).strip() for text in found]


def error_of(page: str, field: str) -> str:
    """The error a hand-written form shows next to ``field``."""
    found = re.search(rf'<p class="field-error" id="{re.escape(field)}-error"[^>]*>(.*?)</p>', page)
    assert found is not None, f"no error next to {field}"
    return html.unescape(re.sub(r"<[^>]+>", "", found.group(1)))


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        (
            "ru",
            {
                "smtpHost": "Не принято: обязательно для EMAIL, но не задано",
                "smtpPort": "Не принято: должно быть не меньше 1",
                "fromEmail": "Не принято: не адрес электронной почты вида name@example.com",
                "timeout": "Не принято: должно быть не больше 300",
            },
        ),
        (
            "en",
            {
                "smtpHost": "Not accepted: required for EMAIL but missing",
                "smtpPort": "Not accepted: Input should be greater than or equal to 1",
                "fromEmail": "Not accepted: value is not a valid email address: An email "
                "address must have an @-sign.",
                "timeout": "Not accepted: Input should be less than or equal to 300",
            },
        ),
    ],
)
async def test_a_channel_forms_errors_are_said_next_to_their_fields(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    language: str,
    expected: dict[str, str],
) -> None:
    await console_login(client, language=language)
    refused = await post_form(client, "/channels/new?type=EMAIL", "/channels/new", BAD_EMAIL)
    assert refused.status_code == 422
    assert_translated(refused.text)
    for key, sentence in expected.items():
        assert field_errors(refused.text, key) == [sentence]
    assert field_errors(refused.text, "username") == []
    # The API, asked the same, answers pydantic's and Nabat's English as it always did.
    configuration = {"smtpPort": "0", "fromEmail": "nobody", "timeout": "301"}
    answer = await client.post(
        CHANNELS,
        json={"name": "Почта", "type": "EMAIL", "configuration": configuration},
        headers=admin_headers,
    )
    assert answer.status_code == 422
    said = {d["field"]: d["message"] for d in answer.json()["details"]}
    assert said == {
        "configuration.smtpHost": "required for EMAIL but missing",
        "configuration.smtpPort": "Input should be greater than or equal to 1",
        "configuration.fromEmail": "value is not a valid email address: An email address "
        "must have an @-sign.",
        "configuration.timeout": "Input should be less than or equal to 300",
    }


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("ru", "Не принято: должно быть одним из: 'POST' или 'PUT'"),
        ("en", "Not accepted: Input should be 'POST' or 'PUT'"),
    ],
)
async def test_a_choice_outside_the_types_list_names_the_choices_in_the_language(
    client: httpx.AsyncClient, language: str, expected: str
) -> None:
    await console_login(client, language=language)
    typed = {
        "type": "WEBHOOK",
        "name": "hook",
        "config.url": "https://x.test/",
        "config.method": "GET",
    }
    refused = await post_form(client, "/channels/new?type=WEBHOOK", "/channels/new", typed)
    assert refused.status_code == 422
    assert field_errors(refused.text, "method") == [expected]


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("ru", "Не принято: useTls выключен, но encryption равно 'ssl'; уберите useTls или"),
        ("en", "Not accepted: useTls is false but encryption is 'ssl'; drop useTls or make"),
    ],
)
async def test_a_check_across_keys_is_said_next_to_the_key_it_names(
    client: httpx.AsyncClient, language: str, expected: str
) -> None:
    await console_login(client, language=language)
    typed = {
        "type": "EMAIL",
        "name": "mail",
        "config.smtpHost": "smtp.example.org",
        "config.smtpPort": "465",
        "config.useTls": "false",
        "config.encryption": "ssl",
        "config.auth": "false",
    }
    refused = await post_form(client, "/channels/new?type=EMAIL", "/channels/new", typed)
    assert refused.status_code == 422
    [said] = field_errors(refused.text, "useTls")
    assert said.startswith(expected)


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("ru", "Не принято: дайте правилу название от 1 до 200 символов"),
        ("en", "Not accepted: give the rule a name of 1-200 characters"),
    ],
)
async def test_a_rules_error_is_said_next_to_its_field(
    client: httpx.AsyncClient, admin_headers: dict[str, str], language: str, expected: str
) -> None:
    channel = await create_channel(client, admin_headers, "ops")
    await console_login(client, language=language)
    typed = {"name": "x" * 201, "action-0-channel": str(channel), "action-0-recipients": ""}
    refused = await post_form(client, "/rules/new", "/rules", typed)
    assert refused.status_code == 422
    assert error_of(refused.text, "name") == expected
    assert_translated(refused.text)


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("ru", "Не принято: эти условия выполняются для любого события; пусть хотя бы одно"),
        ("en", "Not accepted: these matchers hold for every event; make at least one of them"),
    ],
)
async def test_a_silences_error_is_said_next_to_its_field(
    client: httpx.AsyncClient, language: str, expected: str
) -> None:
    await console_login(client, language=language)
    typed = {
        "matchers": "env =~ .*",
        "starts_at": "",
        "ends_at": "2999-01-01T00:00",
        "comment": "x",
        "author": "",
    }
    refused = await post_form(client, "/silences/new", "/silences", typed)
    assert refused.status_code == 422
    assert error_of(refused.text, "matchers").startswith(expected)


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        (
            "ru",
            "Не принято: строка 1: шаблоны сообщений не могут включать, импортировать или "
            "расширять другие шаблоны",
        ),
        (
            "en",
            "Not accepted: line 1: message templates cannot include, import or extend other "
            "templates",
        ),
    ],
)
async def test_a_templates_error_is_said_next_to_its_field_with_its_line(
    client: httpx.AsyncClient, language: str, expected: str
) -> None:
    await console_login(client, language=language)
    typed = {
        "type": "service.down",
        "channel_kind": "chat",
        "language": "",
        "subject": "",
        "text": "{% include 'secrets.txt' %}",
        "html": "",
    }
    refused = await post_form(client, "/templates/new", "/templates", typed)
    assert refused.status_code == 422
    assert error_of(refused.text, "text") == expected


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        (
            "ru",
            "Не принято: olga — последний владелец этого проекта; сначала сделайте владельцем "
            "другого участника (PUT /api/v1/members с ролью owner)",
        ),
        (
            "en",
            "Not accepted: olga is the last owner of this project; make another member owner "
            "first (PUT /api/v1/members with role owner)",
        ),
    ],
)
async def test_the_last_owner_is_kept_and_told_why_in_the_language(
    client: httpx.AsyncClient, admin_headers: dict[str, str], language: str, expected: str
) -> None:
    owner = await add_user(client, admin_headers, "olga", "owner")
    members = (await client.get("/api/v1/members", headers=owner)).json()
    ids = {m["username"]: m["userId"] for m in members}
    # The instance administrator leaves the project: olga is its last owner.
    assert (
        await client.delete(f"/api/v1/members/{ids['admin']}", headers=admin_headers)
    ).is_success
    await console_login(client, username="olga", password=PASSWORD, language=language)
    refused = await post_form(client, "/members", f"/members/{ids['olga']}/remove", {})
    assert refused.status_code == 409
    assert "text/html" in refused.headers["content-type"]
    notice = re.search(r'<p class="notice bad" role="alert">(.*?)</p>', refused.text)
    assert notice is not None
    assert html.unescape(notice.group(1)) == expected
    # The API says it in English, as before.
    answer = await client.delete(f"/api/v1/members/{ids['olga']}", headers=owner)
    assert answer.status_code == 409
    assert answer.json()["error"] == (
        "olga is the last owner of this project; make another member owner first "
        "(PUT /api/v1/members with role owner)"
    )


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("ru", "Неизвестный тип канала 'RETIRED'; доступны: "),
        ("en", "Unknown channel type 'RETIRED'; use one of: "),
    ],
)
async def test_a_refusal_no_form_takes_is_a_page_in_the_language_never_json(
    app: FastAPI, client: httpx.AsyncClient, language: str, expected: str
) -> None:
    # A channel stored by a build that had a type this one lacks: reading it is refused
    # by the channel service itself, outside any form.
    state: AppState = app.state.nabat
    now = state.clock.now()
    async with state.sessions() as session:
        row = Channel(
            project_id=1,
            name="old",
            type="RETIRED",
            config_sealed=state.box.encrypt_json({}),
            enabled=True,
            is_default=False,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        await session.commit()
        channel_id = row.id
    await console_login(client, language=language)
    shown = await client.get(f"/channels/{channel_id}")
    assert shown.status_code == 422
    assert "text/html" in shown.headers["content-type"]
    said = re.search(r'<p class="error" role="alert">(.*?)</p>', shown.text)
    assert said is not None
    assert html.unescape(said.group(1)).startswith(expected)
    assert_translated(shown.text)
