"""``/api/v1/rules``: CRUD, validation against the project's channels and templates,
isolation, roles, and the compiled rules ingest reads."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from nabat.db.engine import create_engine, create_sessionmaker
from nabat.models.account import Project
from nabat.models.routing import Rule
from nabat.models.template import Template
from nabat.routing.rules import CompiledRule
from nabat.services.routing_cache import ProjectCache
from nabat.services.rules import active_rules, load_rules
from nabat.state import AppState
from tests.conftest import Backend
from tests.support.errors import expect_error
from tests.test_isolation import add_api_key, add_user, create_channel, without_noise

RULES = "/api/v1/rules"


def rule_body(channel_id: int, **extra: Any) -> dict[str, Any]:
    """A valid rule sending database outages to ``channel_id``."""
    return {
        "name": "database down",
        "match": {"types": ["service.*"], "labels": {"team": "db"}},
        "actions": [{"channelId": channel_id, "recipients": ["alice"]}],
        **extra,
    }


async def create_rule(client: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> Any:
    """Create a rule and return what the API answered."""
    response = await client.post(RULES, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def state_of(app: FastAPI) -> AppState:
    """The running app's state (its sessions and clock)."""
    state: AppState = app.state.nabat
    return state


async def add_template(app: FastAPI, slug: str, kind: str, name: str) -> int:
    """Store a template of ``kind`` in project ``slug`` (templates have their own API)."""
    now = datetime.now(UTC)
    async with state_of(app).sessions() as session:
        project = await session.scalar(select(Project).where(Project.slug == slug))
        assert project is not None
        row = Template(
            project_id=project.id,
            name=name,
            type_key=None,
            channel_kind=kind,
            language=None,
            subject="Alarm on the line" if kind == "email" else None,
            text="Pressure above the limit: {{ event.message }}",
            html=None,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        await session.commit()
        return row.id


async def project_id_of(app: FastAPI, slug: str = "default") -> int:
    """The id of project ``slug``."""
    async with state_of(app).sessions() as session:
        project_id = await session.scalar(select(Project.id).where(Project.slug == slug))
    assert project_id is not None
    return project_id


async def compiled(app: FastAPI, slug: str = "default") -> list[CompiledRule]:
    """What ingest would read for project ``slug`` now: ``active_rules`` in a new session."""
    project_id = await project_id_of(app, slug)
    async with state_of(app).sessions() as session:
        return await active_rules(session, project_id)


async def email_channel(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    """An EMAIL channel in the caller's project."""
    response = await client.post(
        "/api/v1/notifications/channels",
        json={
            "name": "Ops mail",
            "type": "EMAIL",
            "configuration": {"smtpHost": "smtp.example.org", "smtpPort": 587},
        },
        headers=headers,
    )
    assert response.status_code == 201, response.text
    channel_id: int = response.json()["id"]
    return channel_id


# --- create, read, update, delete -------------------------------------------------------


async def test_a_created_rule_is_answered_in_its_normalised_form(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    channel = await create_channel(client, admin_headers, "alerts")
    body = {
        "name": "  critical prod  ",
        "match": {
            "types": "service.down",
            "severities": ["critical"],
            "labels": {"env": "prod"},
            "source": "uptime",
        },
        "actions": [{"channelId": channel, "recipients": "alice"}],
        "throttle": {"repeatIntervalSeconds": "600", "groupBy": ["source"]},
    }
    created = await create_rule(client, admin_headers, **body)
    assert created["name"] == "critical prod"
    assert created["position"] == 1
    assert created["enabled"] is True
    assert created["continue"] is False
    assert created["match"] == {
        "types": ["service.down"],
        "severities": ["CRITICAL"],
        "labels": [{"name": "env", "op": "=", "value": "prod"}],
        "source": [{"name": "source", "op": "=", "value": "uptime"}],
    }
    assert created["actions"] == [
        {
            "channelId": channel,
            "recipients": ["alice"],
            "templateId": None,
            "fallbackChannelIds": [],
        }
    ]
    assert created["throttle"] == {"repeatIntervalSeconds": 600, "groupBy": ["source"]}
    assert created["createdAt"] == created["updatedAt"]

    fetched = await client.get(f"{RULES}/{created['id']}", headers=admin_headers)
    assert fetched.status_code == 200
    assert fetched.json() == created


async def test_rules_are_listed_by_position_then_id_and_new_ones_go_last(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    channel = await create_channel(client, admin_headers, "alerts")
    late = await create_rule(client, admin_headers, **rule_body(channel, name="late", position=5))
    first = await create_rule(client, admin_headers, **rule_body(channel, name="first", position=0))
    tie = await create_rule(client, admin_headers, **rule_body(channel, name="tie", position=5))
    appended = await create_rule(client, admin_headers, **rule_body(channel, name="appended"))
    assert appended["position"] == 6

    listed = await client.get(RULES, headers=admin_headers)
    assert listed.status_code == 200
    assert [r["id"] for r in listed.json()] == [first["id"], late["id"], tie["id"], appended["id"]]


async def test_an_update_changes_only_what_it_names(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    channel = await create_channel(client, admin_headers, "alerts")
    throttle = {"repeatIntervalSeconds": 60, "groupBy": []}
    created = await create_rule(client, admin_headers, **rule_body(channel, throttle=throttle))

    renamed = await client.put(
        f"{RULES}/{created['id']}",
        json={"name": "renamed", "continue": True},
        headers=admin_headers,
    )
    assert renamed.status_code == 200, renamed.text
    after = renamed.json()
    assert after["name"] == "renamed"
    assert after["continue"] is True
    unchanged = ("match", "actions", "throttle", "position", "enabled", "createdAt")
    assert {key: after[key] for key in unchanged} == {key: created[key] for key in unchanged}

    unthrottled = await client.put(
        f"{RULES}/{created['id']}", json={"throttle": None}, headers=admin_headers
    )
    assert unthrottled.json()["throttle"] is None
    assert unthrottled.json()["name"] == "renamed"


async def test_what_was_read_can_be_sent_back_unchanged(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    channel = await create_channel(client, admin_headers, "alerts")
    created = await create_rule(
        client, admin_headers, **rule_body(channel, match={"source": {"op": "=~", "value": "up.*"}})
    )
    again = await client.put(f"{RULES}/{created['id']}", json=created, headers=admin_headers)
    assert again.status_code == 200, again.text
    assert {k: v for k, v in again.json().items() if k != "updatedAt"} == {
        k: v for k, v in created.items() if k != "updatedAt"
    }


async def test_a_deleted_rule_is_gone(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    channel = await create_channel(client, admin_headers, "alerts")
    created = await create_rule(client, admin_headers, **rule_body(channel))
    deleted = await client.delete(f"{RULES}/{created['id']}", headers=admin_headers)
    assert deleted.status_code == 200
    assert deleted.json()["success"] is True
    body = expect_error(
        await client.get(f"{RULES}/{created['id']}", headers=admin_headers), 404, "NOT_FOUND"
    )
    assert "GET /api/v1/rules" in body["error"]
    assert (await client.get(RULES, headers=admin_headers)).json() == []


# --- validation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (
            {"match": {"labels": [{"name": "env", "op": "=~", "value": "prod(["}]}},
            "match.labels[0].value",
            "is not a valid regular expression",
        ),
        ({"match": {"severities": ["fatal"]}}, "match.severities[0]", "INFO, WARNING"),
        ({"match": {"kinds": ["x"]}}, "match", "unknown keys ['kinds']"),
        ({"actions": []}, "actions", "give at least one action"),
        ({"throttle": {"repeatIntervalSeconds": 0}}, "throttle.repeatIntervalSeconds", "between"),
        ({"name": "   "}, "name", "give the rule a name"),
        ({"position": -1}, "position", "greater than or equal to 0"),
        ({"stop": True}, "stop", ""),
    ],
)
async def test_invalid_rules_are_refused_naming_the_field(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    change: dict[str, Any],
    field: str,
    words: str,
) -> None:
    channel = await create_channel(client, admin_headers, "alerts")
    response = await client.post(
        RULES, json={**rule_body(channel), **change}, headers=admin_headers
    )
    body = expect_error(response, 422, "VALIDATION_ERROR")
    assert body["details"][0]["field"] == field
    assert words in body["error"]
    assert (await client.get(RULES, headers=admin_headers)).json() == []


async def test_an_unknown_channel_is_refused_listing_the_projects_channels(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    channel = await create_channel(client, admin_headers, "alerts")
    body = rule_body(channel)
    body["actions"] = [{"channelId": channel}, {"channelId": channel + 100}]
    refused = expect_error(
        await client.post(RULES, json=body, headers=admin_headers), 422, "VALIDATION_ERROR"
    )
    assert refused["details"][0]["field"] == "actions[1].channelId"
    assert f"channel {channel + 100} is not a channel of this project" in refused["error"]
    # Besides the in-app channel every project has.
    assert "its channels are " in refused["error"]
    assert f"{channel} (alerts, SLACK)" in refused["error"]


async def test_a_project_with_only_its_in_app_channel_is_told_which_it_has(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    [inapp] = (await client.get("/api/v1/notifications/channels", headers=admin_headers)).json()
    refused = expect_error(
        await client.post(RULES, json=rule_body(inapp["id"] + 1), headers=admin_headers),
        422,
        "VALIDATION_ERROR",
    )
    assert f"its channels are {inapp['id']} ({inapp['name']}, INAPP)" in refused["error"]


async def test_an_update_naming_an_unknown_channel_leaves_the_rule_alone(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    channel = await create_channel(client, admin_headers, "alerts")
    created = await create_rule(client, admin_headers, **rule_body(channel))
    refused = await client.put(
        f"{RULES}/{created['id']}",
        json={"name": "moved", "actions": [{"channelId": channel + 1}]},
        headers=admin_headers,
    )
    assert expect_error(refused, 422, "VALIDATION_ERROR")["details"][0]["field"] == (
        "actions[0].channelId"
    )
    assert (await client.get(f"{RULES}/{created['id']}", headers=admin_headers)).json() == created


async def test_templates_must_be_the_projects_and_suit_the_channel(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    mail = await email_channel(client, admin_headers)
    mail_template = await add_template(app, "default", "email", "Alarm mail")
    chat_template = await add_template(app, "default", "chat", "Alarm chat")

    def body(template_id: int) -> dict[str, Any]:
        return rule_body(mail, actions=[{"channelId": mail, "templateId": template_id}])

    wrong_kind = expect_error(
        await client.post(RULES, json=body(chat_template), headers=admin_headers),
        422,
        "VALIDATION_ERROR",
    )
    assert wrong_kind["details"][0]["field"] == "actions[0].templateId"
    assert "written for chat channels" in wrong_kind["error"]
    assert "choose a template written for email channels" in wrong_kind["error"]

    unknown = expect_error(
        await client.post(RULES, json=body(chat_template + 50), headers=admin_headers),
        422,
        "VALIDATION_ERROR",
    )
    assert unknown["details"][0]["field"] == "actions[0].templateId"
    assert f"its email templates are {mail_template} (Alarm mail)" in unknown["error"]

    created = await create_rule(client, admin_headers, **body(mail_template))
    assert created["actions"][0]["templateId"] == mail_template


async def test_seed_001_send_email_command_is_a_rule_with_fixed_addresses_and_wording(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    mail = await email_channel(client, admin_headers)
    wording = await add_template(app, "default", "email", "Pressure alarm")
    created = await create_rule(
        client,
        admin_headers,
        name="automaton: pressure alarm",
        match={"types": ["alarm.raised"], "source": "boiler-automaton"},
        actions=[
            {
                "channelId": mail,
                "recipients": ["chief@plant.example", "duty@plant.example"],
                "templateId": wording,
            }
        ],
    )
    [rule] = await compiled(app)
    assert rule.id == created["id"]
    [action] = rule.actions
    assert action.recipients == ("chief@plant.example", "duty@plant.example")
    assert action.template_id == wording


# --- isolation and roles ----------------------------------------------------------------


@pytest.fixture
async def project_b(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> dict[str, str]:
    """Project B with its owner logged in; the owner's headers."""
    project = await client.post(
        "/api/v1/projects", json={"name": "Project B", "slug": "project-b"}, headers=admin_headers
    )
    assert project.status_code == 201, project.text
    return await add_user(client, {**admin_headers, "X-Nabat-Project": "project-b"}, "bob", "owner")


@pytest.mark.parametrize(
    ("method", "body"), [("GET", None), ("PUT", {"enabled": False}), ("DELETE", None)]
)
async def test_another_projects_rule_looks_exactly_like_a_missing_one(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    project_b: dict[str, str],
    method: str,
    body: dict[str, Any] | None,
) -> None:
    channel = await create_channel(client, admin_headers, "A alerts")
    a_rule = (await create_rule(client, admin_headers, **rule_body(channel)))["id"]
    missing = a_rule + 1000

    foreign = await client.request(method, f"{RULES}/{a_rule}", json=body, headers=project_b)
    absent = await client.request(method, f"{RULES}/{missing}", json=body, headers=project_b)
    expect_error(foreign, 404, "NOT_FOUND")
    assert without_noise(foreign, a_rule) == without_noise(absent, missing)
    assert (await client.get(RULES, headers=project_b)).json() == []
    seen = await client.get(f"{RULES}/{a_rule}", headers=admin_headers)
    assert seen.json()["enabled"] is True


async def test_another_projects_channel_and_template_cannot_be_named(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    project_b: dict[str, str],
) -> None:
    a_channel = await create_channel(client, admin_headers, "A alerts")
    a_template = await add_template(app, "default", "chat", "A wording")
    b_channel = await create_channel(client, project_b, "B alerts")

    stolen_channel = await client.post(RULES, json=rule_body(a_channel), headers=project_b)
    refused = expect_error(stolen_channel, 422, "VALIDATION_ERROR")
    assert refused["details"][0]["field"] == "actions[0].channelId"
    assert f"{b_channel} (B alerts, SLACK)" in refused["error"]
    assert "A alerts" not in refused["error"]

    stolen_template = await client.post(
        RULES,
        json=rule_body(b_channel, actions=[{"channelId": b_channel, "templateId": a_template}]),
        headers=project_b,
    )
    refused = expect_error(stolen_template, 422, "VALIDATION_ERROR")
    assert refused["details"][0]["field"] == "actions[0].templateId"
    assert "A wording" not in refused["error"]


@pytest.mark.parametrize("role", ["viewer", "member"])
async def test_viewers_and_members_read_rules_but_cannot_write_them(
    client: httpx.AsyncClient, admin_headers: dict[str, str], role: str
) -> None:
    channel = await create_channel(client, admin_headers, "alerts")
    created = await create_rule(client, admin_headers, **rule_body(channel))
    headers = await add_user(client, admin_headers, "carol", role)

    assert (await client.get(RULES, headers=headers)).json() == [created]
    for method, path, body in [
        ("POST", RULES, rule_body(channel)),
        ("PUT", f"{RULES}/{created['id']}", {"enabled": False}),
        ("DELETE", f"{RULES}/{created['id']}", None),
    ]:
        response = await client.request(method, path, json=body, headers=headers)
        assert "routing:write" in expect_error(response, 403, "FORBIDDEN")["error"]
    assert (await client.get(RULES, headers=admin_headers)).json() == [created]


async def test_an_api_key_needs_routing_scopes(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    channel = await create_channel(client, admin_headers, "alerts")
    _, reader = await add_api_key(client, admin_headers, ["routing:read"])
    _, writer = await add_api_key(client, admin_headers, ["routing:write"])
    _, neither = await add_api_key(client, admin_headers, None)

    created = await create_rule(client, writer, **rule_body(channel))
    assert (await client.get(RULES, headers=reader)).json() == [created]
    expect_error(
        await client.post(RULES, json=rule_body(channel), headers=reader), 403, "FORBIDDEN"
    )
    expect_error(await client.get(RULES, headers=neither), 403, "FORBIDDEN")


# --- what ingest reads ------------------------------------------------------------------


async def test_active_rules_are_the_enabled_ones_in_order_and_see_every_change_at_once(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    channel = await create_channel(client, admin_headers, "alerts")
    second = await create_rule(client, admin_headers, **rule_body(channel, name="second"))
    first = await create_rule(client, admin_headers, **rule_body(channel, name="first", position=0))
    off = await create_rule(client, admin_headers, **rule_body(channel, enabled=False))
    assert [r.id for r in await compiled(app)] == [first["id"], second["id"]]
    # Asked again at once: the same, from the cache.
    assert [r.id for r in await compiled(app)] == [first["id"], second["id"]]

    await client.put(
        f"{RULES}/{second['id']}",
        json={"match": {"types": ["deadline.*"]}, "position": 0},
        headers=admin_headers,
    )
    [updated, unchanged] = await compiled(app)
    assert updated.id == second["id"]
    assert updated.types == ("deadline.*",)
    assert unchanged.id == first["id"]

    await client.put(f"{RULES}/{off['id']}", json={"enabled": True}, headers=admin_headers)
    await client.delete(f"{RULES}/{first['id']}", headers=admin_headers)
    assert [r.id for r in await compiled(app)] == [second["id"], off["id"]]


async def test_rules_are_cached_per_project(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    project_b: dict[str, str],
) -> None:
    a_channel = await create_channel(client, admin_headers, "A alerts")
    b_channel = await create_channel(client, project_b, "B alerts")
    a_rule = await create_rule(client, admin_headers, **rule_body(a_channel))
    b_rule = await create_rule(client, project_b, **rule_body(b_channel))
    assert [r.id for r in await compiled(app)] == [a_rule["id"]]
    assert [r.id for r in await compiled(app, "project-b")] == [b_rule["id"]]


async def test_a_change_by_another_process_is_seen_once_the_cache_expires(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str], backend: Backend
) -> None:
    channel = await create_channel(client, admin_headers, "alerts")
    await create_rule(client, admin_headers, **rule_body(channel))
    project_id = await project_id_of(app)
    ticks = [100.0]
    cache: ProjectCache[tuple[CompiledRule, ...]] = ProjectCache(
        ttl=1.0, monotonic=lambda: ticks[0]
    )
    # Another process: its own engine on the same database, writing without this cache.
    other = create_engine(backend.url)
    try:
        async with state_of(app).sessions() as session:

            async def read() -> list[str]:
                rules = await cache.get(
                    session, project_id, lambda: load_rules(session, project_id)
                )
                await session.rollback()
                return [rule.name for rule in rules]

            assert await read() == ["database down"]
            async with create_sessionmaker(other)() as elsewhere:
                await elsewhere.execute(update(Rule).values(name="renamed elsewhere"))
                await elsewhere.commit()
            ticks[0] += 0.5
            assert await read() == ["database down"]
            ticks[0] += 0.6
            assert await read() == ["renamed elsewhere"]
    finally:
        await other.dispose()


async def test_concurrent_misses_share_one_load(app: FastAPI) -> None:
    # A burst arriving as an entry expires must not become one load (one pooled
    # connection) per request: the misses wait for the first one's load.
    ticks = [100.0]
    cache: ProjectCache[int] = ProjectCache(ttl=1.0, monotonic=lambda: ticks[0])
    loads = 0
    release = asyncio.Event()

    async def load() -> int:
        nonlocal loads
        loads += 1
        await release.wait()
        return loads

    async with state_of(app).sessions() as session:
        readers = [asyncio.create_task(cache.get(session, 1, load)) for _ in range(50)]
        await asyncio.sleep(0.01)
        release.set()
        assert await asyncio.gather(*readers) == [1] * 50
        ticks[0] += 1.1
        assert await cache.get(session, 1, load) == 2
    assert loads == 2
