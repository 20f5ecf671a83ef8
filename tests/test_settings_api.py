"""Project settings: seed 003's mail settings and the language of default templates."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event

from nabat.services.project_settings import (
    DEFAULT_SETTINGS,
    MessageSettings,
    incomplete_mail_form,
    message_settings,
)
from nabat.state import AppState
from tests.support.errors import expect_error
from tests.test_isolation import add_api_key, add_user

MAIL = "/api/v1/settings/mail"
GENERAL = "/api/v1/settings/general"
EMPTY_MAIL = {
    "fromAddress": None,
    "fromName": None,
    "replyTo": None,
    "signature": None,
    "allowUnregisteredRecipients": False,
    "mailChannelId": None,
}
FULL_MAIL = {
    "fromAddress": "alerts@example.org",
    "fromName": "Служба поддержки",
    "replyTo": "support@example.org",
    "signature": "--\nNabat, the alarm bell",
    "allowUnregisteredRecipients": True,
    "mailChannelId": None,
}


async def put_mail(
    client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any]
) -> httpx.Response:
    """PUT the mail settings."""
    return await client.put(MAIL, json=body, headers=headers)


async def project_b(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> dict[str, str]:
    """Create project B; return the admin's headers inside it."""
    created = await client.post(
        "/api/v1/projects", json={"name": "Project B", "slug": "project-b"}, headers=admin_headers
    )
    assert created.status_code == 201, created.text
    return {**admin_headers, "X-Nabat-Project": "project-b"}


@contextmanager
def counted_queries(state: AppState) -> Iterator[list[str]]:
    """Collect the SQL statements run on the app's engine inside the block."""
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(str(args[2]))

    engine = state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


# --- mail settings over the API ---------------------------------------------------------


