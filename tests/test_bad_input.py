"""The bad-input table: each row once on SQLite and once on PostgreSQL, answered 4xx with
the field named, never a 500 (issue 10's list, found by fuzzing and by hand)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import httpx

from tests.fixtures import payload
from tests.support.errors import expect_error

FAR_FUTURE = "9999-12-31T23:59:59-23:59"  # year 10000 in UTC
FAR_PAST = "0001-01-01T00:00:01+23:59"  # year 0 in UTC
BEFORE_1970 = "1969-12-31T23:59:59Z"
NUL = "bad\u0000name"
HUGE = 99999999999999999999


@dataclass(frozen=True)
class Row:
    """One bad request and the field its answer must name."""

    method: str
    path: str
    field: str
    body: Any = None
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    authenticated: bool = True
    status: int = 422


def _alerts(**change: Any) -> dict[str, Any]:
    body: dict[str, Any] = payload("alertmanager_v4.json")
    body["alerts"][0].update(change)
    return body


def _grafana(**change: Any) -> dict[str, Any]:
    body: dict[str, Any] = payload("grafana_webhook.json")
    body["alerts"][0].update(change)
    return body


def _labels(**labels: str) -> dict[str, Any]:
    body: dict[str, Any] = payload("alertmanager_v4.json")
    body["alerts"][0]["labels"].update(labels)
    return body


EVENT = {"type": "service.down", "message": "billing is down"}
SEND = {"status": "DOWN", "severity": "CRITICAL", "message": "billing is down"}
SILENCE = {
    "matchers": [{"name": "env", "op": "=", "value": "prod"}],
    "endsAt": "2030-01-01T00:00:00Z",
    "comment": "maintenance",
}
WEBHOOK = {"name": "hook", "type": "WEBHOOK", "configuration": {"url": "http://127.0.0.1:9/"}}

ROWS = {
    # Times out of range, after converting to UTC.
    "alertmanager startsAt": Row(
        "POST",
        "/api/v1/integrations/alertmanager",
        "alerts[0].startsAt",
        _alerts(startsAt=FAR_FUTURE),
    ),
    "alertmanager endsAt": Row(
        "POST", "/api/v1/integrations/alertmanager", "alerts[0].endsAt", _alerts(endsAt=FAR_PAST)
    ),
    "grafana startsAt": Row(
        "POST", "/api/v1/integrations/grafana", "alerts[0].startsAt", _grafana(startsAt=FAR_PAST)
    ),
    "occurredAt": Row("POST", "/api/v1/events", "occurredAt", {**EVENT, "occurredAt": FAR_FUTURE}),
    "occurredAt before 1970": Row(
        "POST", "/api/v1/events", "occurredAt", {**EVENT, "occurredAt": BEFORE_1970}
    ),
    "occurredAt in a batch": Row(
        "POST",
        "/api/v1/events/batch",
        "events.0.occurredAt",
        {"events": [{**EVENT, "occurredAt": FAR_PAST}]},
    ),
    "silence startsAt": Row(
        "POST", "/api/v1/silences", "startsAt", {**SILENCE, "startsAt": FAR_PAST}
    ),
    "silence endsAt": Row("POST", "/api/v1/silences", "endsAt", {**SILENCE, "endsAt": FAR_FUTURE}),
    "since filter": Row("GET", "/api/v1/events", "since", params={"since": FAR_FUTURE}),
    "until filter": Row(
        "GET", "/api/v1/notifications/deliveries", "until", params={"until": FAR_PAST}
    ),
    "a number is not a date": Row("GET", "/api/v1/events", "since", params={"since": "1.6e-22"}),
    "a JSON number is not a date": Row(
        "POST", "/api/v1/events", "occurredAt", {**EVENT, "occurredAt": 1764578400}
    ),
    # NUL (and other control characters) in text, on every database alike.
    "channel name": Row("POST", "/api/v1/notifications/channels", "name", {**WEBHOOK, "name": NUL}),
    "rule name": Row("POST", "/api/v1/rules", "name", {"name": NUL}),
    "project name": Row("POST", "/api/v1/projects", "name", {"name": NUL}),
    "API key name": Row("POST", "/api/v1/api-keys", "name", {"name": NUL}),
    "event message": Row("POST", "/api/v1/events", "message", {**EVENT, "message": NUL}),
    "send message": Row("POST", "/api/v1/notifications/send", "message", {**SEND, "message": NUL}),
    "dedupKey": Row("POST", "/api/v1/events", "dedupKey", {**EVENT, "dedupKey": NUL}),
    "silence comment": Row("POST", "/api/v1/silences", "comment", {**SILENCE, "comment": NUL}),
    "display name": Row(
        "POST",
        "/api/v1/users",
        "displayName",
        {"username": "u1", "email": "u1@example.org", "password": "x" * 12, "displayName": NUL},
    ),
    "query filter": Row("GET", "/api/v1/events", "type", params={"type": NUL}),
    "alertmanager label": Row(
        "POST", "/api/v1/integrations/alertmanager", "alerts[0].labels.team", _labels(team=NUL)
    ),
    "label key": Row(
        "POST", "/api/v1/events", "labels.a\u0000b", {**EVENT, "labels": {"a\u0000b": "x"}}
    ),
    "escape control character": Row(
        "POST", "/api/v1/events", "message", {**EVENT, "message": "bell \u0007"}
    ),
    "C1 control character": Row(
        "POST", "/api/v1/events", "message", {**EVENT, "message": "next line \u0085"}
    ),
    "login username, unauthenticated": Row(
        "POST",
        "/api/auth/login",
        "username",
        {"username": "ad\u0000min", "password": "whatever"},
        authenticated=False,
    ),
    # Integers beyond what the columns hold.
    "page": Row("GET", "/api/v1/events", "page", params={"page": str(HUGE)}),
    "page in deliveries": Row(
        "GET", "/api/v1/notifications/deliveries", "page", params={"page": str(HUGE)}
    ),
    "channelId filter": Row(
        "GET", "/api/v1/notifications/deliveries", "channelId", params={"channelId": str(HUGE)}
    ),
    "channelId beyond the id column": Row(
        "GET",
        "/api/v1/notifications/deliveries",
        "channelId",
        params={"channelId": str(2**31)},
    ),
    "channelId in a body": Row(
        "POST", "/api/v1/notifications/send", "channelId", {**SEND, "channelId": HUGE}
    ),
    "channelIds in an event": Row(
        "POST", "/api/v1/events", "channelIds.0", {**EVENT, "channelIds": [2**40]}
    ),
    "templateId in a preview": Row(
        "POST", "/api/v1/templates/preview", "templateId", {"templateId": HUGE}
    ),
}


async def _mismatch(client: httpx.AsyncClient, headers: dict[str, str], row: Row) -> str | None:
    answer = await client.request(
        row.method,
        row.path,
        json=row.body,
        params=row.params,
        headers=headers if row.authenticated else {},
    )
    try:
        body = expect_error(answer, row.status, "VALIDATION_ERROR")
        assert row.field in [detail["field"] for detail in body["details"]], body
        assert body["error"].startswith(row.field), body
    except AssertionError as failure:
        return str(failure)
    return None


async def test_bad_input_is_a_4xx_naming_the_field(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    # One app per database for the whole table: each row is one request.
    mismatches = {}
    for name, row in ROWS.items():
        mismatch = await _mismatch(client, admin_headers, row)
        if mismatch is not None:
            mismatches[name] = mismatch
    assert mismatches == {}


async def test_text_may_hold_tabs_and_line_breaks(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    event = {**EVENT, "message": "line one\r\n\tline two", "labels": {"team": "ops"}}
    answer = await client.post("/api/v1/events", json=event, headers=admin_headers)
    assert answer.status_code == 202, answer.text
    # Text that merely looks like an escape is text.
    answer = await client.post(
        "/api/v1/events", json={**EVENT, "message": "C:\\build\\fast"}, headers=admin_headers
    )
    assert answer.status_code == 202, answer.text


async def test_large_pages_are_empty_not_errors(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    answer = await client.get(
        "/api/v1/events", params={"page": 1_000_000, "size": 500}, headers=admin_headers
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["items"] == []


async def test_a_path_with_a_control_character_is_not_found(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    answer = await client.put(
        "/api/v1/notification-types/service.down%00", json={}, headers=admin_headers
    )
    expect_error(answer, 404, "NOT_FOUND")


WRONG_METHODS = [
    ("GET", "/api/v1/events/batch", "POST"),
    ("OPTIONS", "/api/v1/integrations/grafana", "POST, PUT"),
    ("DELETE", "/api/v1/templates/preview", "POST"),
    ("PUT", "/api/v1/notifications/channels/default", "GET, HEAD"),
    ("DELETE", "/api/v1/members/invitations", "GET, HEAD"),
    ("POST", "/api/v1/users/me/contact-points/1", "DELETE"),
]


async def test_a_wrong_method_is_405_with_every_allowed_one(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    for method, path, allowed in WRONG_METHODS:
        answer = await client.request(method, path, headers=admin_headers)
        expect_error(answer, 405, "METHOD_NOT_ALLOWED")
        assert (method, path, answer.headers["allow"]) == (method, path, allowed)


async def test_a_console_form_with_a_control_character_gets_a_page_not_json(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.post("/login", data={"username": "ad\u0000min", "password": "x"})
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("text/html")
    assert "«username»" in answer.text
    assert "“username”" in answer.text
