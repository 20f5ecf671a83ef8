"""The console's rules, silences and templates pages: what their forms store is what the
API returns, errors sit next to their fields with what was typed kept, deleting asks
first, templates preview against a sample event, viewers only look, and both languages
are complete."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from markupsafe import escape

from tests.conftest import ADMIN_PASSWORD
from tests.support.serving import served
from tests.test_isolation import PASSWORD, add_user, create_channel
from tests.web.browser import chromium
from tests.web.support import assert_translated, console_login, csrf_of, post_form

RULES = "/api/v1/rules"
SILENCES = "/api/v1/silences"
TEMPLATES = "/api/v1/templates"


def error_of(html: str, field: str) -> str:
    """The error shown next to ``field`` (its text, tags removed)."""
    found = re.search(rf'<p class="field-error" id="{re.escape(field)}-error"[^>]*>(.*?)</p>', html)
    assert found is not None, f"no error next to {field}"
    return re.sub(r"<[^>]+>", "", found.group(1))


def moment(hours: float) -> str:
    """A moment ``hours`` from now as a datetime-local field holds it (UTC)."""
    return (datetime.now(UTC) + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M")


def changing_forms(html: str, prefix: str) -> list[str]:
    """The actions of the page's POST forms under ``prefix``."""
    return re.findall(rf'<form method="post" action="({re.escape(prefix)}[^"]*)"', html)


