"""``/api/v1/templates``: CRUD checked at save, defaults, previews, projects and roles."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from nabat.models.template import ProjectSettings
from nabat.state import AppState
from tests.conftest import login
from tests.support.errors import expect_error

TEMPLATES = "/api/v1/templates"
PASSWORD = "a long enough password"

CHAT = {
    "name": "Short outage note",
    "channelKind": "chat",
    "type": "service.down",
    "text": "{{ event.source.name }} is down: {{ event.message }}",
}
EMAIL = {
    "channelKind": "email",
    "type": "service.down",
    "language": "en",
    "subject": "DOWN: {{ event.source.name }}",
    "text": "{{ event.message }}",
    "html": "<p>{{ event.message }}</p>",
}


async def create(client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any]) -> int:
    """Create a template and return its id."""
    response = await client.post(TEMPLATES, json=body, headers=headers)
    assert response.status_code == 201, response.text
    template_id: int = response.json()["id"]
    return template_id


async def add_user(
    client: httpx.AsyncClient, admin_headers: dict[str, str], username: str, role: str
) -> dict[str, str]:
    """A user with ``role`` in the project ``admin_headers`` select, logged in."""
    created = await client.post(
        "/api/v1/users",
        json={"username": username, "email": f"{username}@example.org", "password": PASSWORD},
        headers=admin_headers,
    )
    assert created.status_code == 201, created.text
    member = await client.put(
        "/api/v1/members", json={"user": username, "role": role}, headers=admin_headers
    )
    assert member.status_code == 200, member.text
    return await login(client, username, PASSWORD)


async def default_project_id(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    """The id of the project the first admin starts in."""
    projects = await client.get("/api/v1/projects", headers=headers)
    project_id: int = next(p["id"] for p in projects.json() if p["slug"] == "default")
    return project_id


async def save_settings(app: FastAPI, project_id: int, language: str, signature: str) -> None:
    """Store a project's message settings as the settings API would."""
    state: AppState = app.state.nabat
    async with state.sessions() as session:
        session.add(
            ProjectSettings(
                project_id=project_id,
                language=language,
                signature=signature,
                updated_at=state.clock.now(),
            )
        )
        await session.commit()


# --- CRUD --------------------------------------------------------------------------------


