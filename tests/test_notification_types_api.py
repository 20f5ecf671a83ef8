"""Notification types: every built-in one on by default and switchable (seed 003), plus a
project's own types."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from nabat.catalogue import BY_KEY, CATALOGUE
from nabat.services.notification_types import TypeState, type_states
from nabat.state import AppState
from tests.support.errors import expect_error
from tests.test_isolation import add_api_key, add_user
from tests.test_settings_api import counted_queries, project_b, project_ids

TYPES = "/api/v1/notification-types"
BUILTIN_KEYS = [info.key for info in CATALOGUE]


async def types_of(client: httpx.AsyncClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    """The project's types as listed."""
    response = await client.get(TYPES, headers=headers)
    assert response.status_code == 200, response.text
    listed: list[dict[str, Any]] = response.json()
    return listed


async def type_of(client: httpx.AsyncClient, headers: dict[str, str], key: str) -> dict[str, Any]:
    """One listed type."""
    return next(item for item in await types_of(client, headers) if item["key"] == key)


async def create(
    client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any]
) -> dict[str, Any]:
    """Create a custom type, expecting success."""
    response = await client.post(TYPES, json=body, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


# --- the built-in catalogue -------------------------------------------------------------


async def test_every_built_in_type_is_listed_and_enabled_by_default(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    listed = await types_of(client, admin_headers)
    assert [item["key"] for item in listed] == BUILTIN_KEYS
    assert all(item["enabled"] and not item["custom"] for item in listed)
    down = listed[0]
    assert down == {
        "key": "service.down",
        "title": "Сервис недоступен",
        "description": "Отслеживаемый сервис перестал отвечать.",
        "titles": {"ru": "Сервис недоступен", "en": "Service down"},
        "enabled": True,
        "custom": False,
        "mandatory": False,
    }


async def test_titles_follow_the_projects_language(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await client.put("/api/v1/settings/general", json={"language": "en"}, headers=admin_headers)
    listed = await types_of(client, admin_headers)
    for item in listed:
        info = BY_KEY[item["key"]]
        assert item["title"] == info.title_en
        assert item["description"] == info.description_en
        assert item["titles"] == {"ru": info.title_ru, "en": info.title_en}


@pytest.mark.parametrize("key", BUILTIN_KEYS)
async def test_each_built_in_type_switches_off_and_on(
    client: httpx.AsyncClient, admin_headers: dict[str, str], key: str
) -> None:
    off = await client.put(f"{TYPES}/{key}", json={"enabled": False}, headers=admin_headers)
    assert off.status_code == 200, off.text
    assert off.json()["enabled"] is False
    assert off.json()["custom"] is False
    listed = await types_of(client, admin_headers)
    assert [item["key"] for item in listed if not item["enabled"]] == [key]

    on = await client.put(f"{TYPES}/{key}", json={"enabled": True}, headers=admin_headers)
    assert on.json()["enabled"] is True
    assert all(item["enabled"] for item in await types_of(client, admin_headers))


async def test_a_put_without_enabled_leaves_a_built_in_as_it_is(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await client.put(f"{TYPES}/alarm.raised", json={"enabled": False}, headers=admin_headers)
    kept = await client.put(f"{TYPES}/alarm.raised", json={}, headers=admin_headers)
    assert kept.status_code == 200, kept.text
    assert kept.json()["enabled"] is False


@pytest.mark.parametrize(
    ("body", "field"),
    [({"title": "Down!"}, "title"), ({"description": "mine"}, "description")],
)
async def test_a_built_in_types_words_cannot_be_changed(
    client: httpx.AsyncClient, admin_headers: dict[str, str], body: dict[str, Any], field: str
) -> None:
    response = await client.put(
        f"{TYPES}/service.down", json={**body, "enabled": False}, headers=admin_headers
    )
    error = expect_error(response, 422, "VALIDATION_ERROR")
    assert error["error"].startswith(f"{field}: a built-in type")
    assert "only enabled" in error["error"]
    assert (await type_of(client, admin_headers, "service.down"))["enabled"] is True


async def test_an_unknown_type_is_404_saying_how_to_create_one(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.put(
        f"{TYPES}/backup.failed", json={"enabled": False}, headers=admin_headers
    )
    error = expect_error(response, 404, "NOT_FOUND")
    assert "'backup.failed'" in error["error"]
    assert f"POST {TYPES}" in error["error"]
    assert [item["key"] for item in await types_of(client, admin_headers)] == BUILTIN_KEYS


async def test_a_put_with_an_unknown_key_is_refused(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.put(
        f"{TYPES}/service.down", json={"enable": False}, headers=admin_headers
    )
    error = expect_error(response, 422, "VALIDATION_ERROR")
    assert error["details"][0]["field"] == "enable"


async def test_built_in_types_cannot_be_deleted(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    error = expect_error(
        await client.delete(f"{TYPES}/deadline.overdue", headers=admin_headers), 409, "CONFLICT"
    )
    assert "switch it off instead" in error["error"]
    assert (await type_of(client, admin_headers, "deadline.overdue"))["enabled"] is True


# --- custom types -----------------------------------------------------------------------


async def test_a_custom_type_is_created_listed_after_the_built_ins_and_changed(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    created = await create(
        client,
        admin_headers,
        {"key": "backup.failed", "title": "Бэкап не удался", "description": "Ночной бэкап."},
    )
    assert created == {
        "key": "backup.failed",
        "title": "Бэкап не удался",
        "description": "Ночной бэкап.",
        "titles": {"ru": "Бэкап не удался", "en": "Бэкап не удался"},
        "enabled": True,
        "custom": True,
        "mandatory": False,
    }
    await create(client, admin_headers, {"key": "audit.login-failed", "title": "Login failed"})
    keys = [item["key"] for item in await types_of(client, admin_headers)]
    assert keys == [*BUILTIN_KEYS, "audit.login-failed", "backup.failed"]

    changed = await client.put(
        f"{TYPES}/backup.failed",
        json={"title": "Backup failed", "description": None, "enabled": False},
        headers=admin_headers,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json() == {
        "key": "backup.failed",
        "title": "Backup failed",
        "description": "",
        "titles": {"ru": "Backup failed", "en": "Backup failed"},
        "enabled": False,
        "custom": True,
        "mandatory": False,
    }
    assert await type_of(client, admin_headers, "backup.failed") == changed.json()


async def test_a_custom_type_may_start_switched_off(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    created = await create(
        client, admin_headers, {"key": "night.report", "title": "Report", "enabled": False}
    )
    assert created["enabled"] is False
    assert created["description"] == ""


async def test_a_custom_types_title_cannot_be_emptied(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await create(client, admin_headers, {"key": "backup.failed", "title": "Backup failed"})
    response = await client.put(
        f"{TYPES}/backup.failed", json={"title": " "}, headers=admin_headers
    )
    error = expect_error(response, 422, "VALIDATION_ERROR")
    assert error["error"] == "title: must not be empty"
    assert (await type_of(client, admin_headers, "backup.failed"))["title"] == "Backup failed"


async def test_a_custom_type_is_deleted(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await create(client, admin_headers, {"key": "backup.failed", "title": "Backup failed"})
    deleted = await client.delete(f"{TYPES}/backup.failed", headers=admin_headers)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["success"] is True
    assert [item["key"] for item in await types_of(client, admin_headers)] == BUILTIN_KEYS
    again = await client.delete(f"{TYPES}/backup.failed", headers=admin_headers)
    assert f"POST {TYPES}" in expect_error(again, 404, "NOT_FOUND")["error"]


async def test_a_built_in_key_cannot_be_taken_by_a_custom_type(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.post(
        TYPES, json={"key": "service.down", "title": "Mine"}, headers=admin_headers
    )
    error = expect_error(response, 409, "CONFLICT")
    assert "built-in" in error["error"]
    assert (await type_of(client, admin_headers, "service.down"))["custom"] is False


async def test_a_custom_key_cannot_be_created_twice(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await create(client, admin_headers, {"key": "backup.failed", "title": "Backup failed"})
    response = await client.post(
        TYPES, json={"key": "backup.failed", "title": "Again"}, headers=admin_headers
    )
    error = expect_error(response, 409, "CONFLICT")
    assert "already has" in error["error"]
    assert (await type_of(client, admin_headers, "backup.failed"))["title"] == "Backup failed"


@pytest.mark.parametrize(
    ("body", "field", "hint"),
    [
        ({"key": "Backup.Failed", "title": "x"}, "key", "lowercase"),
        ({"key": "1backup", "title": "x"}, "key", "starting with a letter"),
        ({"key": "backup.", "title": "x"}, "key", "dot-separated"),
        ({"key": "backup..failed", "title": "x"}, "key", "dot-separated"),
        ({"key": "backup failed", "title": "x"}, "key", "lowercase"),
        ({"key": "b" * 101, "title": "x"}, "key", "at most 100"),
        ({"key": "backup.failed", "title": ""}, "title", "must not be empty"),
        ({"key": "backup.failed", "title": "a\nb"}, "title", "one line"),
        ({"key": "backup.failed", "title": "t" * 201}, "title", "at most 200"),
        ({"key": "backup.failed", "title": "x", "description": "\x00"}, "description", "control"),
        ({"key": "backup.failed"}, "title", "required"),
        ({"key": "backup.failed", "title": "x", "severity": "ERROR"}, "severity", "unknown key"),
    ],
)
async def test_a_bad_custom_type_is_refused_naming_the_field(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    body: dict[str, Any],
    field: str,
    hint: str,
) -> None:
    error = expect_error(
        await client.post(TYPES, json=body, headers=admin_headers), 422, "VALIDATION_ERROR"
    )
    assert error["details"][0]["field"] == field
    assert hint in error["error"]
    assert [item["key"] for item in await types_of(client, admin_headers)] == BUILTIN_KEYS


async def test_the_longest_key_is_accepted(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    key = "a" * 50 + "." + "b" * 49
    assert (await create(client, admin_headers, {"key": key, "title": "Long"}))["key"] == key


# --- isolation and rights ---------------------------------------------------------------


async def test_switches_and_custom_types_stay_in_their_project(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    in_b = await project_b(client, admin_headers)
    await client.put(f"{TYPES}/service.up", json={"enabled": False}, headers=in_b)
    await create(client, in_b, {"key": "backup.failed", "title": "B's type"})

    a_types = await types_of(client, admin_headers)
    assert [item["key"] for item in a_types] == BUILTIN_KEYS
    assert all(item["enabled"] for item in a_types)
    for method, body in (("PUT", {"enabled": False}), ("DELETE", None)):
        response = await client.request(
            method, f"{TYPES}/backup.failed", json=body, headers=admin_headers
        )
        expect_error(response, 404, "NOT_FOUND")

    # A may make a type with the same key; each project keeps its own.
    await create(client, admin_headers, {"key": "backup.failed", "title": "A's type"})
    assert (await type_of(client, in_b, "backup.failed"))["title"] == "B's type"
    assert (await type_of(client, in_b, "service.up"))["enabled"] is False
    assert (await type_of(client, admin_headers, "service.up"))["enabled"] is True


@pytest.mark.parametrize("role", ["viewer", "member"])
async def test_viewers_and_members_read_types_but_cannot_change_them(
    client: httpx.AsyncClient, admin_headers: dict[str, str], role: str
) -> None:
    await create(client, admin_headers, {"key": "backup.failed", "title": "Backup failed"})
    headers = await add_user(client, admin_headers, f"{role}1", role)
    assert len(await types_of(client, headers)) == len(BUILTIN_KEYS) + 1
    attempts: list[tuple[str, str, dict[str, Any] | None]] = [
        ("PUT", f"{TYPES}/service.down", {"enabled": False}),
        ("PUT", f"{TYPES}/backup.failed", {"title": "renamed"}),
        ("POST", TYPES, {"key": "x.y", "title": "x"}),
        ("DELETE", f"{TYPES}/backup.failed", None),
    ]
    for method, path, body in attempts:
        response = await client.request(method, path, json=body, headers=headers)
        assert "routing:write" in expect_error(response, 403, "FORBIDDEN")["error"]
    listed = await types_of(client, admin_headers)
    assert all(item["enabled"] for item in listed)
    assert listed[-1]["title"] == "Backup failed"


async def test_an_api_key_with_routing_scopes_manages_types(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    _, no_routing = await add_api_key(client, admin_headers, None)
    expect_error(await client.get(TYPES, headers=no_routing), 403, "FORBIDDEN")
    _, key = await add_api_key(client, admin_headers, ["routing:read", "routing:write"])
    off = await client.put(f"{TYPES}/test", json={"enabled": False}, headers=key)
    assert off.status_code == 200, off.text
    assert (await type_of(client, admin_headers, "test"))["enabled"] is False


# --- the ingest view: type_states -------------------------------------------------------


async def test_type_states_holds_every_type_in_the_language_asked_in_one_query(
    client: httpx.AsyncClient, admin_headers: dict[str, str], app: FastAPI
) -> None:
    in_b = await project_b(client, admin_headers)
    await client.put(f"{TYPES}/alarm.cleared", json={"enabled": False}, headers=admin_headers)
    await create(
        client, admin_headers, {"key": "backup.failed", "title": "Бэкап", "enabled": False}
    )
    await create(client, in_b, {"key": "b.only", "title": "B"})
    a_id, _ = await project_ids(client, admin_headers)
    state: AppState = app.state.nabat
    async with state.sessions() as session:
        with counted_queries(state) as statements:
            states = await type_states(session, a_id, "en")
    assert len(statements) == 1
    assert list(states) == [*BUILTIN_KEYS, "backup.failed"]
    assert states["service.down"] == TypeState("service.down", "Service down", True, False)
    assert states["alarm.cleared"] == TypeState("alarm.cleared", "Alarm cleared", False, False)
    assert states["backup.failed"] == TypeState("backup.failed", "Бэкап", False, True)
    async with state.sessions() as session:
        russian = await type_states(session, a_id, "ru")
    assert russian["service.down"].title == "Сервис недоступен"
