"""One typed delivery content: tests and health notices are worded like any event, with
the project's templates, language and signature; rows stored in older shapes deliver."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI

from nabat.delivery.content import DeliveryContent, seed_payload
from nabat.delivery.queue import NewDelivery, enqueue
from nabat.routing.snapshot import event_snapshot
from nabat.state import AppState
from tests.conftest import ADMIN_EMAIL
from tests.fakes.smtp import SMTP_PASSWORD, SMTP_USER, FakeSmtpServer
from tests.fakes.webhook import Scripted, WebhookReceiver, running_receiver
from tests.support.delivery import webhook_channel

CHANNELS = "/api/v1/notifications/channels"
TEMPLATES = "/api/v1/templates"
MAIL_SETTINGS = "/api/v1/settings/mail"
GENERAL_SETTINGS = "/api/v1/settings/general"
SIGNATURE = "On call: +1 555 0100"
MOMENT = datetime(2025, 3, 14, 9, 26, 53, tzinfo=UTC)


def email_channel(server: FakeSmtpServer, **extra: object) -> dict[str, object]:
    """An EMAIL channel without recipients of its own (it mails the tester or admins)."""
    return {
        "name": "mail",
        "type": "EMAIL",
        "configuration": {
            "smtpHost": server.host,
            "smtpPort": str(server.port),
            "encryption": "none",
            "auth": True,
            "username": SMTP_USER,
            "password": SMTP_PASSWORD,
            "fromEmail": "alerts@example.org",
            "timeout": 5,
        },
        **extra,
    }


async def post(client: httpx.AsyncClient, headers: dict[str, str], url: str, body: Any) -> Any:
    """POST or PUT ``body`` (PUT for settings) and return the JSON answer, checked."""
    method = client.put if url.startswith("/api/v1/settings") else client.post
    response = await method(url, json=body, headers=headers)
    assert response.status_code in (200, 201, 202), response.text
    return response.json()


async def sign_in_english(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    """Set the project's language to English and its signature."""
    await post(client, headers, GENERAL_SETTINGS, {"language": "en"})
    await post(
        client,
        headers,
        MAIL_SETTINGS,
        {
            "fromAddress": "noreply@example.org",
            "fromName": "Nabat",
            "replyTo": "support@example.org",
            "signature": SIGNATURE,
        },
    )


def plain_text(mail: Any) -> str:
    """The text/plain part of a received mail, with plain newlines."""
    part = mail.message().get_body(preferencelist=("plain",))
    assert part is not None
    text: str = part.get_content()
    return text.replace("\r\n", "\n")