async def test_mail_settings_are_empty_until_set(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.get(MAIL, headers=admin_headers)
    assert response.status_code == 200, response.text
    assert response.json() == EMPTY_MAIL


async def test_all_mail_settings_are_set_and_read_back(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    saved = await put_mail(client, admin_headers, FULL_MAIL)
    assert saved.status_code == 200, saved.text
    assert saved.json() == FULL_MAIL
    assert (await client.get(MAIL, headers=admin_headers)).json() == FULL_MAIL


async def test_a_put_changes_only_the_keys_it_gives(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await put_mail(client, admin_headers, FULL_MAIL)
    changed = await put_mail(client, admin_headers, {"fromName": "Nabat"})
    assert changed.json() == {**FULL_MAIL, "fromName": "Nabat"}
    changed = await put_mail(client, admin_headers, {"allowUnregisteredRecipients": False})
    assert changed.json() == {
        **FULL_MAIL,
        "fromName": "Nabat",
        "allowUnregisteredRecipients": False,
    }
    unchanged = await put_mail(client, admin_headers, {})
    assert unchanged.json() == changed.json()


async def test_null_or_blank_clears_a_setting(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await put_mail(client, admin_headers, FULL_MAIL)
    cleared = await put_mail(
        client,
        admin_headers,
        {"signature": "   ", "allowUnregisteredRecipients": None},
    )
    assert cleared.json() == {**FULL_MAIL, "signature": None, "allowUnregisteredRecipients": False}
    # The three mandatory ones go together: all cleared is no mail settings at all.
    cleared = await put_mail(
        client, admin_headers, {"fromAddress": None, "fromName": "", "replyTo": None}
    )
    assert cleared.json() == {**EMPTY_MAIL}


@pytest.mark.parametrize(
    ("body", "missing"),
    [
        ({"fromAddress": "alerts@example.org"}, ["fromName", "replyTo"]),
        ({"fromName": "Nabat", "replyTo": "help@example.org"}, ["fromAddress"]),
        ({**FULL_MAIL, "replyTo": None}, ["replyTo"]),
    ],
)
async def test_the_mail_form_is_refused_when_saved_incomplete_naming_each_missing_field(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    body: dict[str, Any],
    missing: list[str],
) -> None:
    error = expect_error(await put_mail(client, admin_headers, body), 422, "VALIDATION_ERROR")
    assert [detail["field"] for detail in error["details"]] == missing
    assert "Reply-To" in error["error"]
    assert "не заполнено: " + ", ".join(missing) in error["error"]
    assert (await client.get(MAIL, headers=admin_headers)).json() == EMPTY_MAIL


async def test_clearing_one_mandatory_mail_setting_is_refused_in_english_for_english_projects(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await client.put(GENERAL, json={"language": "en"}, headers=admin_headers)
    await put_mail(client, admin_headers, FULL_MAIL)
    error = expect_error(
        await put_mail(client, admin_headers, {"fromName": None}), 422, "VALIDATION_ERROR"
    )
    assert error["error"].endswith("missing: fromName")
    assert (await client.get(MAIL, headers=admin_headers)).json() == FULL_MAIL


async def test_addresses_are_trimmed_and_lowercased(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    saved = await put_mail(
        client,
        admin_headers,
        {"fromAddress": "  Alerts@Example.ORG ", "fromName": "  Nabat  ", "replyTo": "H@X.ru"},
    )
    assert saved.status_code == 200, saved.text
    body = saved.json()
    assert (body["fromAddress"], body["fromName"], body["replyTo"]) == (
        "alerts@example.org",
        "Nabat",
        "h@x.ru",
    )


@pytest.mark.parametrize(
    ("body", "field", "hint"),
    [
        ({"fromAddress": "alerts"}, "fromAddress", "name@example.com"),
        ({"fromAddress": "Nabat <alerts@example.org>"}, "fromAddress", "name@example.com"),
        ({"replyTo": "support@"}, "replyTo", "name@example.com"),
        ({"replyTo": "a@b@example.org"}, "replyTo", "name@example.com"),
        ({"fromName": "Nabat\r\nBcc: victim@example.org"}, "fromName", "one line"),
        ({"fromName": "Nabat\x00"}, "fromName", "control character"),
        ({"fromName": "N" * 201}, "fromName", "at most 200"),
        ({"signature": "x" * 2001}, "signature", "at most 2000"),
        ({"signature": "bye\x00"}, "signature", "control character"),
    ],
)
async def test_bad_mail_settings_are_refused_naming_the_field(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    body: dict[str, Any],
    field: str,
    hint: str,
) -> None:
    error = expect_error(await put_mail(client, admin_headers, body), 422, "VALIDATION_ERROR")
    assert error["error"].startswith(f"{field}: ")
    assert hint in error["error"]
    assert error["details"][0]["field"] == field
    assert (await client.get(MAIL, headers=admin_headers)).json() == EMPTY_MAIL


async def test_a_signature_of_2000_characters_over_several_lines_is_kept(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    signature = ("line\twith a tab\n" * 200)[:2000].rstrip() + "."
    saved = await put_mail(client, admin_headers, {"signature": signature})
    assert saved.status_code == 200, saved.text
    assert saved.json()["signature"] == signature


async def test_one_bad_key_saves_nothing(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await put_mail(client, admin_headers, {"fromName": "Nabat", "replyTo": "nope"})
    expect_error(response, 422, "VALIDATION_ERROR")
    assert (await client.get(MAIL, headers=admin_headers)).json() == EMPTY_MAIL


async def test_unknown_keys_are_refused_by_name(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await put_mail(
        client, admin_headers, {"fromEmail": "a@example.org", "signatur": "x"}
    )
    error = expect_error(response, 422, "VALIDATION_ERROR")
    assert {detail["field"] for detail in error["details"]} == {"fromEmail", "signatur"}
    assert "unknown key" in error["error"]
    assert (await client.get(MAIL, headers=admin_headers)).json() == EMPTY_MAIL


async def test_wrongly_typed_values_are_refused(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    error = expect_error(
        await put_mail(client, admin_headers, {"fromAddress": 5}), 422, "VALIDATION_ERROR"
    )
    assert error["details"][0]["field"] == "fromAddress"


# --- general settings -------------------------------------------------------------------


async def test_the_default_language_is_russian_and_english_can_be_chosen(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    assert (await client.get(GENERAL, headers=admin_headers)).json() == {"language": "ru"}
    chosen = await client.put(GENERAL, json={"language": "EN"}, headers=admin_headers)
    assert chosen.status_code == 200, chosen.text
    assert chosen.json() == {"language": "en"}
    assert (await client.get(GENERAL, headers=admin_headers)).json() == {"language": "en"}
    kept = await client.put(GENERAL, json={}, headers=admin_headers)
    assert kept.json() == {"language": "en"}
    reset = await client.put(GENERAL, json={"language": None}, headers=admin_headers)
    assert reset.json() == {"language": "ru"}


async def test_the_language_and_mail_settings_do_not_overwrite_each_other(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await put_mail(client, admin_headers, FULL_MAIL)
    await client.put(GENERAL, json={"language": "en"}, headers=admin_headers)
    assert (await client.get(MAIL, headers=admin_headers)).json() == FULL_MAIL
    await put_mail(client, admin_headers, {"fromName": "Nabat"})
    assert (await client.get(GENERAL, headers=admin_headers)).json() == {"language": "en"}


@pytest.mark.parametrize("language", ["de", "", "russian", "ru-RU"])
async def test_an_unknown_language_is_refused_with_the_choices(
    client: httpx.AsyncClient, admin_headers: dict[str, str], language: str
) -> None:
    response = await client.put(GENERAL, json={"language": language}, headers=admin_headers)
    error = expect_error(response, 422, "VALIDATION_ERROR")
    assert error["details"][0]["field"] == "language"
    assert "'ru' or 'en'" in error["error"]


async def test_general_settings_refuse_unknown_keys(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.put(GENERAL, json={"lang": "en"}, headers=admin_headers)
    error = expect_error(response, 422, "VALIDATION_ERROR")
    assert error["details"][0]["field"] == "lang"


# --- isolation and rights ---------------------------------------------------------------


async def test_each_project_has_its_own_settings(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    in_b = await project_b(client, admin_headers)
    await put_mail(client, admin_headers, FULL_MAIL)
    await client.put(GENERAL, json={"language": "en"}, headers=admin_headers)
    assert (await client.get(MAIL, headers=in_b)).json() == EMPTY_MAIL
    assert (await client.get(GENERAL, headers=in_b)).json() == {"language": "ru"}

    await put_mail(client, in_b, {**FULL_MAIL, "fromAddress": "b@example.org"})
    assert (await client.get(MAIL, headers=admin_headers)).json() == FULL_MAIL
    assert (await client.get(MAIL, headers=in_b)).json()["fromAddress"] == "b@example.org"


@pytest.mark.parametrize("role", ["viewer", "member"])
async def test_viewers_and_members_read_settings_but_cannot_change_them(
    client: httpx.AsyncClient, admin_headers: dict[str, str], role: str
) -> None:
    await put_mail(client, admin_headers, FULL_MAIL)
    headers = await add_user(client, admin_headers, f"{role}1", role)
    assert (await client.get(MAIL, headers=headers)).json() == FULL_MAIL
    assert (await client.get(GENERAL, headers=headers)).json() == {"language": "ru"}
    for path, body in ((MAIL, {"fromName": "x"}), (GENERAL, {"language": "en"})):
        error = expect_error(await client.put(path, json=body, headers=headers), 403, "FORBIDDEN")
        assert "routing:write" in error["error"]
    assert (await client.get(MAIL, headers=headers)).json() == FULL_MAIL


async def test_api_keys_need_the_routing_scopes(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    _, default_key = await add_api_key(client, admin_headers, None)
    error = expect_error(await client.get(MAIL, headers=default_key), 403, "FORBIDDEN")
    assert "routing:read" in error["error"]
    _, reader = await add_api_key(client, admin_headers, ["routing:read"])
    assert (await client.get(MAIL, headers=reader)).status_code == 200
    expect_error(await put_mail(client, reader, {"fromName": "x"}), 403, "FORBIDDEN")
    _, writer = await add_api_key(client, admin_headers, ["routing:read", "routing:write"])
    saved = await put_mail(client, writer, {**FULL_MAIL, "fromName": "x"})
    assert saved.json()["fromName"] == "x"


async def test_settings_need_authentication(client: httpx.AsyncClient) -> None:
    for path in (MAIL, GENERAL):
        expect_error(await client.get(path), 401, "UNAUTHORIZED")
        expect_error(await client.put(path, json={}), 401, "UNAUTHORIZED")


# --- the worker's view: message_settings; the form's completeness ----------------------


async def project_ids(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> list[int]:
    """The ids of the admin's projects, oldest first."""
    projects = await client.get("/api/v1/projects", headers=admin_headers)
    return [project["id"] for project in projects.json()]


async def test_message_settings_gives_every_project_asked_for_in_one_query(
    client: httpx.AsyncClient, admin_headers: dict[str, str], app: FastAPI
) -> None:
    in_b = await project_b(client, admin_headers)
    await put_mail(client, admin_headers, FULL_MAIL)
    await client.put(GENERAL, json={"language": "en"}, headers=in_b)
    a_id, b_id = await project_ids(client, admin_headers)
    state: AppState = app.state.nabat
    async with state.sessions() as session:
        with counted_queries(state) as statements:
            found = await message_settings(session, [a_id, b_id, 4242])
    assert len(statements) == 1
    assert found == {
        a_id: MessageSettings(
            language="ru",
            from_address="alerts@example.org",
            from_name="Служба поддержки",
            reply_to="support@example.org",
            signature="--\nNabat, the alarm bell",
            allow_unregistered_recipients=True,
        ),
        b_id: MessageSettings(
            language="en",
            from_address=None,
            from_name=None,
            reply_to=None,
            signature=None,
            allow_unregistered_recipients=False,
        ),
        4242: DEFAULT_SETTINGS,
    }


async def test_message_settings_of_no_projects_asks_nothing(app: FastAPI) -> None:
    state: AppState = app.state.nabat
    async with state.sessions() as session:
        with counted_queries(state) as statements:
            assert await message_settings(session, []) == {}
    assert statements == []


def test_a_project_without_mail_settings_is_complete() -> None:
    assert incomplete_mail_form(DEFAULT_SETTINGS) == []


def test_the_project_settings_are_complete_with_all_three() -> None:
    settings = MessageSettings("ru", "a@example.org", "Nabat", "s@example.org", None, False)
    assert incomplete_mail_form(settings) == []


def test_one_mandatory_setting_without_the_others_is_incomplete() -> None:
    settings = MessageSettings("ru", None, "Nabat", None, None, False)
    assert incomplete_mail_form(settings) == ["fromAddress", "replyTo"]
