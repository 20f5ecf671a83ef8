"""The preferences API: a person's grid of switches and quiet hours, the project's
defaults and mandatory types; what each role may do and how mistakes are worded."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from nabat.models.account import Role
from nabat.services.access import Scope
from tests.support.errors import expect_error
from tests.support.preferences import (
    DEFAULTS,
    PREFERENCES,
    QUIET_HOURS,
    admins_project,
    mail,
    member,
    state_of,
    switch,
    telegram,
)
from tests.test_members_access import new_key

TYPES = "/api/v1/notification-types"


def cell(grid: dict[str, Any], type_key: str, kind: str) -> dict[str, Any]:
    [row] = [row for row in grid["types"] if row["type"] == type_key]
    index = grid["kinds"].index(kind)
    found: dict[str, Any] = row["switches"][index]
    assert found["kind"] == kind
    return found


async def grid_of(client: httpx.AsyncClient, headers: dict[str, str], path: str) -> dict[str, Any]:
    answer = await client.get(path, headers=headers)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


async def test_the_grid_is_every_type_by_every_kind_the_projects_channels_use(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await mail(client, admin_headers)
    await telegram(client, admin_headers, None)
    grid = await grid_of(client, admin_headers, PREFERENCES)
    assert {"email", "telegram"} <= set(grid["kinds"])
    assert "sms" not in grid["kinds"]
    assert grid["kinds"] == sorted(grid["kinds"])
    types = (await client.get(TYPES, headers=admin_headers)).json()
    assert [row["type"] for row in grid["types"]] == [t["key"] for t in types]
    down = next(row for row in grid["types"] if row["type"] == "service.down")
    assert down["typeEnabled"] is True
    assert down["mandatory"] is False
    assert down["title"]
    assert all(
        s == {"kind": s["kind"], "enabled": True, "source": "builtin"} for s in down["switches"]
    )


async def test_a_viewer_sets_their_own_switches_and_sees_where_each_comes_from(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await mail(client, admin_headers)
    await telegram(client, admin_headers, None)
    _, viewer = await member(app, "vera", Role.VIEWER)
    await switch(client, admin_headers, "email", False, path=DEFAULTS)
    answer = await client.put(
        PREFERENCES,
        json={"switches": [{"type": "service.down", "kind": "telegram", "enabled": False}]},
        headers=viewer,
    )
    assert answer.status_code == 200, answer.text
    grid = answer.json()
    assert cell(grid, "service.down", "telegram") == {
        "kind": "telegram",
        "enabled": False,
        "source": "own",
    }
    assert cell(grid, "service.down", "email") == {
        "kind": "email",
        "enabled": False,
        "source": "default",
    }
    assert cell(grid, "service.up", "telegram")["source"] == "builtin"
    # The admin's own grid is the admin's: the viewer's switch is not in it.
    mine = await grid_of(client, admin_headers, PREFERENCES)
    assert cell(mine, "service.down", "telegram")["source"] == "builtin"
    # null drops the switch: back to the default.
    await switch(client, viewer, "telegram", None)
    grid = await grid_of(client, viewer, PREFERENCES)
    assert cell(grid, "service.down", "telegram")["source"] == "builtin"


async def test_only_admins_set_defaults_and_mandatory_types(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await mail(client, admin_headers)
    for role in (Role.VIEWER, Role.MEMBER):
        _, headers = await member(app, role.value, role)
        body = {"switches": [{"type": "service.down", "kind": "email", "enabled": False}]}
        refused = await client.put(DEFAULTS, json=body, headers=headers)
        assert "routing:write" in expect_error(refused, 403, "FORBIDDEN")["error"]
        made = await client.put(f"{TYPES}/service.down", json={"mandatory": True}, headers=headers)
        expect_error(made, 403, "FORBIDDEN")
        # Reading the defaults is reading the project's routing, as the types are.
        assert (await client.get(DEFAULTS, headers=headers)).status_code == 200
    defaults = await grid_of(client, admin_headers, DEFAULTS)
    assert cell(defaults, "service.down", "email")["source"] == "builtin"
    await switch(client, admin_headers, "email", False, path=DEFAULTS)
    defaults = await grid_of(client, admin_headers, DEFAULTS)
    assert cell(defaults, "service.down", "email") == {
        "kind": "email",
        "enabled": False,
        "source": "default",
    }


async def test_a_mandatory_type_cannot_be_switched_off_by_anyone(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await mail(client, admin_headers)
    _, viewer = await member(app, "vera", Role.VIEWER)
    made = await client.put(
        f"{TYPES}/service.down", json={"mandatory": True}, headers=admin_headers
    )
    assert made.status_code == 200, made.text
    body = {"switches": [{"type": "service.down", "kind": "email", "enabled": False}]}
    for path, headers in ((PREFERENCES, viewer), (DEFAULTS, admin_headers)):
        refused = await client.put(path, json=body, headers=headers)
        error = expect_error(refused, 422, "VALIDATION_ERROR")
        assert error["error"] == (
            "switches[0].enabled: the notification type 'service.down' is mandatory in this "
            "project: its notifications cannot be switched off"
        )
        assert error["details"][0]["field"] == "switches[0].enabled"
    grid = await grid_of(client, viewer, PREFERENCES)
    down = next(row for row in grid["types"] if row["type"] == "service.down")
    assert down["mandatory"] is True
    assert cell(grid, "service.down", "email") == {
        "kind": "email",
        "enabled": True,
        "source": "mandatory",
    }
    listed = (await client.get(TYPES, headers=admin_headers)).json()
    assert next(t for t in listed if t["key"] == "service.down")["mandatory"] is True


@pytest.mark.parametrize(
    ("switches", "field", "words"),
    [
        (
            [{"type": "no.such", "kind": "email", "enabled": False}],
            "switches[0].type",
            "'no.such' is not a notification type of this project",
        ),
        (
            [{"type": "service.down", "kind": "pigeon", "enabled": False}],
            "switches[0].kind",
            "'pigeon' is not a kind of channel people switch; use bot, email, ",
        ),
        (
            [
                {"type": "service.down", "kind": "email", "enabled": False},
                {"type": "service.down", "kind": "email", "enabled": True},
            ],
            "switches[1]",
            "'service.down' over email is given twice",
        ),
    ],
)
async def test_a_bad_switch_is_refused_naming_it_and_nothing_is_stored(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    switches: list[dict[str, Any]],
    field: str,
    words: str,
) -> None:
    await mail(client, admin_headers)
    refused = await client.put(PREFERENCES, json={"switches": switches}, headers=admin_headers)
    error = expect_error(refused, 422, "VALIDATION_ERROR")
    assert error["details"][0]["field"] == field
    assert words in error["error"]
    grid = await grid_of(client, admin_headers, PREFERENCES)
    assert cell(grid, "service.down", "email")["source"] == "builtin"


async def test_a_switch_must_say_enabled_even_if_null(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    body = {"switches": [{"type": "service.down", "kind": "email"}]}
    refused = await client.put(PREFERENCES, json=body, headers=admin_headers)
    expect_error(refused, 422, "VALIDATION_ERROR")


async def test_an_api_key_has_no_preferences_or_quiet_hours(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    key = await new_key(
        state_of(app), await admins_project(app), [Scope.ROUTING_READ, Scope.ROUTING_WRITE]
    )
    for path in (PREFERENCES, QUIET_HOURS):
        refused = await client.get(path, headers=key)
        assert "an API key acts for a project" in expect_error(refused, 403, "FORBIDDEN")["error"]
    # The project's defaults are the project's: a key with the scope reads them.
    assert (await client.get(DEFAULTS, headers=key)).status_code == 200


async def test_quiet_hours_are_none_until_set_and_then_as_set(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    _, viewer = await member(app, "vera", Role.VIEWER)
    none = await client.get(QUIET_HOURS, headers=viewer)
    assert none.json() == {"enabled": False, "timeZone": None, "starts": None, "ends": None}
    body = {"timeZone": "Europe/Moscow", "starts": "22:00", "ends": "07:30"}
    answer = await client.put(QUIET_HOURS, json=body, headers=viewer)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {**body, "enabled": True}
    assert (await client.get(QUIET_HOURS, headers=viewer)).json() == {**body, "enabled": True}
    off = await client.put(QUIET_HOURS, json={**body, "enabled": False}, headers=viewer)
    assert off.json()["enabled"] is False
    # They are the viewer's own: the admin's are still unset.
    assert (await client.get(QUIET_HOURS, headers=admin_headers)).json()["timeZone"] is None


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"timeZone": "Mars/Olympus"}, "timeZone", "'Mars/Olympus' is not a time zone"),
        ({"timeZone": "../etc/passwd"}, "timeZone", "is not a time zone"),
        ({"timeZone": "localtime"}, "timeZone", "is not a time zone"),
        ({"starts": "7:00"}, "starts", "'7:00' is not a time of day; write it as HH:MM"),
        ({"ends": "24:00"}, "ends", "'24:00' is not a time of day"),
        ({"ends": "22:00"}, "ends", "must differ from starts"),
    ],
)
async def test_bad_quiet_hours_are_refused_naming_the_field(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    change: dict[str, str],
    field: str,
    words: str,
) -> None:
    body = {"timeZone": "Europe/Moscow", "starts": "22:00", "ends": "07:00", **change}
    refused = await client.put(QUIET_HOURS, json=body, headers=admin_headers)
    error = expect_error(refused, 422, "VALIDATION_ERROR")
    assert error["details"][0]["field"] == field
    assert words in error["error"]
    assert (await client.get(QUIET_HOURS, headers=admin_headers)).json()["timeZone"] is None