async def test_a_test_e_mail_uses_the_projects_test_template_language_and_signature(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await sign_in_english(client, admin_headers)
    await post(
        client,
        admin_headers,
        TEMPLATES,
        {
            "channelKind": "email",
            "type": "test",
            "language": "en",
            "subject": "Checking {{ project.name }}",
            "text": "House test wording: {{ event.message }}",
            "html": "<p>House test wording: {{ event.message }}</p>",
        },
    )
    async with FakeSmtpServer(users={SMTP_USER: SMTP_PASSWORD}, auth_over_plain=True) as smtp:
        channel = (await post(client, admin_headers, CHANNELS, email_channel(smtp)))["id"]
        await post(client, admin_headers, f"{CHANNELS}/{channel}/test", {})
        # Seed 001: the form's own subject and body win over the template's.
        await post(
            client,
            admin_headers,
            f"{CHANNELS}/{channel}/test",
            {"subject": "Form subject", "message": "Form body"},
        )
        plain, custom = smtp.received
    assert plain.message()["Subject"].startswith("Checking ")
    assert plain_text(plain).startswith("House test wording: If you read this, the channel works.")
    assert plain_text(plain).rstrip().endswith(f"-- \n{SIGNATURE}")
    assert custom.rcpt_tos == [ADMIN_EMAIL]
    assert custom.message()["Subject"] == "Form subject"
    assert plain_text(custom).startswith("House test wording: Form body")
    assert SIGNATURE in plain_text(custom)


async def test_a_test_without_a_template_gets_the_default_in_the_projects_language(
    client: httpx.AsyncClient, admin_headers: dict[str, str], receiver: WebhookReceiver
) -> None:
    async with FakeSmtpServer(users={SMTP_USER: SMTP_PASSWORD}, auth_over_plain=True) as smtp:
        channel = (await post(client, admin_headers, CHANNELS, email_channel(smtp)))["id"]
        await post(client, admin_headers, f"{CHANNELS}/{channel}/test", {})
        [mail] = smtp.received
    # No settings saved: Russian, the catalogue's "test" headline.
    assert mail.message()["Subject"] == "[INFO] Проверочное сообщение от Nabat"
    assert "Если вы это читаете, канал работает." in plain_text(mail)
    hook = await webhook_channel(client, admin_headers, receiver.url)
    await post(client, admin_headers, f"{CHANNELS}/{hook}/test", {"username": "testuser"})
    [got] = receiver.received
    body = got.json()
    # A webhook still gets seed 002's payload, and now the whole event beside it.
    assert {key: body[key] for key in ("username", "serviceName", "status", "metadata")} == {
        "username": "testuser",
        "serviceName": "Nabat",
        "status": "TEST",
        "metadata": {"test": True},
    }
    assert body["event"]["type"] == "test"


async def test_a_health_notice_uses_the_projects_template_language_and_signature(
    client: httpx.AsyncClient, admin_headers: dict[str, str], app: FastAPI
) -> None:
    await sign_in_english(client, admin_headers)
    await post(
        client,
        admin_headers,
        TEMPLATES,
        {
            "channelKind": "email",
            "type": "channel.failing",
            "subject": "Broken: {{ event.subject.title }}",
            "text": "{{ event.subject.title }} fails: {{ event.message }}",
            "html": "<p>{{ event.subject.title }} fails</p>",
        },
    )
    async with FakeSmtpServer(users={SMTP_USER: SMTP_PASSWORD}, auth_over_plain=True) as smtp:
        await post(client, admin_headers, CHANNELS, email_channel(smtp, isDefault=True))
        async for broken in running_receiver():
            broken.default = Scripted(401, "bad token")
            hook = await webhook_channel(client, admin_headers, broken.url, name="orders hook")
            event = {"type": "service.down", "severity": "ERROR", "channelIds": [hook]}
            await post(client, admin_headers, "/api/v1/events", event)
            await app.state.nabat.new_worker().run_until_idle()
        [mail] = smtp.received
    assert mail.rcpt_tos == [ADMIN_EMAIL]
    assert mail.message()["Subject"] == "Broken: orders hook"
    text = plain_text(mail)
    assert text.startswith("orders hook fails: ")
    assert "401" in text
    assert text.rstrip().endswith(f"-- \n{SIGNATURE}")


def _old_routed(project_id: int, channel_id: int) -> NewDelivery:
    """A routed delivery as queued before the typed content (a ``render`` spec)."""
    event = event_snapshot(
        public_id="evt_old",
        type_key="service.down",
        type_title="Service down",
        severity="ERROR",
        message="Queued before the upgrade",
        source={"name": "Billing API", "url": None},
        subject={"objectType": "service", "title": "Billing API", "status": "DOWN"},
        labels={},
        data={},
        occurred_at=MOMENT,
        received_at=MOMENT,
    )
    payload = seed_payload(
        username="Admin",
        service_name="Billing API",
        service_url=None,
        status="DOWN",
        severity="ERROR",
        message="Queued before the upgrade",
        timestamp=MOMENT,
    )
    content = {
        "event": {**event, "eventId": 1},
        "payload": payload,
        "render": {"kind": "email", "templateId": None, "recipientName": "Admin", "language": "ru"},
        "severity": "ERROR",
    }
    return NewDelivery(project_id, channel_id, "EMAIL", content, recipient=ADMIN_EMAIL)


def _old_worded_test(project_id: int, channel_id: int, channel_type: str) -> NewDelivery:
    """A test as queued before the typed content: default text worded when queued."""
    payload = seed_payload(
        username="testuser",
        service_name="Nabat",
        service_url=None,
        status="TEST",
        severity="INFO",
        message="Old test body",
        timestamp=MOMENT,
        metadata={"test": True},
    )
    content = {
        "subject": "Old form subject",
        "text": "Old test body\nService / Сервис: Nabat",
        "html": "<p>Old test body</p>",
        "severity": "INFO",
        "payload": payload,
        "event": {"type": "test"},
    }
    recipient = ADMIN_EMAIL if channel_type == "EMAIL" else None
    return NewDelivery(
        project_id, channel_id, channel_type, content, recipient=recipient, kind="test"
    )


async def test_rows_queued_in_the_older_shapes_still_deliver(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    app: FastAPI,
    receiver: WebhookReceiver,
) -> None:
    state: AppState = app.state.nabat
    async with FakeSmtpServer(users={SMTP_USER: SMTP_PASSWORD}, auth_over_plain=True) as smtp:
        mail = await post(client, admin_headers, CHANNELS, email_channel(smtp))
        hook = await webhook_channel(client, admin_headers, receiver.url)
        project_id = (await client.get("/api/v1/projects", headers=admin_headers)).json()[0]["id"]
        old = [
            _old_routed(project_id, mail["id"]),
            _old_worded_test(project_id, mail["id"], "EMAIL"),
            _old_worded_test(project_id, hook, "WEBHOOK"),
        ]
        async with state.sessions() as session:
            await enqueue(session, old, now=state.clock.now(), max_attempts=3)
            await session.commit()
        await state.new_worker().run_until_idle()
        test, routed = sorted(smtp.received, key=lambda m: str(m.message()["Subject"]))
    # Worded now, like a new row: the default template in the project's language (Russian).
    assert routed.message()["Subject"] == "[ERROR] Сервис «Billing API» недоступен"
    assert "Queued before the upgrade" in plain_text(routed)
    assert test.message()["Subject"] == "Old form subject"
    assert "Old test body" in plain_text(test)
    [got] = receiver.received
    body = got.json()
    assert {k: v for k, v in body.items() if k not in ("deliveryId", "event")} == (
        old[2].content["payload"]
    )
    listed = await client.get("/api/v1/notifications/deliveries", headers=admin_headers)
    assert {item["status"] for item in listed.json()["items"]} == {"SENT"}


def test_content_survives_its_column_and_makes_seed_002s_payload_from_the_event() -> None:
    event = event_snapshot(
        public_id="evt_1",
        type_key="service.down",
        type_title="Service down",
        severity="CRITICAL",
        message="No answer",
        source={"name": "Billing API", "url": "https://status.example.org"},
        subject={"status": "DOWN"},
        labels={"env": "production"},
        data={},
        occurred_at=MOMENT,
        received_at=MOMENT,
    )
    content = DeliveryContent(kind="event", event=event, template_id=7, recipient_name="Anna")
    assert DeliveryContent.from_json(content.to_json()) == content
    assert content.seed() == seed_payload(
        username="Anna",
        service_name="Billing API",
        service_url="https://status.example.org",
        status="DOWN",
        severity="CRITICAL",
        message="No answer",
        timestamp=MOMENT,
        metadata={"env": "production"},
    )
    assert content.summary == "[CRITICAL] Service down"
