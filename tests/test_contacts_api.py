"""Contact points: users say where they are reached; instance administrators manage
anyone's, project roles nobody's but their own; ingest finds people by id, username or
e-mail."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from nabat.models.account import User
from nabat.services.contacts import Person, find_people
from nabat.state import AppState
from tests.support.errors import expect_error
from tests.test_isolation import add_api_key, add_user, without_noise
from tests.test_settings_api import counted_queries, project_b, project_ids

MINE = "/api/v1/users/me/contact-points"


def of_user(user_id: int) -> str:
    """The admin path to a user's contact points."""
    return f"/api/v1/users/{user_id}/contact-points"


async def user_id(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    """The id of the user ``headers`` log in as."""
    profile = await client.get("/api/auth/profile", headers=headers)
    assert profile.status_code == 200, profile.text
    found: int = profile.json()["id"]
    return found


async def add(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], body: dict[str, Any]
) -> dict[str, Any]:
    """Add a contact point, expecting success."""
    response = await client.post(path, json=body, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def listed(client: httpx.AsyncClient, path: str, headers: dict[str, str]) -> list[Any]:
    """(kind, value, label) of each listed contact point."""
    response = await client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    return [(item["kind"], item["value"], item["label"]) for item in response.json()]


# --- one's own contact points -----------------------------------------------------------


async def test_a_user_has_no_contact_points_at_first(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    assert await listed(client, MINE, admin_headers) == []


@pytest.mark.parametrize(
    ("kind", "value", "stored"),
    [
        ("EMAIL", "  Ivan.Petrov@Example.ORG ", "ivan.petrov@example.org"),
        ("email", "и@пример.рф", "и@пример.рф"),
        ("TELEGRAM", "123456789", "123456789"),
        ("TELEGRAM", "-1001234567890", "-1001234567890"),
        ("TELEGRAM", " @nabat_alerts ", "@nabat_alerts"),
        ("PHONE", "+7 (925) 507-06-02", "+79255070602"),
        ("PHONE", "+44 20 8366 1177", "+442083661177"),
        ("phone", "+1-202-555-0100", "+12025550100"),
        ("PHONE", "+123456789012345", "+123456789012345"),
    ],
)
async def test_valid_contact_points_are_stored_normalised(
    client: httpx.AsyncClient, admin_headers: dict[str, str], kind: str, value: str, stored: str
) -> None:
    created = await add(client, MINE, admin_headers, {"kind": kind, "value": value})
    assert (created["kind"], created["value"], created["label"]) == (kind.upper(), stored, None)
    assert isinstance(created["id"], int)
    assert created["createdAt"]
    assert await listed(client, MINE, admin_headers) == [(kind.upper(), stored, None)]


async def test_contact_points_are_listed_in_the_order_added_with_labels(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await add(client, MINE, admin_headers, {"kind": "PHONE", "value": "+79255070602"})
    await add(
        client, MINE, admin_headers, {"kind": "EMAIL", "value": "home@example.org", "label": "home"}
    )
    await add(client, MINE, admin_headers, {"kind": "TELEGRAM", "value": "42", "label": " "})
    assert await listed(client, MINE, admin_headers) == [
        ("PHONE", "+79255070602", None),
        ("EMAIL", "home@example.org", "home"),
        ("TELEGRAM", "42", None),
    ]


@pytest.mark.parametrize(
    ("body", "field", "hint"),
    [
        ({"kind": "EMAIL", "value": "ivan"}, "value", "name@example.com"),
        ({"kind": "EMAIL", "value": "Ivan <ivan@example.org>"}, "value", "name@example.com"),
        ({"kind": "EMAIL", "value": "a@b@example.org"}, "value", "name@example.com"),
        ({"kind": "PHONE", "value": "89255070602"}, "value", "E.164"),
        ({"kind": "PHONE", "value": "+0 925 507 06 02"}, "value", "E.164"),
        ({"kind": "PHONE", "value": "+1234567"}, "value", "8-15 digits"),
        ({"kind": "PHONE", "value": "+1234567890123456"}, "value", "8-15 digits"),
        ({"kind": "PHONE", "value": "+7 925 CALL-ME"}, "value", "E.164"),
        ({"kind": "PHONE", "value": "+7.925.507.06.02"}, "value", "E.164"),
        ({"kind": "PHONE", "value": "+7 925 507 06 02 ext 5"}, "value", "E.164"),
        ({"kind": "TELEGRAM", "value": "nabat_alerts"}, "value", "@channelusername"),
        ({"kind": "TELEGRAM", "value": "@abc"}, "value", "5-32"),
        ({"kind": "TELEGRAM", "value": "12.5"}, "value", "numeric chat id"),
        ({"kind": "TELEGRAM", "value": "-"}, "value", "numeric chat id"),
        ({"kind": "TELEGRAM", "value": "012345"}, "value", "numeric chat id"),
        ({"kind": "SMS", "value": "+79255070602"}, "kind", "EMAIL, TELEGRAM, PHONE"),
        ({"kind": "EMAIL", "value": "a@example.org", "label": "a\nb"}, "label", "one line"),
        ({"kind": "EMAIL", "value": "a@example.org", "label": "l" * 101}, "label", "at most 100"),
        ({"kind": "EMAIL"}, "value", "required"),
        ({"kind": "EMAIL", "value": "a@example.org", "primary": True}, "primary", "unknown key"),
    ],
)
async def test_a_bad_contact_point_is_refused_saying_what_to_write(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    body: dict[str, Any],
    field: str,
    hint: str,
) -> None:
    error = expect_error(
        await client.post(MINE, json=body, headers=admin_headers), 422, "VALIDATION_ERROR"
    )
    assert error["details"][0]["field"] == field
    assert error["error"].startswith(f"{field}: ")
    assert hint in error["error"]
    assert await listed(client, MINE, admin_headers) == []


async def test_a_phone_number_without_the_country_code_is_explained(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.post(
        MINE, json={"kind": "PHONE", "value": "8 (925) 507-06-02"}, headers=admin_headers
    )
    error = expect_error(response, 422, "VALIDATION_ERROR")
    assert error["error"] == (
        "value: '8 (925) 507-06-02' is not a phone number in international E.164 form: write + "
        "and the country code, then the number, 8-15 digits in all (e.g. +7 925 507-06-02)"
    )


@pytest.mark.parametrize(
    ("first", "again"),
    [
        (
            {"kind": "PHONE", "value": "+79255070602"},
            {"kind": "PHONE", "value": "+7 925 507-06-02"},
        ),
        ({"kind": "EMAIL", "value": "w@example.org"}, {"kind": "email", "value": "W@Example.org"}),
        ({"kind": "TELEGRAM", "value": "42"}, {"kind": "TELEGRAM", "value": " 42 ", "label": "x"}),
    ],
)
async def test_the_same_address_twice_is_a_conflict(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    first: dict[str, Any],
    again: dict[str, Any],
) -> None:
    created = await add(client, MINE, admin_headers, first)
    error = expect_error(
        await client.post(MINE, json=again, headers=admin_headers), 409, "CONFLICT"
    )
    assert created["value"] in error["error"]
    assert f"id {created['id']}" in error["error"]
    assert len(await listed(client, MINE, admin_headers)) == 1


async def test_the_accounts_own_address_is_not_added_again(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.post(
        MINE, json={"kind": "EMAIL", "value": "Admin@Example.org"}, headers=admin_headers
    )
    error = expect_error(response, 409, "CONFLICT")
    assert "already this account's e-mail address" in error["error"]


async def test_one_address_may_belong_to_two_users(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    # A shared duty phone or team chat is normal; each user lists it.
    other = await add_user(client, admin_headers, "duty", "member")
    for headers in (admin_headers, other):
        await add(client, MINE, headers, {"kind": "TELEGRAM", "value": "-100200300400"})


async def test_a_contact_point_is_deleted(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    kept = await add(client, MINE, admin_headers, {"kind": "TELEGRAM", "value": "42"})
    gone = await add(client, MINE, admin_headers, {"kind": "PHONE", "value": "+79255070602"})
    deleted = await client.delete(f"{MINE}/{gone['id']}", headers=admin_headers)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["success"] is True
    assert await listed(client, MINE, admin_headers) == [("TELEGRAM", "42", None)]
    again = await client.delete(f"{MINE}/{gone['id']}", headers=admin_headers)
    expect_error(again, 404, "NOT_FOUND")
    assert kept["id"] != gone["id"]


@pytest.mark.parametrize("contact_id", ["0", "-1", str(2**31), str(2**63)])
async def test_impossible_contact_ids_are_simply_not_found(
    client: httpx.AsyncClient, admin_headers: dict[str, str], contact_id: str
) -> None:
    expect_error(
        await client.delete(f"{MINE}/{contact_id}", headers=admin_headers), 404, "NOT_FOUND"
    )


async def test_another_users_contact_point_looks_missing(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    other = await add_user(client, admin_headers, "other", "admin")
    theirs = await add(client, MINE, other, {"kind": "TELEGRAM", "value": "42"})
    foreign = await client.delete(f"{MINE}/{theirs['id']}", headers=admin_headers)
    absent = await client.delete(f"{MINE}/{theirs['id'] + 100}", headers=admin_headers)
    expect_error(foreign, 404, "NOT_FOUND")
    assert without_noise(foreign, theirs["id"]) == without_noise(absent, theirs["id"] + 100)
    assert await listed(client, MINE, other) == [("TELEGRAM", "42", None)]
    assert await listed(client, MINE, admin_headers) == []


async def test_own_contact_points_need_a_login_not_an_api_key(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    _, key = await add_api_key(client, admin_headers, ["members:manage"])
    expect_error(await client.get(MINE, headers=key), 401, "UNAUTHORIZED")
    expect_error(await client.get(MINE), 401, "UNAUTHORIZED")
    body = {"kind": "TELEGRAM", "value": "42"}
    expect_error(await client.post(MINE, json=body), 401, "UNAUTHORIZED")


# --- an instance administrator managing users' contact points ---------------------------


async def test_an_instance_administrator_manages_a_users_contact_points(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    member = await add_user(client, admin_headers, "ivan", "member")
    path = of_user(await user_id(client, member))
    added = await add(
        client, path, admin_headers, {"kind": "PHONE", "value": "+7 925 507 06 02", "label": "duty"}
    )
    assert await listed(client, MINE, member) == [("PHONE", "+79255070602", "duty")]
    assert await listed(client, path, admin_headers) == [("PHONE", "+79255070602", "duty")]
    duplicate = await client.post(
        path, json={"kind": "PHONE", "value": "+79255070602"}, headers=admin_headers
    )
    expect_error(duplicate, 409, "CONFLICT")
    deleted = await client.delete(f"{path}/{added['id']}", headers=admin_headers)
    assert deleted.status_code == 200, deleted.text
    assert await listed(client, MINE, member) == []


async def test_an_api_key_with_members_manage_does_not_reach_contact_points(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    member = await add_user(client, admin_headers, "ivan", "member")
    path = of_user(await user_id(client, member))
    await add(client, MINE, member, {"kind": "TELEGRAM", "value": "42"})
    _, key = await add_api_key(client, admin_headers, ["members:manage"])
    for method, url, body in attempts_on(path):
        # A key is nobody's account: it is refused before any user is looked at.
        response = await client.request(method, url, json=body, headers=key)
        expect_error(response, 401, "UNAUTHORIZED")
    assert await listed(client, MINE, member) == [("TELEGRAM", "42", None)]


def attempts_on(path: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    """Read, add and delete on one user's contact points."""
    return [
        ("GET", path, None),
        ("POST", path, {"kind": "TELEGRAM", "value": "43"}),
        ("DELETE", f"{path}/1", None),
    ]


@pytest.mark.parametrize("role", ["viewer", "member", "admin", "owner"])
async def test_no_project_role_reaches_another_users_contact_points(
    client: httpx.AsyncClient, admin_headers: dict[str, str], role: str
) -> None:
    caller = await add_user(client, admin_headers, "caller", role)
    await add(client, MINE, admin_headers, {"kind": "TELEGRAM", "value": "42"})
    admin_id = await user_id(client, admin_headers)
    pairs = zip(attempts_on(of_user(admin_id)), attempts_on(of_user(admin_id + 100)), strict=True)
    for (method, url, body), (_, absent_url, _) in pairs:
        response = await client.request(method, url, json=body, headers=caller)
        absent = await client.request(method, absent_url, json=body, headers=caller)
        expect_error(response, 404, "USER_NOT_FOUND")
        assert without_noise(response, admin_id) == without_noise(absent, admin_id + 100)
    assert await listed(client, MINE, admin_headers) == [("TELEGRAM", "42", None)]


async def test_a_user_reaches_their_own_contact_points_by_id_too(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    ivan = await add_user(client, admin_headers, "ivan", "viewer")
    path = of_user(await user_id(client, ivan))
    await add(client, path, ivan, {"kind": "TELEGRAM", "value": "42"})
    assert await listed(client, MINE, ivan) == [("TELEGRAM", "42", None)]


async def test_an_instance_administrator_reaches_users_of_any_project(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    in_b = await project_b(client, admin_headers)
    bob = await add_user(client, in_b, "bob", "member")
    bob_id = await user_id(client, bob)
    await add(client, MINE, bob, {"kind": "TELEGRAM", "value": "42"})
    # Bob is not in the default project; his addresses are still his, not a project's.
    assert await listed(client, of_user(bob_id), admin_headers) == [("TELEGRAM", "42", None)]
    missing = await client.get(of_user(bob_id + 100), headers=admin_headers)
    expect_error(missing, 404, "USER_NOT_FOUND")


async def test_a_user_id_that_is_not_a_number_is_named_in_the_error(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.get("/api/v1/users/ivan/contact-points", headers=admin_headers)
    # Nothing can be found under an id that is not a number; the answer says which.
    error = expect_error(response, 404, "NOT_FOUND")
    assert error["details"][0]["field"] == "userId"
    response = await client.delete(f"{MINE}/first", headers=admin_headers)
    assert expect_error(response, 404, "NOT_FOUND")["details"][0]["field"] == "id"


async def test_one_users_contact_point_cannot_be_deleted_through_another(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    ivan = await add_user(client, admin_headers, "ivan", "member")
    olga = await add_user(client, admin_headers, "olga", "member")
    ivans = await add(client, MINE, ivan, {"kind": "TELEGRAM", "value": "42"})
    olga_path = of_user(await user_id(client, olga))
    response = await client.delete(f"{olga_path}/{ivans['id']}", headers=admin_headers)
    expect_error(response, 404, "NOT_FOUND")
    assert await listed(client, MINE, ivan) == [("TELEGRAM", "42", None)]


# --- find_people ------------------------------------------------------------------------


async def test_find_people_by_id_username_or_email_among_members(
    client: httpx.AsyncClient, admin_headers: dict[str, str], app: FastAPI
) -> None:
    ivan = await add_user(client, admin_headers, "Ivan", "member")
    ivan_id = await user_id(client, ivan)
    await add(client, MINE, ivan, {"kind": "PHONE", "value": "+79255070602"})
    await add(client, MINE, ivan, {"kind": "EMAIL", "value": "ivan.home@example.org"})
    await add(client, MINE, ivan, {"kind": "TELEGRAM", "value": "42"})
    in_b = await project_b(client, admin_headers)
    await add_user(client, in_b, "bob", "member")
    a_id, _ = await project_ids(client, admin_headers)
    refs = [str(ivan_id), "ivan", "IVAN@example.ORG", " Ivan ", "bob", "nobody", "", "4242"]
    state: AppState = app.state.nabat
    async with state.sessions() as session:
        found = await find_people(session, a_id, refs)
    ivan_person = Person(
        id=ivan_id,
        username="Ivan",
        email="ivan@example.org",
        display_name="Ivan",
        contacts={
            "EMAIL": ("ivan@example.org", "ivan.home@example.org"),
            "PHONE": ("+79255070602",),
            "TELEGRAM": ("42",),
        },
    )
    assert found == {
        str(ivan_id): ivan_person,
        "ivan": ivan_person,
        "IVAN@example.ORG": ivan_person,
        " Ivan ": ivan_person,
    }


async def test_find_people_runs_the_same_two_queries_for_any_number_of_refs(
    client: httpx.AsyncClient, admin_headers: dict[str, str], app: FastAPI
) -> None:
    names = [f"user{n}" for n in range(6)]
    for name in names:
        await add_user(client, admin_headers, name, "member")
    a_id, *_ = await project_ids(client, admin_headers)
    state: AppState = app.state.nabat
    counts = []
    for refs in (names[:1], names, [f"{name}@example.org" for name in names] + ["admin"]):
        async with state.sessions() as session:
            with counted_queries(state) as statements:
                found = await find_people(session, a_id, refs)
        assert set(found) == set(refs)
        counts.append(len(statements))
    assert counts == [2, 2, 2]
    async with state.sessions() as session:
        with counted_queries(state) as statements:
            assert await find_people(session, a_id, ["nobody", " "]) == {}
            assert await find_people(session, a_id, []) == {}
    assert len(statements) == 1


async def new_member(client: httpx.AsyncClient, admin_headers: dict[str, str], name: str) -> int:
    """Create a user without a password, make them a member, return their id."""
    created = await client.post(
        "/api/v1/users",
        json={"username": name, "email": f"{name}@example.org"},
        headers=admin_headers,
    )
    assert created.status_code == 201, created.text
    member = await client.put(
        "/api/v1/members", json={"user": name, "role": "member"}, headers=admin_headers
    )
    assert member.status_code == 200, member.text
    new_id: int = created.json()["id"]
    return new_id


async def test_a_ref_of_digits_is_an_id_first_then_a_username(
    client: httpx.AsyncClient, admin_headers: dict[str, str], app: FastAPI
) -> None:
    # Usernames have at least two characters: make members until one has a two-digit id.
    filler_id = 0
    while filler_id < 10:
        filler_id = await new_member(client, admin_headers, f"filler{filler_id}")
    await new_member(client, admin_headers, str(filler_id))
    named_99 = await new_member(client, admin_headers, "99")
    a_id, *_ = await project_ids(client, admin_headers)
    state: AppState = app.state.nabat
    async with state.sessions() as session:
        found = await find_people(session, a_id, [str(filler_id), "99"])
    assert found[str(filler_id)].id == filler_id
    assert found["99"].id == named_99
    assert found["99"].username == "99"


async def test_a_deactivated_account_is_not_found(
    client: httpx.AsyncClient, admin_headers: dict[str, str], app: FastAPI
) -> None:
    await new_member(client, admin_headers, "gone")
    a_id, *_ = await project_ids(client, admin_headers)
    state: AppState = app.state.nabat
    async with state.sessions() as session:
        await session.execute(update(User).where(User.username == "gone").values(is_active=False))
        await session.commit()
        found = await find_people(session, a_id, ["gone", "gone@example.org", "admin"])
    assert list(found) == ["admin"]
