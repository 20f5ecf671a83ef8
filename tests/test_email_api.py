"""EMAIL channels through the API: test sends and queued delivery to a real SMTP server."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from tests.conftest import ADMIN_EMAIL
from tests.fakes.smtp import SMTP_PASSWORD, SMTP_USER, FakeSmtpServer
from tests.support.errors import expect_error

CHANNELS = "/api/v1/notifications/channels"
MAIL_SETTINGS = "/api/v1/settings/mail"
GENERAL_SETTINGS = "/api/v1/settings/general"


async def project_name(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    """The name of the caller's (first) project."""
    projects = await client.get("/api/v1/projects", headers=headers)
    name: str = projects.json()[0]["name"]
    return name


def email_channel(server: FakeSmtpServer, password: str, **extra: object) -> dict[str, object]:
    return {
        "name": "mail",
        "type": "EMAIL",
        "configuration": {
            "smtpHost": server.host,
            "smtpPort": str(server.port),
            "encryption": "none",
            "auth": True,
            "username": SMTP_USER,
            "password": password,
            "fromEmail": "alerts@example.org",
            "fromName": "Nabat",
            "timeout": 5,
            **extra,
        },
    }


async def test_test_send_goes_to_the_requesting_users_address(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    async with FakeSmtpServer(users={SMTP_USER: SMTP_PASSWORD}, auth_over_plain=True) as smtp:
        created = await client.post(
            CHANNELS, json=email_channel(smtp, SMTP_PASSWORD), headers=admin_headers
        )
        channel = created.json()["id"]
        response = await client.post(
            f"{CHANNELS}/{channel}/test",
            json={"subject": "Проверка / Test", "message": "Test e-mail body"},
            headers=admin_headers,
        )
        assert response.status_code == 200, response.text
        [mail] = smtp.received
        assert mail.rcpt_tos == [ADMIN_EMAIL]
        assert mail.authenticated
        message = mail.message()
        assert message["Subject"] == "Проверка / Test"
        assert "Nabat" in message["From"]


async def test_wrong_smtp_password_is_a_named_authentication_failure_without_secrets(
    client: httpx.AsyncClient, admin_headers: dict[str, str], app: FastAPI
) -> None:
    wrong = "wrong-password-4711"
    async with FakeSmtpServer(users={SMTP_USER: SMTP_PASSWORD}, auth_over_plain=True) as smtp:
        created = await client.post(
            CHANNELS,
            json=email_channel(smtp, wrong, to=["ops@example.org"]),
            headers=admin_headers,
        )
        channel = created.json()["id"]
        response = await client.post(f"{CHANNELS}/{channel}/test", headers=admin_headers)
        body = expect_error(response, 502, "EMAIL_ERROR")
        assert "authentication" in body["error"].lower() or "login" in body["error"].lower()
        assert SMTP_USER in body["error"]
        assert body["details"][0]["failureClass"] == "auth"
        assert wrong not in response.text
        assert SMTP_PASSWORD not in response.text
        assert smtp.received == []
        record = await client.get(
            f"/api/v1/notifications/deliveries/{body['details'][0]['deliveryId']}",
            headers=admin_headers,
        )
        assert wrong not in record.text
        assert record.json()["attemptLog"][0]["failureClass"] == "auth"


async def test_a_queued_email_to_a_member_reaches_their_address(
    client: httpx.AsyncClient, admin_headers: dict[str, str], app: FastAPI
) -> None:
    async with FakeSmtpServer(users={SMTP_USER: SMTP_PASSWORD}, auth_over_plain=True) as smtp:
        created = await client.post(
            CHANNELS, json=email_channel(smtp, SMTP_PASSWORD), headers=admin_headers
        )
        settings = await client.put(
            MAIL_SETTINGS,
            json={
                "fromAddress": "noreply@example.org",
                "fromName": "Набат",
                "replyTo": "support@example.org",
            },
            headers=admin_headers,
        )
        assert settings.status_code == 200, settings.text
        sent = await client.post(
            "/api/v1/notifications/send",
            json={
                "username": "admin",
                "serviceName": "Billing",
                "status": "DOWN",
                "severity": "CRITICAL",
                "message": "Billing is down",
                "channelId": created.json()["id"],
            },
            headers=admin_headers,
        )
        assert sent.status_code == 200, sent.text
        await app.state.nabat.new_worker().run_until_idle()
        [mail] = smtp.received
        assert mail.rcpt_tos == [ADMIN_EMAIL]
        message = mail.message()
        assert "Billing" in message["Subject"]
        assert message["Reply-To"] == "support@example.org"
        assert message["Message-ID"].startswith(f"<{sent.json()['idempotencyId']}@")
        parts = [part.get_content_type() for part in message.walk()]
        assert "text/plain" in parts
        assert "text/html" in parts


async def test_only_a_missing_from_address_fails_as_config_naming_where_to_set_it(
    client: httpx.AsyncClient, admin_headers: dict[str, str], app: FastAPI
) -> None:
    async with FakeSmtpServer(users={SMTP_USER: SMTP_PASSWORD}, auth_over_plain=True) as smtp:
        channel = await client.post(
            CHANNELS,
            json=email_channel(smtp, SMTP_PASSWORD, fromEmail=None, fromName=None),
            headers=admin_headers,
        )
        assert channel.status_code == 201, channel.text
        event = {
            "type": "service.down",
            "severity": "ERROR",
            "message": "down",
            "channelIds": [channel.json()["id"]],
            "recipients": ["admin"],
        }
        posted = await client.post("/api/v1/events", json=event, headers=admin_headers)
        [delivery] = posted.json()["deliveries"]
        await app.state.nabat.new_worker().run_until_idle()
        assert smtp.received == []
        record = await client.get(
            f"/api/v1/notifications/deliveries/{delivery['id']}", headers=admin_headers
        )
        failed = record.json()
        assert failed["status"] == "DEAD"
        assert failed["lastFailureClass"] == "config"
        assert "fromEmail" in failed["lastError"]
        assert "fromAddress" in failed["lastError"]
        # The project's mail settings fill in what the channel leaves out.
        settings = await client.put(
            MAIL_SETTINGS,
            json={
                "fromAddress": "noreply@example.org",
                "fromName": "Набат",
                "replyTo": "help@example.org",
            },
            headers=admin_headers,
        )
        assert settings.status_code == 200, settings.text
        retried = await client.post(
            f"/api/v1/notifications/deliveries/{delivery['id']}/retry", headers=admin_headers
        )
        assert retried.status_code == 200, retried.text
        await app.state.nabat.new_worker().run_until_idle()
        [mail] = smtp.received
        message = mail.message()
        assert mail.mail_from == "noreply@example.org"
        assert "Набат" in str(message["From"])
        assert message["Reply-To"] == "help@example.org"


async def test_a_channels_from_email_alone_sends_with_the_project_name_and_reply_to_from(
    client: httpx.AsyncClient, admin_headers: dict[str, str], app: FastAPI
) -> None:
    async with FakeSmtpServer(users={SMTP_USER: SMTP_PASSWORD}, auth_over_plain=True) as smtp:
        channel = await client.post(
            CHANNELS,
            json=email_channel(smtp, SMTP_PASSWORD, fromName=None),
            headers=admin_headers,
        )
        event = {
            "type": "service.down",
            "severity": "ERROR",
            "message": "down",
            "channelIds": [channel.json()["id"]],
            "recipients": ["admin"],
        }
        posted = await client.post("/api/v1/events", json=event, headers=admin_headers)
        assert posted.status_code == 202, posted.text
        await app.state.nabat.new_worker().run_until_idle()
        [mail] = smtp.received
        message = mail.message()
        assert mail.mail_from == "alerts@example.org"
        assert message["From"].addresses[0].addr_spec == "alerts@example.org"
        assert message["From"].addresses[0].display_name == await project_name(
            client, admin_headers
        )
        assert message["Reply-To"] == "alerts@example.org"


async def test_a_successful_test_e_mail_says_so_in_the_projects_language(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    async with FakeSmtpServer(users={SMTP_USER: SMTP_PASSWORD}, auth_over_plain=True) as smtp:
        created = await client.post(
            CHANNELS, json=email_channel(smtp, SMTP_PASSWORD), headers=admin_headers
        )
        test = f"{CHANNELS}/{created.json()['id']}/test"
        russian = await client.post(test, headers=admin_headers)
        assert russian.status_code == 200, russian.text
        # Seed 001's words.
        assert russian.json()["message"] == "Тестовое письмо успешно отправлено"
        await client.put(GENERAL_SETTINGS, json={"language": "en"}, headers=admin_headers)
        english = await client.post(test, headers=admin_headers)
        assert english.json()["message"] == "Test e-mail sent successfully"
        assert len(smtp.received) == 2


async def test_a_failed_test_e_mail_says_so_in_the_projects_language(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    async with FakeSmtpServer(users={SMTP_USER: SMTP_PASSWORD}, auth_over_plain=True) as smtp:
        created = await client.post(
            CHANNELS, json=email_channel(smtp, "wrong-password-4711"), headers=admin_headers
        )
        test = f"{CHANNELS}/{created.json()['id']}/test"
        russian = expect_error(await client.post(test, headers=admin_headers), 502, "EMAIL_ERROR")
        assert russian["error"].startswith("Тестовое письмо не отправлено: ")
        await client.put(GENERAL_SETTINGS, json={"language": "en"}, headers=admin_headers)
        english = expect_error(await client.post(test, headers=admin_headers), 502, "EMAIL_ERROR")
        assert english["error"].startswith("Test e-mail not sent: ")


async def test_template_variables_cannot_inject_mail_headers(
    client: httpx.AsyncClient, admin_headers: dict[str, str], app: FastAPI
) -> None:
    async with FakeSmtpServer(users={SMTP_USER: SMTP_PASSWORD}, auth_over_plain=True) as smtp:
        channel = await client.post(
            CHANNELS,
            json=email_channel(smtp, SMTP_PASSWORD, replyTo="help@example.org"),
            headers=admin_headers,
        )
        template = await client.post(
            "/api/v1/templates",
            json={
                "name": "raw subject",
                "type": "alarm.raised",
                "channelKind": "email",
                "subject": "{{ event.message }}",
                "text": "{{ event.message }}",
            },
            headers=admin_headers,
        )
        assert template.status_code == 201, template.text
        evil = "disk full\r\nBcc: thief@example.net\r\nX-Evil: 1"
        event = {
            "type": "alarm.raised",
            "severity": "ERROR",
            "message": evil,
            "channelIds": [channel.json()["id"]],
            "recipients": ["admin"],
        }
        posted = await client.post("/api/v1/events", json=event, headers=admin_headers)
        assert posted.status_code == 202, posted.text
        await app.state.nabat.new_worker().run_until_idle()
        [mail] = smtp.received
        assert mail.rcpt_tos == [ADMIN_EMAIL]
        message = mail.message()
        assert message["Bcc"] is None
        assert message["X-Evil"] is None
        assert message["Subject"].startswith("disk full")
        assert "\n" not in message["Subject"]


async def test_seed_001_send_email_command_mails_fixed_addresses_with_fixed_wording(
    client: httpx.AsyncClient, admin_headers: dict[str, str], app: FastAPI
) -> None:
    # Seed 001: the platform's automaton runs "send e-mail" (addresses, subject, body) when
    # it enters a state. Here: a rule on the automaton's alarm with fixed addresses and an
    # e-mail template holding the fixed subject and body.
    async with FakeSmtpServer(users={SMTP_USER: SMTP_PASSWORD}, auth_over_plain=True) as smtp:
        channel = await client.post(
            CHANNELS, json=email_channel(smtp, SMTP_PASSWORD), headers=admin_headers
        )
        settings = await client.put(
            MAIL_SETTINGS,
            json={"allowUnregisteredRecipients": True},
            headers=admin_headers,
        )
        assert settings.status_code == 200, settings.text
        template = await client.post(
            "/api/v1/templates",
            json={
                "name": "boiler pressure",
                "channelKind": "email",
                "subject": "Давление в котле превышено",
                "text": "Объект {{ event.subject.title }}: {{ event.message }}",
            },
            headers=admin_headers,
        )
        assert template.status_code == 201, template.text
        rule = await client.post(
            "/api/v1/rules",
            json={
                "name": "automaton: send e-mail",
                "match": {"types": ["alarm.raised"], "source": "boiler-automaton"},
                "actions": [
                    {
                        "channelId": channel.json()["id"],
                        "recipients": ["chief@plant.example", "duty@plant.example"],
                        "templateId": template.json()["id"],
                    }
                ],
            },
            headers=admin_headers,
        )
        assert rule.status_code == 201, rule.text
        event = {
            "type": "alarm.raised",
            "severity": "CRITICAL",
            "source": {"name": "boiler-automaton"},
            "subject": {"objectType": "device", "objectId": "boiler-3", "title": "Котёл 3"},
            "message": "давление 9,1 бар",
        }
        posted = await client.post("/api/v1/events", json=event, headers=admin_headers)
        assert posted.status_code == 202, posted.text
        await app.state.nabat.new_worker().run_until_idle()
        assert sorted(rcpt for mail in smtp.received for rcpt in mail.rcpt_tos) == [
            "chief@plant.example",
            "duty@plant.example",
        ]
        for mail in smtp.received:
            message = mail.message()
            assert message["Subject"] == "Давление в котле превышено"
            body = message.get_body(("plain",))
            assert body is not None
            assert "Объект Котёл 3: давление 9,1 бар" in body.get_content()
