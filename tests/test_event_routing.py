"""Routing: rules by type × severity × labels × source, throttles, silences, recipients."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import ADMIN_EMAIL
from tests.fakes.webhook import WebhookReceiver

EVENTS = "/api/v1/events"
CHANNELS = "/api/v1/notifications/channels"
RULES = "/api/v1/rules"


async def channel(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    name: str,
    kind: str,
    config: dict[str, Any],
    **extra: Any,
) -> int:
    body = {"name": name, "type": kind, "configuration": config, **extra}
    response = await client.post(CHANNELS, json=body, headers=headers)
    assert response.status_code == 201, response.text
    channel_id: int = response.json()["id"]
    return channel_id


async def rule(client: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> int:
    response = await client.post(RULES, json=body, headers=headers)
    assert response.status_code == 201, response.text
    rule_id: int = response.json()["id"]
    return rule_id


def event(type_key: str, severity: str, source: str, **labels: str) -> dict[str, Any]:
    return {
        "type": type_key,
        "severity": severity,
        "source": {"name": source},
        "message": "something happened",
        "labels": labels,
    }


@pytest.fixture
async def table(
    client: httpx.AsyncClient, admin_headers: dict[str, str], receiver: WebhookReceiver
) -> dict[str, int]:
    """Four webhook channels and three rules:

    1. service.* at CRITICAL → A, and go on matching;
    2. env =~ prod|staging → B, and stop;
    3. alarm.raised from grafana → C;
    otherwise the default channel D.
    """
    ids = {
        name: await channel(
            client,
            admin_headers,
            name,
            "WEBHOOK",
            {"url": f"{receiver.url}/{name}"},
            isDefault=name == "D",
        )
        for name in "ABCD"
    }
    await rule(
        client,
        admin_headers,
        name="critical services",
        match={"types": ["service.*"], "severities": ["CRITICAL"]},
        actions=[{"channelId": ids["A"]}],
        **{"continue": True},
    )
    await rule(
        client,
        admin_headers,
        name="production",
        match={"labels": [{"name": "env", "op": "=~", "value": "prod|staging"}]},
        actions=[{"channelId": ids["B"]}],
    )
    await rule(
        client,
        admin_headers,
        name="grafana alarms",
        match={"types": ["alarm.raised"], "source": "grafana"},
        actions=[{"channelId": ids["C"]}],
    )
    return ids


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        (event("service.down", "CRITICAL", "uptime", env="prod"), "AB"),
        (event("service.down", "CRITICAL", "uptime", env="dev"), "A"),
        (event("service.down", "WARNING", "uptime", env="prod"), "B"),
        (event("service.up", "INFO", "uptime", env="staging"), "B"),
        (event("alarm.raised", "INFO", "grafana", env="dev"), "C"),
        (event("alarm.raised", "ERROR", "grafana", env="staging"), "B"),
        (event("alarm.raised", "INFO", "prometheus", env="dev"), "D"),
        (event("object.created", "INFO", "helpdesk"), "D"),
    ],
)
async def test_the_routing_table(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    table: dict[str, int],
    sent: dict[str, Any],
    expected: str,
) -> None:
    answer = await client.post(EVENTS, json=sent, headers=admin_headers)
    assert answer.status_code == 202, answer.text
    names = {channel_id: name for name, channel_id in table.items()}
    routed = "".join(sorted(names[d["channelId"]] for d in answer.json()["deliveries"]))
    assert routed == expected


async def test_routed_events_arrive_where_the_rules_say(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    app: FastAPI,
    table: dict[str, int],
    receiver: WebhookReceiver,
) -> None:
    await client.post(
        EVENTS, json=event("service.down", "CRITICAL", "uptime", env="prod"), headers=admin_headers
    )
    await client.post(
        EVENTS, json=event("object.created", "INFO", "helpdesk"), headers=admin_headers
    )
    await app.state.nabat.new_worker().run_until_idle()
    arrived = sorted((r.path, r.json()["event"]["type"]) for r in receiver.received)
    assert arrived == [("/A", "service.down"), ("/B", "service.down"), ("/D", "object.created")]


async def test_a_throttle_holds_back_repeats_of_a_group_and_says_until_when(
    client: httpx.AsyncClient, admin_headers: dict[str, str], receiver: WebhookReceiver
) -> None:
    hook = await channel(client, admin_headers, "hook", "WEBHOOK", {"url": receiver.url})
    rule_id = await rule(
        client,
        admin_headers,
        name="disk",
        match={"types": ["alarm.raised"]},
        actions=[{"channelId": hook}],
        throttle={"repeatIntervalSeconds": 3600, "groupBy": ["host"]},
    )
    statuses = []
    for host in ("db1", "db1", "db2", "db1"):
        answer = await client.post(
            EVENTS, json=event("alarm.raised", "ERROR", "x", host=host), headers=admin_headers
        )
        statuses.append(answer.json()["deliveries"][0]["status"])
        last = answer.json()
    assert statuses == ["QUEUED", "SUPPRESSED", "QUEUED", "SUPPRESSED"]
    record = (await client.get(f"{EVENTS}/{last['eventId']}", headers=admin_headers)).json()
    [held] = record["deliveries"]
    assert held["suppressedBy"] == "THROTTLED"
    assert held["ruleId"] == rule_id
    assert "next may go at" in held["reason"]


async def test_a_silence_suppresses_matching_deliveries_with_its_id(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    app: FastAPI,
    receiver: WebhookReceiver,
) -> None:
    await channel(client, admin_headers, "hook", "WEBHOOK", {"url": receiver.url}, isDefault=True)
    now = datetime.now(UTC)
    created = await client.post(
        "/api/v1/silences",
        json={
            "matchers": [{"name": "env", "op": "=", "value": "prod"}],
            "startsAt": now.isoformat(),
            "endsAt": (now + timedelta(hours=1)).isoformat(),
            "comment": "maintenance window",
        },
        headers=admin_headers,
    )
    assert created.status_code == 201, created.text
    silence_id = created.json()["id"]
    quiet = (
        await client.post(
            EVENTS, json=event("service.down", "ERROR", "x", env="prod"), headers=admin_headers
        )
    ).json()
    loud = (
        await client.post(
            EVENTS, json=event("service.down", "ERROR", "x", env="dev"), headers=admin_headers
        )
    ).json()
    await app.state.nabat.new_worker().run_until_idle()
    assert [r.json()["event"]["labels"]["env"] for r in receiver.received] == ["dev"]
    record = (await client.get(f"{EVENTS}/{quiet['eventId']}", headers=admin_headers)).json()
    [held] = record["deliveries"]
    assert held["status"] == "SUPPRESSED"
    assert held["suppressedBy"] == "SILENCED"
    assert held["silenceId"] == silence_id
    assert loud["deliveries"][0]["status"] == "QUEUED"


async def test_recipients_resolve_to_each_channel_types_address(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    mail = await channel(
        client,
        admin_headers,
        "mail",
        "EMAIL",
        {"smtpHost": "127.0.0.1", "smtpPort": 2525, "fromEmail": "n@example.org"},
    )
    telegram = await channel(
        client,
        admin_headers,
        "tg",
        "TELEGRAM",
        {"botToken": "123456789:ABCdefGhIJKlmnOPQ_rstuvwxyz-1234567", "chatId": "-100500"},
    )
    added = await client.post(
        "/api/v1/users/me/contact-points",
        json={"kind": "TELEGRAM", "value": "777"},
        headers=admin_headers,
    )
    assert added.status_code == 201, added.text
    sent = {
        **event("service.down", "ERROR", "x"),
        "channelIds": [mail, telegram],
        "recipients": ["admin", "ghost", "outsider@example.net"],
    }
    answer = (await client.post(EVENTS, json=sent, headers=admin_headers)).json()
    addressed = sorted((d["channelType"], d["recipient"]) for d in answer["deliveries"])
    assert addressed == [("EMAIL", ADMIN_EMAIL), ("TELEGRAM", "777")]
    missing = sorted({(n["code"], n["recipient"]) for n in answer["notes"]})
    assert missing == [("USER_NOT_FOUND", "ghost"), ("USER_NOT_FOUND", "outsider@example.net")]
    assert "allowUnregisteredRecipients" in answer["notes"][0]["message"]
    allowed = await client.put(
        "/api/v1/settings/mail", json={"allowUnregisteredRecipients": True}, headers=admin_headers
    )
    assert allowed.status_code == 200, allowed.text
    answer = (await client.post(EVENTS, json=sent, headers=admin_headers)).json()
    addressed = sorted((d["channelType"], d["recipient"]) for d in answer["deliveries"])
    assert addressed == [
        ("EMAIL", ADMIN_EMAIL),
        ("EMAIL", "outsider@example.net"),
        ("TELEGRAM", "777"),
    ]
    assert {n["recipient"] for n in answer["notes"]} == {"ghost", "outsider@example.net"}
