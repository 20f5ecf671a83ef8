"""``/api/v1/silences``: windows, states, expiry that keeps the record, isolation, roles,
and the active silences ingest reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from nabat.models.account import Project
from nabat.services.silences import ActiveSilence, active_silences
from nabat.state import AppState
from tests.support.errors import expect_error
from tests.test_isolation import add_api_key, add_user, without_noise

SILENCES = "/api/v1/silences"
PROD = [{"name": "env", "op": "=", "value": "prod"}]


# Minutes in a day. Parameters are made when the module is collected, which may be many
# minutes before a long run reaches the test: their moments keep days of margin.
DAY = 24 * 60


def at(minutes: float) -> str:
    """A moment ``minutes`` from now, as a client writes it."""
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def parse(stamp: str) -> datetime:
    """A timestamp from an answer."""
    return datetime.fromisoformat(stamp)


async def create_silence(
    client: httpx.AsyncClient, headers: dict[str, str], **body: Any
) -> dict[str, Any]:
    """Create a silence (for an hour from now on prod by default); return the answer."""
    body = {"matchers": PROD, "endsAt": at(60), "comment": "maintenance", **body}
    response = await client.post(SILENCES, json=body, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def in_force(app: FastAPI, when: datetime | None = None) -> list[ActiveSilence]:
    """What ingest would read for the default project at ``when`` (default now)."""
    state: AppState = app.state.nabat
    async with state.sessions() as session:
        project_id = await session.scalar(select(Project.id).where(Project.slug == "default"))
        assert project_id is not None
        return await active_silences(session, project_id, when or datetime.now(UTC))


# --- create and read ------------------------------------------------------------------


async def test_a_silence_starts_now_by_default_and_is_active(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    before = datetime.now(UTC)
    created = await create_silence(client, admin_headers)
    assert created["matchers"] == PROD
    assert created["status"] == {"state": "active"}
    assert created["author"] == "admin"
    assert created["comment"] == "maintenance"
    assert before <= parse(created["startsAt"]) <= datetime.now(UTC)
    fetched = await client.get(f"{SILENCES}/{created['id']}", headers=admin_headers)
    assert fetched.json() == created


async def test_alertmanagers_matcher_form_and_an_explicit_author_are_accepted(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    created = await create_silence(
        client,
        admin_headers,
        matchers=[
            {"name": "instance", "value": "db[0-9]+", "isRegex": True, "isEqual": True},
            {"name": "severity", "value": "INFO", "isRegex": False, "isEqual": False},
        ],
        author="night shift",
    )
    assert created["matchers"] == [
        {"name": "instance", "op": "=~", "value": "db[0-9]+"},
        {"name": "severity", "op": "!=", "value": "INFO"},
    ]
    assert created["author"] == "night shift"


async def test_times_are_stored_and_answered_in_utc(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    created = await create_silence(client, admin_headers, endsAt="2099-01-01T03:00:00+03:00")
    assert created["endsAt"] == "2099-01-01T00:00:00Z"
    fetched = await client.get(f"{SILENCES}/{created['id']}", headers=admin_headers)
    assert fetched.json()["endsAt"] == "2099-01-01T00:00:00Z"


async def test_an_api_key_is_the_author_of_what_it_silences(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    key_id, key = await add_api_key(client, admin_headers, ["silences:write"])
    assert (await create_silence(client, key))["author"] == f"api-key:{key_id}"


async def test_silences_are_listed_with_their_state_and_filtered_by_it(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    active = await create_silence(client, admin_headers)
    pending = await create_silence(client, admin_headers, startsAt=at(30), endsAt=at(90))
    expired = await create_silence(client, admin_headers)
    await client.delete(f"{SILENCES}/{expired['id']}", headers=admin_headers)

    listed = (await client.get(SILENCES, headers=admin_headers)).json()
    assert [(s["id"], s["status"]["state"]) for s in listed] == [
        (active["id"], "active"),
        (pending["id"], "pending"),
        (expired["id"], "expired"),
    ]
    for state, silence in [("active", active), ("pending", pending), ("expired", expired)]:
        only = await client.get(SILENCES, params={"state": state}, headers=admin_headers)
        assert [s["id"] for s in only.json()] == [silence["id"]]


async def test_an_unknown_state_filter_is_refused_with_the_choices(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.get(SILENCES, params={"state": "muted"}, headers=admin_headers)
    body = expect_error(response, 422, "VALIDATION_ERROR")
    assert body["details"][0]["field"] == "state"
    assert "active" in body["error"]
    assert "expired" in body["error"]


# --- validation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"matchers": []}, "matchers", "at least one matcher"),
        (
            {"matchers": [{"name": "env", "op": "=~", "value": ".*"}]},
            "matchers",
            "hold for every event",
        ),
        (
            {"matchers": [{"name": "env", "op": "=~", "value": "(prod"}]},
            "matchers[0].value",
            "is not a valid regular expression",
        ),
        ({"matchers": [{"op": "=", "value": "x"}]}, "matchers[0].name", "give the field"),
        ({"startsAt": at(3 * DAY), "endsAt": at(2 * DAY)}, "endsAt", "must be after startsAt"),
        ({"startsAt": at(-30), "endsAt": at(-10)}, "endsAt", "is not in the future"),
        ({"endsAt": "2030-01-01T00:00:00"}, "endsAt", "timezone"),
        ({"comment": "  "}, "comment", "a comment saying why"),
        ({"until": at(2 * DAY)}, "until", ""),
    ],
)
async def test_invalid_silences_are_refused_naming_the_field(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    change: dict[str, Any],
    field: str,
    words: str,
) -> None:
    body = {"matchers": PROD, "endsAt": at(60), "comment": "maintenance", **change}
    response = await client.post(SILENCES, json=body, headers=admin_headers)
    refused = expect_error(response, 422, "VALIDATION_ERROR")
    assert refused["details"][0]["field"] == field
    assert words in refused["error"]
    assert (await client.get(SILENCES, headers=admin_headers)).json() == []


async def test_a_matcher_may_name_any_label_or_event_field(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    matchers = [
        {"name": "type", "op": "=~", "value": "service\\..*"},
        {"name": "channelType", "op": "=", "value": "EMAIL"},
        {"name": "rack", "op": "!=", "value": "r1"},
    ]
    assert (await create_silence(client, admin_headers, matchers=matchers))["matchers"] == matchers


# --- update and expiry ----------------------------------------------------------------


async def test_an_update_changes_what_it_names(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    created = await create_silence(client, admin_headers)
    ends = at(240)
    response = await client.put(
        f"{SILENCES}/{created['id']}",
        json={**created, "endsAt": ends, "comment": "longer maintenance"},
        headers=admin_headers,
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert parse(updated["endsAt"]) == parse(ends)
    assert updated["comment"] == "longer maintenance"
    assert updated["matchers"] == created["matchers"]
    assert updated["startsAt"] == created["startsAt"]


async def test_an_update_cannot_end_a_silence_in_the_past_or_before_it_starts(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    created = await create_silence(client, admin_headers)
    path = f"{SILENCES}/{created['id']}"
    past = await client.put(path, json={"endsAt": at(-1)}, headers=admin_headers)
    assert "DELETE it" in expect_error(past, 422, "VALIDATION_ERROR")["error"]
    late_start = await client.put(path, json={"startsAt": at(120)}, headers=admin_headers)
    body = expect_error(late_start, 422, "VALIDATION_ERROR")
    assert body["details"][0]["field"] == "endsAt"
    assert (await client.get(path, headers=admin_headers)).json() == created


async def test_delete_expires_the_silence_and_keeps_its_record(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    created = await create_silence(client, admin_headers)
    path = f"{SILENCES}/{created['id']}"
    expired = await client.delete(path, headers=admin_headers)
    assert expired.status_code == 200, expired.text
    body = expired.json()
    assert body["status"] == {"state": "expired"}
    assert parse(created["startsAt"]) <= parse(body["endsAt"]) <= datetime.now(UTC)
    assert body["matchers"] == created["matchers"]

    again = await client.delete(path, headers=admin_headers)
    assert again.status_code == 200
    assert again.json() == body
    assert (await client.get(path, headers=admin_headers)).json() == body

    changed = await client.put(path, json={"comment": "revived"}, headers=admin_headers)
    assert "create a new silence" in expect_error(changed, 409, "CONFLICT")["error"]


async def test_a_pending_silence_deleted_never_takes_effect(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    pending = await create_silence(client, admin_headers, startsAt=at(30), endsAt=at(90))
    expired = (await client.delete(f"{SILENCES}/{pending['id']}", headers=admin_headers)).json()
    assert expired["status"] == {"state": "expired"}
    assert expired["startsAt"] == expired["endsAt"]
    assert await in_force(app, parse(pending["startsAt"]) + timedelta(minutes=1)) == []


# --- isolation and roles ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "body"), [("GET", None), ("PUT", {"comment": "mine now"}), ("DELETE", None)]
)
async def test_another_projects_silence_looks_exactly_like_a_missing_one(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    method: str,
    body: dict[str, Any] | None,
) -> None:
    created = await create_silence(client, admin_headers)
    project = await client.post(
        "/api/v1/projects", json={"name": "Project B", "slug": "project-b"}, headers=admin_headers
    )
    assert project.status_code == 201, project.text
    b_owner = await add_user(
        client, {**admin_headers, "X-Nabat-Project": "project-b"}, "bob", "owner"
    )
    silence_id = created["id"]

    foreign = await client.request(method, f"{SILENCES}/{silence_id}", json=body, headers=b_owner)
    absent = await client.request(
        method, f"{SILENCES}/{silence_id + 1000}", json=body, headers=b_owner
    )
    expect_error(foreign, 404, "NOT_FOUND")
    assert without_noise(foreign, silence_id) == without_noise(absent, silence_id + 1000)
    assert (await client.get(SILENCES, headers=b_owner)).json() == []
    seen = await client.get(f"{SILENCES}/{silence_id}", headers=admin_headers)
    assert seen.json() == created


async def test_viewers_read_silences_and_members_also_write_them(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    viewer = await add_user(client, admin_headers, "vera", "viewer")
    member = await add_user(client, admin_headers, "mike", "member")
    created = await create_silence(client, member)
    assert created["author"] == "mike"

    assert (await client.get(SILENCES, headers=viewer)).json() == [created]
    path = f"{SILENCES}/{created['id']}"
    for method, url, body in [
        ("POST", SILENCES, {"matchers": PROD, "endsAt": at(60), "comment": "x"}),
        ("PUT", path, {"comment": "x"}),
        ("DELETE", path, None),
    ]:
        response = await client.request(method, url, json=body, headers=viewer)
        assert "silences:write" in expect_error(response, 403, "FORBIDDEN")["error"]
    assert (await client.delete(path, headers=member)).status_code == 200


# --- what ingest reads ------------------------------------------------------------------


async def test_active_silences_follow_the_window_and_every_change_at_once(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    now = await create_silence(client, admin_headers)
    later = await create_silence(
        client,
        admin_headers,
        matchers=[{"name": "type", "op": "=~", "value": "deadline\\..*"}],
        startsAt=at(30),
        endsAt=at(90),
    )
    [active] = await in_force(app)
    assert active.id == now["id"]
    assert [m.to_json() for m in active.matchers] == PROD

    # Read from the cache loaded above, judged by the moment asked about.
    in_an_hour = datetime.now(UTC) + timedelta(minutes=61)
    assert [s.id for s in await in_force(app, in_an_hour)] == [later["id"]]
    assert await in_force(app, datetime.now(UTC) + timedelta(minutes=91)) == []

    await client.delete(f"{SILENCES}/{now['id']}", headers=admin_headers)
    assert await in_force(app) == []
    fresh = await create_silence(client, admin_headers)
    assert [s.id for s in await in_force(app)] == [fresh["id"]]