async def test_a_rule_made_and_changed_in_the_form_is_what_the_api_returns(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    channel = await create_channel(client, admin_headers, "ops")
    spare = await create_channel(client, admin_headers, "spare")
    await console_login(client)
    made = await post_form(
        client,
        "/rules/new",
        "/rules",
        {
            "name": "database down",
            "enabled": "on",
            "types": "service.*\nbackup.failed",
            "severity-ERROR": "on",
            "severity-CRITICAL": "on",
            "matchers": 'team = db\nhost =~ "db-.*"\nsource = uptime',
            "action-0-channel": str(channel),
            "action-0-recipients": "alice\nops@example.org",
            "action-0-template": "",
            "action-0-fallback-0": str(spare),
            "action-0-fallback-1": "",
            "repeat": "600",
            "group_by": "type, source",
            "continue": "on",
        },
    )
    assert made.status_code == 303, made.text
    [rule] = (await client.get(RULES, headers=admin_headers)).json()
    assert rule["name"] == "database down"
    assert rule["match"] == {
        "types": ["service.*", "backup.failed"],
        "severities": ["ERROR", "CRITICAL"],
        "labels": [
            {"name": "team", "op": "=", "value": "db"},
            {"name": "host", "op": "=~", "value": "db-.*"},
        ],
        "source": [{"name": "source", "op": "=", "value": "uptime"}],
    }
    assert rule["actions"] == [
        {
            "channelId": channel,
            "recipients": ["alice", "ops@example.org"],
            "templateId": None,
            "fallbackChannelIds": [spare],
        }
    ]
    assert rule["throttle"] == {"repeatIntervalSeconds": 600, "groupBy": ["type", "source"]}
    assert rule["continue"] is True

    listed = (await client.get("/rules")).text
    assert "database down" in listed
    assert "alice, ops@example.org" in listed
    assert "if it cannot deliver, then: spare (SLACK)" in listed
    shown = (await client.get(f"/rules/{rule['id']}")).text
    assert "team = db\nhost =~ db-.*\nsource = uptime" in shown
    assert f'<option value="{spare}" selected>' in shown.split('name="action-0-fallback-0"')[1]
    changed = await post_form(
        client,
        f"/rules/{rule['id']}",
        f"/rules/{rule['id']}",
        {
            "name": "db outages",
            "position": "5",
            "types": "service.down",
            "matchers": "",
            "action-0-channel": str(channel),
            "action-0-recipients": "",
            "repeat": "",
            "group_by": "",
        },
    )
    assert changed.status_code == 303, changed.text
    after = (await client.get(f"{RULES}/{rule['id']}", headers=admin_headers)).json()
    assert (after["name"], after["position"], after["enabled"]) == ("db outages", 5, False)
    assert after["match"]["labels"] == []
    assert after["match"]["severities"] == []
    assert after["throttle"] is None
    assert after["continue"] is False
    assert after["actions"][0]["fallbackChannelIds"] == []


async def test_a_rule_with_a_bad_field_shows_the_error_next_to_it_and_keeps_what_was_typed(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    channel = await create_channel(client, admin_headers, "ops")
    await console_login(client)
    typed = {
        "name": "half-written",
        "types": "service.down",
        "matchers": "team = db\nhost =~ (unclosed",
        "action-0-channel": str(channel),
        "action-0-recipients": "alice",
        "repeat": "600",
    }
    refused = await post_form(client, "/rules/new", "/rules", typed)
    assert refused.status_code == 422
    message = error_of(refused.text, "matchers")
    assert message.startswith("Not accepted: line 2:")
    assert "not a valid regular expression" in message
    assert 'value="half-written"' in refused.text
    assert str(escape(typed["matchers"])) in refused.text
    assert f'<option value="{channel}" selected>' in refused.text

    unreadable = await post_form(client, "/rules/new", "/rules", {**typed, "matchers": "x\n?"})
    assert "Line 1: “x” is not a test" in error_of(unreadable.text, "matchers")
    missing = await post_form(
        client, "/rules/new", "/rules", {**typed, "matchers": "", "action-0-channel": "999"}
    )
    assert "channel 999 is not a channel of this project" in error_of(
        missing.text, "action-0-channel"
    )
    slow = await post_form(client, "/rules/new", "/rules", {**typed, "matchers": "", "repeat": "0"})
    assert "between 1 and" in error_of(slow.text, "repeat")
    assert (await client.get(RULES, headers=admin_headers)).json() == []


async def test_deleting_a_rule_asks_first_and_removes_it(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    channel = await create_channel(client, admin_headers, "ops")
    body = {"name": "to go", "actions": [{"channelId": channel}]}
    rule = (await client.post(RULES, json=body, headers=admin_headers)).json()
    await console_login(client)
    listed = (await client.get("/rules")).text
    delete_form = re.search(
        rf'<form method="post" action="/rules/{rule["id"]}/delete"[^>]*>', listed
    )
    assert delete_form is not None
    assert 'data-confirm="Delete the rule “to go”?"' in delete_form[0]
    gone = await post_form(client, "/rules", f"/rules/{rule['id']}/delete", {})
    assert gone.status_code == 303
    assert (await client.get(RULES, headers=admin_headers)).json() == []
    assert (await client.get(f"/rules/{rule['id']}")).status_code == 404


async def test_a_silence_made_changed_and_ended_in_the_console_is_what_the_api_returns(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await console_login(client)
    ends = moment(3)
    made = await post_form(
        client,
        "/silences/new",
        "/silences",
        {
            "matchers": "env = prod\nservice =~ db-.*",
            "starts_at": "",
            "ends_at": ends,
            "comment": "database upgrade",
            "author": "",
        },
    )
    assert made.status_code == 303, made.text
    [silence] = (await client.get(SILENCES, headers=admin_headers)).json()
    assert silence["matchers"] == [
        {"name": "env", "op": "=", "value": "prod"},
        {"name": "service", "op": "=~", "value": "db-.*"},
    ]
    assert silence["endsAt"].startswith(ends)
    assert silence["comment"] == "database upgrade"
    assert (silence["author"], silence["status"]["state"]) == ("admin", "active")

    page = f"/silences/{silence['id']}"
    past = await post_form(
        client,
        page,
        page,
        {
            "matchers": "env = prod",
            "ends_at": moment(-1),
            "comment": "now longer",
            "author": "admin",
        },
    )
    assert past.status_code == 422
    assert "is not in the future" in error_of(past.text, "ends_at")
    assert "now longer" in past.text
    wide = await post_form(
        client, page, page, {"matchers": "env =~ .*", "ends_at": ends, "comment": "x"}
    )
    assert "hold for every event" in error_of(wide.text, "matchers")
    later = moment(5)
    changed = await post_form(
        client,
        page,
        page,
        {"matchers": "env = stage", "ends_at": later, "comment": "longer", "author": "bob"},
    )
    assert changed.status_code == 303, changed.text
    after = (await client.get(f"{SILENCES}/{silence['id']}", headers=admin_headers)).json()
    assert after["matchers"] == [{"name": "env", "op": "=", "value": "stage"}]
    assert after["endsAt"].startswith(later)
    assert after["author"] == "bob"

    listed = (await client.get("/silences")).text
    assert f'action="/silences/{silence["id"]}/expire" data-confirm=' in listed
    ended = await post_form(client, "/silences", f"/silences/{silence['id']}/expire", {})
    assert ended.status_code == 303
    gone = (await client.get(f"{SILENCES}/{silence['id']}", headers=admin_headers)).json()
    assert gone["status"]["state"] == "expired"
    expired = (await client.get("/silences?state=expired")).text
    assert "env = stage" in expired
    assert changing_forms(expired, "/silences") == []


async def test_a_template_saved_in_the_form_is_what_the_api_returns_and_can_be_deleted(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await console_login(client)
    start = (await client.get("/templates/new?type=service.down&kind=email&language=en")).text
    assert "{{" in start
    assert 'name="subject"' in start
    fields = {
        "name": "",
        "type": "service.down",
        "channel_kind": "chat",
        "language": "en",
        "subject": "",
        "text": "Down: {{ event.message }}",
        "html": "",
    }
    made = await post_form(client, "/templates/new", "/templates", fields)
    assert made.status_code == 303, made.text
    [template] = (await client.get(TEMPLATES, headers=admin_headers)).json()
    assert template["text"] == "Down: {{ event.message }}"
    assert (template["type"], template["channelKind"], template["language"]) == (
        "service.down",
        "chat",
        "en",
    )
    page = f"/templates/{template['id']}"
    changed = await post_form(client, page, page, {**fields, "text": "Still down"})
    assert changed.status_code == 303
    assert (await client.get(f"{TEMPLATES}/{template['id']}", headers=admin_headers)).json()[
        "text"
    ] == "Still down"
    listed = (await client.get("/templates")).text
    assert f'action="/templates/{template["id"]}/delete" data-confirm=' in listed
    gone = await post_form(client, "/templates", f"/templates/{template['id']}/delete", {})
    assert gone.status_code == 303
    assert (await client.get(TEMPLATES, headers=admin_headers)).json() == []


async def test_the_template_preview_renders_the_typed_text_for_a_sample_event(
    client: httpx.AsyncClient,
) -> None:
    await console_login(client)
    fields = {
        "type": "service.down",
        "channel_kind": "email",
        "language": "en",
        "subject": "[{{ event.severity }}] {{ event.message }}",
        "text": "Env {{ event.labels.env }}: {{ event.message }}",
        "html": "<b>{{ event.message }}</b>",
        "sample": "message = Disk <full>\nlabels.env = prod",
    }
    shown = await post_form(client, "/templates/new", "/templates/preview", fields)
    assert shown.status_code == 200, shown.text
    assert "Env prod: Disk &lt;full&gt;" in shown.text
    assert "Disk &lt;full&gt;</pre>" in shown.text
    assert 'srcdoc="&lt;b&gt;Disk &amp;lt;full&amp;gt;&lt;/b&gt;"' in shown.text
    assert str(escape(fields["text"])) in shown.text  # the form is kept as typed
    fragment = await post_form(
        client, "/templates/new", "/templates/preview", {**fields, "fragment": "1"}
    )
    assert "<form" not in fragment.text
    assert "Env prod: Disk &lt;full&gt;" in fragment.text


async def test_a_template_with_a_syntax_error_shows_its_line_and_is_not_saved(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await console_login(client)
    broken = {
        "type": "service.down",
        "channel_kind": "email",
        "language": "en",
        "subject": "Down",
        "text": "fine",
        "html": "<p>\n{{ event.message }\n</p>",
    }
    refused = await post_form(client, "/templates/new", "/templates", broken)
    assert refused.status_code == 422
    assert error_of(refused.text, "html") == "Not accepted: line 2: unexpected &#39;}&#39;"
    assert str(escape(broken["html"])) in refused.text
    assert (await client.get(TEMPLATES, headers=admin_headers)).json() == []
    preview = await post_form(client, "/templates/new", "/templates/preview", broken)
    assert "line 2" in error_of(preview.text, "html")


async def test_a_viewer_sees_the_pages_without_forms_and_cannot_post(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    channel = await create_channel(client, admin_headers, "ops")
    body = {"name": "seen", "actions": [{"channelId": channel}]}
    rule = (await client.post(RULES, json=body, headers=admin_headers)).json()
    ends = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    silence = {"matchers": [{"name": "env", "value": "prod"}], "endsAt": ends, "comment": "c"}
    made = (await client.post(SILENCES, json=silence, headers=admin_headers)).json()
    template = {"channelKind": "chat", "type": "service.down", "text": "Hi {{ event.message }}"}
    saved = (await client.post(TEMPLATES, json=template, headers=admin_headers)).json()
    await add_user(client, admin_headers, "vera", "viewer")
    await console_login(client, "vera", PASSWORD)
    for page, prefix in [
        ("/rules", "/rules"),
        (f"/rules/{rule['id']}", "/rules"),
        ("/silences", "/silences"),
        (f"/silences/{made['id']}", "/silences"),
        ("/templates", "/templates"),
        (f"/templates/{saved['id']}", "/templates"),
    ]:
        shown = await client.get(page)
        assert shown.status_code == 200, page
        assert changing_forms(shown.text, prefix) == [], page
    assert "seen" in (await client.get(f"/rules/{rule['id']}")).text
    assert "Hi " in (await client.get(f"/templates/{saved['id']}")).text
    token = csrf_of((await client.get("/rules")).text)
    for action in ["/rules", f"/rules/{rule['id']}/delete", "/silences", "/templates"]:
        refused = await client.post(action, data={"csrf": token, "name": "x", "text": "x"})
        assert refused.status_code == 403, action
    assert (await client.get("/rules/new")).status_code == 403
    assert len((await client.get(RULES, headers=admin_headers)).json()) == 1


async def test_a_post_without_the_csrf_token_is_refused(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await console_login(client)
    for action in ["/rules", "/silences", "/templates", "/templates/preview"]:
        refused = await client.post(action, data={"name": "x", "text": "x"})
        assert refused.status_code == 403, action
    assert (await client.get(RULES, headers=admin_headers)).json() == []


@pytest.mark.parametrize("language", ["en", "ru"])
async def test_every_page_is_complete_in_both_languages(
    client: httpx.AsyncClient, admin_headers: dict[str, str], language: str
) -> None:
    channel = await create_channel(client, admin_headers, "ops")
    body = {
        "name": "r",
        "actions": [{"channelId": channel}],
        "throttle": {"repeatIntervalSeconds": 60},
    }
    rule = (await client.post(RULES, json=body, headers=admin_headers)).json()
    ends = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    silence = {"matchers": [{"name": "env", "value": "prod"}], "endsAt": ends, "comment": "c"}
    made = (await client.post(SILENCES, json=silence, headers=admin_headers)).json()
    template = {"channelKind": "email", "subject": "S", "text": "T", "html": "<p>H</p>"}
    saved = (await client.post(TEMPLATES, json=template, headers=admin_headers)).json()
    await console_login(client, language=language)
    for page in [
        "/rules",
        "/rules/new",
        f"/rules/{rule['id']}",
        "/silences",
        "/silences/new",
        f"/silences/{made['id']}",
        "/templates",
        "/templates/new",
        f"/templates/{saved['id']}",
    ]:
        shown = await client.get(page)
        assert shown.status_code == 200, page
        assert_translated(shown.text)
    bad = await post_form(client, "/rules/new", "/rules", {"name": "", "matchers": "?"})
    assert_translated(bad.text)
    lead = {"en": "Line 1", "ru": "Строка 1"}[language]
    assert lead in error_of(bad.text, "matchers")
    preview = await post_form(
        client, "/templates/new", "/templates/preview", {"channel_kind": "chat", "text": "x"}
    )
    assert_translated(preview.text)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_the_template_preview_follows_typing_in_a_browser(app: FastAPI) -> None:
    async with served(app) as base, chromium() as browser:
        context = await browser.new_context(locale="en", viewport={"width": 1280, "height": 900})
        page = await context.new_page()
        await page.goto(f"{base}/login?next=/templates/new")
        await page.locator("#login-username").fill("admin")
        await page.locator("#login-password").fill(ADMIN_PASSWORD)
        await page.locator("form[action='/login'] button[type=submit]").click()
        await page.wait_for_url(f"{base}/templates/new")
        # No Preview pressed: the page's script posts the form (with its CSRF token) as
        # one types, and shows what comes back.
        await page.locator("#sample").fill("message = Disk full")
        await page.locator("#text").fill("Typed: {{ event.message }}")
        preview = page.locator("#preview .preview-text")
        await preview.wait_for()
        await page.wait_for_function(
            "document.querySelector('#preview .preview-text').textContent.includes('Typed')"
        )
        assert await preview.inner_text() == "Typed: Disk full"
        await page.locator("#text").fill("Broken {{ event.message }")
        alert = page.locator("#preview .notice.bad")
        await alert.wait_for()
        assert "line 1" in await alert.inner_text()
        await context.close()