async def test_a_template_is_created_read_changed_and_deleted(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    created = await client.post(TEMPLATES, json=CHAT, headers=admin_headers)
    assert created.status_code == 201, created.text
    body = created.json()
    template_id = body["id"]
    assert body["name"] == "Short outage note"
    assert body["channelKind"] == "chat"
    assert body["type"] == "service.down"
    assert body["language"] is None
    assert body["subject"] is None
    assert body["html"] is None

    listed = await client.get(TEMPLATES, headers=admin_headers)
    assert [t["id"] for t in listed.json()] == [template_id]
    one = await client.get(f"{TEMPLATES}/{template_id}", headers=admin_headers)
    assert one.json() == body

    changed = await client.put(
        f"{TEMPLATES}/{template_id}",
        json={**one.json(), "language": "EN", "text": "{{ event.message }}"},
        headers=admin_headers,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["language"] == "en"
    assert changed.json()["text"] == "{{ event.message }}"
    assert changed.json()["name"] == "Short outage note"

    partial = await client.put(
        f"{TEMPLATES}/{template_id}", json={"language": None}, headers=admin_headers
    )
    assert partial.json()["language"] is None
    assert partial.json()["text"] == "{{ event.message }}"

    deleted = await client.delete(f"{TEMPLATES}/{template_id}", headers=admin_headers)
    assert deleted.status_code == 200
    assert deleted.json()["success"] is True
    gone = await client.get(f"{TEMPLATES}/{template_id}", headers=admin_headers)
    expect_error(gone, 404, "NOT_FOUND")


async def test_a_template_without_a_name_is_named_after_its_slot(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.post(TEMPLATES, json=EMAIL, headers=admin_headers)
    assert response.json()["name"] == "service.down · email · en"
    by_id = await client.post(
        TEMPLATES, json={"channelKind": "sms", "text": "{{ event.message }}"}, headers=admin_headers
    )
    assert by_id.json()["name"] == "custom · sms"
    assert by_id.json()["type"] is None


# --- refused at save ----------------------------------------------------------------------


async def test_a_broken_template_is_refused_at_save_with_field_line_and_cause(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    broken = {**EMAIL, "html": "<p>\n{{ event.message }\n</p>"}
    body = expect_error(
        await client.post(TEMPLATES, json=broken, headers=admin_headers), 422, "VALIDATION_ERROR"
    )
    assert body["error"] == "the html template, line 2: unexpected '}'"
    assert body["details"] == [
        {"field": "html", "line": 2, "message": "unexpected '}'", "type": "template_error"}
    ]
    assert (await client.get(TEMPLATES, headers=admin_headers)).json() == []

    escape = {**CHAT, "text": "hi\n{{ cycler.__init__.__globals__ }}"}
    refused = expect_error(
        await client.post(TEMPLATES, json=escape, headers=admin_headers), 422, "VALIDATION_ERROR"
    )
    assert refused["details"][0]["line"] == 2
    assert "'__globals__' is not allowed" in refused["error"]


async def test_a_change_that_breaks_a_template_is_refused_and_the_old_one_kept(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    template_id = await create(client, admin_headers, CHAT)
    response = await client.put(
        f"{TEMPLATES}/{template_id}",
        json={"text": "{{ event.data.checks * 2 }} checks\n{{ event.data.checks + 'x' }}"},
        headers=admin_headers,
    )
    body = expect_error(response, 422, "VALIDATION_ERROR")
    assert body["details"][0]["field"] == "text"
    assert body["details"][0]["line"] == 2
    assert "with the sample service.down event" in body["error"]
    kept = await client.get(f"{TEMPLATES}/{template_id}", headers=admin_headers)
    assert kept.json()["text"] == CHAT["text"]


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({**EMAIL, "subject": None}, "subject", "needs a subject"),
        ({**CHAT, "html": "<p>x</p>"}, "html", "only e-mail templates"),
        ({**CHAT, "channelKind": "fax"}, "channelKind", "not a channel kind"),
        ({**CHAT, "language": "de"}, "language", "not supported"),
        ({**CHAT, "text": "   "}, "text", "must not be empty"),
        ({**CHAT, "type": "service down"}, "type", "no spaces"),
        ({**CHAT, "text": "a\x00b"}, "text", "NUL"),
    ],
)
async def test_fields_are_checked_at_save(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    body: dict[str, Any],
    field: str,
    words: str,
) -> None:
    response = await client.post(TEMPLATES, json=body, headers=admin_headers)
    error = expect_error(response, 422, "VALIDATION_ERROR")
    assert error["details"][0]["field"] == field
    assert words in error["error"]


async def test_two_templates_for_the_same_slot_conflict(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    first = await create(client, admin_headers, EMAIL)
    clash = await client.post(TEMPLATES, json=EMAIL, headers=admin_headers)
    body = expect_error(clash, 409, "CONFLICT")
    assert f"template {first}" in body["error"]
    # Another language, or any language, is another slot.
    await create(client, admin_headers, {**EMAIL, "language": "ru"})
    other = await create(client, admin_headers, {**EMAIL, "language": None})
    moved = await client.put(f"{TEMPLATES}/{other}", json={"language": "en"}, headers=admin_headers)
    expect_error(moved, 409, "CONFLICT")


# --- defaults and previews ----------------------------------------------------------------


async def test_the_built_in_default_can_be_read_and_saved_as_a_start(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.get(
        f"{TEMPLATES}/defaults",
        params={"type": "deadline.overdue", "channelKind": "email", "language": "en"},
        headers=admin_headers,
    )
    assert response.status_code == 200, response.text
    default = response.json()
    assert default["type"] == "deadline.overdue"
    assert default["language"] == "en"
    assert "Overdue: {{ name }}" in default["subject"]
    assert default["html"].count("<html") == 1
    saved = await client.post(
        TEMPLATES,
        json={key: default[key] for key in ("type", "channelKind", "language", "subject", "text")},
        headers=admin_headers,
    )
    assert saved.status_code == 201, saved.text

    russian = await client.get(
        f"{TEMPLATES}/defaults",
        params={"type": "service.down", "channelKind": "SMS"},
        headers=admin_headers,
    )
    assert russian.json()["language"] == "ru"
    assert russian.json()["channelKind"] == "sms"
    assert "недоступен" in russian.json()["text"]
    assert russian.json()["html"] is None
    unknown = await client.get(
        f"{TEMPLATES}/defaults",
        params={"type": "service.down", "channelKind": "pager"},
        headers=admin_headers,
    )
    expect_error(unknown, 422, "VALIDATION_ERROR")


async def test_preview_of_an_inline_template_renders_the_sample_event(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.post(
        f"{TEMPLATES}/preview",
        json={
            "channelKind": "email",
            "type": "object.status_changed",
            "language": "en",
            "subject": "{{ event.subject.title }}\n{{ event.message }}",
            "text": "{{ event.subject.previousStatus }} → {{ event.subject.status }}",
            "html": "<b>{{ event.message }}</b>",
            "event": {"message": "Bcc: <evil@example.org>", "subject": {"status": "Done"}},
        },
        headers=admin_headers,
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "subject": "Printer on the 3rd floor does not print Bcc: <evil@example.org>",
        "text": "New → Done",
        "html": "<b>Bcc: &lt;evil@example.org&gt;</b>",
        "type": "object.status_changed",
        "channelKind": "email",
        "language": "en",
    }


async def test_preview_of_a_broken_inline_template_is_422_with_line_and_cause(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.post(
        f"{TEMPLATES}/preview",
        json={"channelKind": "chat", "text": "ok\n{% for x in event.labels %}\n{{ x }}"},
        headers=admin_headers,
    )
    body = expect_error(response, 422, "VALIDATION_ERROR")
    assert body["details"][0]["line"] == 3
    assert "endfor" in body["details"][0]["message"]
    both = await client.post(
        f"{TEMPLATES}/preview",
        json={"templateId": 1, "channelKind": "chat", "text": "x"},
        headers=admin_headers,
    )
    expect_error(both, 422, "VALIDATION_ERROR")
    no_kind = await client.post(f"{TEMPLATES}/preview", json={"text": "x"}, headers=admin_headers)
    assert expect_error(no_kind, 422, "VALIDATION_ERROR")["details"][0]["field"] == "channelKind"


async def test_preview_of_a_saved_template_uses_its_kind_and_type(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    template_id = await create(client, admin_headers, CHAT)
    response = await client.post(
        f"{TEMPLATES}/preview",
        json={"templateId": template_id, "language": "en"},
        headers=admin_headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["channelKind"] == "chat"
    assert body["type"] == "service.down"
    assert body["text"] == "Billing API is down: No answer within 10 s, three checks in a row."
    assert body["html"] is None


async def test_preview_of_the_default_speaks_the_project_language_and_signs(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    # No settings saved: Russian.
    russian = await client.post(
        f"{TEMPLATES}/preview", json={"channelKind": "email"}, headers=admin_headers
    )
    assert russian.status_code == 200, russian.text
    assert russian.json()["language"] == "ru"
    assert russian.json()["subject"] == "[CRITICAL] Сервис «Billing API» недоступен"
    assert "Важность: критическая" in russian.json()["text"]

    project_id = await default_project_id(client, admin_headers)
    await save_settings(app, project_id, "en", "On call: +1 555 0100")
    english = await client.post(
        f"{TEMPLATES}/preview",
        json={"channelKind": "email", "type": "alarm.raised"},
        headers=admin_headers,
    )
    body = english.json()
    assert body["language"] == "en"
    assert body["subject"] == "[CRITICAL] Alarm: High CPU on db-1"
    assert body["text"].startswith("Hello, Administrator.")
    assert "Sent by Nabat for the project Default project." in body["text"]
    assert body["text"].endswith("\n\n-- \nOn call: +1 555 0100")
    assert "<p>On call: +1 555 0100</p>" in body["html"]
    sms = await client.post(
        f"{TEMPLATES}/preview",
        json={"channelKind": "sms", "type": "alarm.raised", "language": "ru"},
        headers=admin_headers,
    )
    assert sms.json()["text"] == (
        "[CRITICAL] Тревога: Высокая загрузка CPU на db-1: Загрузка CPU выше 95% уже 10 минут."
    )


# --- projects and roles -------------------------------------------------------------------


async def test_another_projects_template_looks_missing(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    a_template = await create(client, admin_headers, CHAT)
    project = await client.post(
        "/api/v1/projects", json={"name": "Project B", "slug": "project-b"}, headers=admin_headers
    )
    assert project.status_code == 201, project.text
    bob = await add_user(client, {**admin_headers, "X-Nabat-Project": "project-b"}, "bob", "owner")

    assert (await client.get(TEMPLATES, headers=bob)).json() == []
    for method, body in (("GET", None), ("PUT", {"text": "hijacked"}), ("DELETE", None)):
        foreign = await client.request(method, f"{TEMPLATES}/{a_template}", json=body, headers=bob)
        expect_error(foreign, 404, "NOT_FOUND")
    preview = await client.post(
        f"{TEMPLATES}/preview", json={"templateId": a_template}, headers=bob
    )
    expect_error(preview, 404, "NOT_FOUND")
    huge = await client.get(f"{TEMPLATES}/{2**40}", headers=bob)
    expect_error(huge, 404, "NOT_FOUND")

    # B's own template for the same slot is no clash with A's.
    await create(client, bob, CHAT)
    kept = await client.get(f"{TEMPLATES}/{a_template}", headers=admin_headers)
    assert kept.json()["text"] == CHAT["text"]


async def test_a_viewer_reads_and_previews_but_cannot_write(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    template_id = await create(client, admin_headers, CHAT)
    viewer = await add_user(client, admin_headers, "vera", "viewer")
    assert (await client.get(TEMPLATES, headers=viewer)).status_code == 200
    assert (await client.get(f"{TEMPLATES}/{template_id}", headers=viewer)).status_code == 200
    preview = await client.post(
        f"{TEMPLATES}/preview", json={"templateId": template_id}, headers=viewer
    )
    assert preview.status_code == 200
    expect_error(await client.post(TEMPLATES, json=CHAT, headers=viewer), 403, "FORBIDDEN")
    changed = await client.put(f"{TEMPLATES}/{template_id}", json={"text": "x"}, headers=viewer)
    expect_error(changed, 403, "FORBIDDEN")
    removed = await client.delete(f"{TEMPLATES}/{template_id}", headers=viewer)
    expect_error(removed, 403, "FORBIDDEN")
