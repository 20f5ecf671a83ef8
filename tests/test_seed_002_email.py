"""Seed 002's EMAIL channel end to end: created exactly as the seed writes it, sent through
the send API, received by a real SMTP server (aiosmtpd) over STARTTLS with login."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme
from fastapi import FastAPI

from tests.conftest import ADMIN_EMAIL
from tests.fakes.smtp import FakeSmtpServer

pytest_plugins = ("tests.fakes.smtp_fixtures",)

CHANNELS = "/api/v1/notifications/channels"

# Seed 002's credentials, as written there.
SEED_USER = "your-email@gmail.com"
SEED_PASSWORD = "your-app-password"


def seed_channel(server: FakeSmtpServer) -> dict[str, Any]:
    """Seed 002's «Создание канала» body for EMAIL, pointed at the fake server."""
    return {
        "name": "Email Channel",
        "type": "EMAIL",
        "configuration": {
            "smtpHost": server.host,
            "smtpPort": str(server.port),
            "username": SEED_USER,
            "password": SEED_PASSWORD,
            "fromEmail": "alerts@yourcompany.com",
            "useTls": True,
        },
        "enabled": True,
    }


@pytest.fixture
def trusted_ca(smtp_ca: trustme.CA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> trustme.CA:
    """Make the app's default TLS context trust the fakes' CA (as an operator's system
    store would trust a real server's), without changing the app."""
    bundle = tmp_path / "ca.pem"
    smtp_ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    return smtp_ca


async def send(client: httpx.AsyncClient, headers: dict[str, str], channel: int) -> str:
    """Seed 002's send call to the admin; returns the delivery's idempotency id."""
    sent = await client.post(
        "/api/v1/notifications/send",
        json={
            "username": "admin",
            "serviceName": "My Service",
            "serviceUrl": "https://example.com",
            "status": "DOWN",
            "severity": "ERROR",
            "message": "Service is down",
            "channelId": channel,
        },
        headers=headers,
    )
    assert sent.status_code == 200, sent.text
    idempotency_id: str = sent.json()["idempotencyId"]
    return idempotency_id


async def project_name(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    """The name of the caller's project."""
    projects = await client.get("/api/v1/projects", headers=headers)
    name: str = projects.json()[0]["name"]
    return name


async def test_the_seed_email_channel_delivers_a_sent_notification_over_starttls(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    app: FastAPI,
    trusted_ca: trustme.CA,
    smtp_server_tls: ssl.SSLContext,
) -> None:
    users = {SEED_USER: SEED_PASSWORD}
    async with FakeSmtpServer(tls="starttls", tls_context=smtp_server_tls, users=users) as smtp:
        created = await client.post(CHANNELS, json=seed_channel(smtp), headers=admin_headers)
        assert created.status_code == 201, created.text
        idempotency_id = await send(client, admin_headers, created.json()["id"])
        await app.state.nabat.new_worker().run_until_idle()
        [mail] = smtp.received
        assert mail.tls
        assert mail.login == SEED_USER
        assert mail.mail_from == "alerts@yourcompany.com"
        assert mail.rcpt_tos == [ADMIN_EMAIL]
        message = mail.message()
        [sender] = message["From"].addresses
        assert sender.addr_spec == "alerts@yourcompany.com"
        # No mail settings in the project: its name signs, replies go to From.
        assert sender.display_name == await project_name(client, admin_headers)
        assert message["Reply-To"] == "alerts@yourcompany.com"
        assert message["Message-ID"].startswith(f"<{idempotency_id}@")
        assert "My Service" in message["Subject"]


async def test_the_projects_mail_settings_name_the_sender_and_take_replies(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    app: FastAPI,
    trusted_ca: trustme.CA,
    smtp_server_tls: ssl.SSLContext,
) -> None:
    users = {SEED_USER: SEED_PASSWORD}
    async with FakeSmtpServer(tls="starttls", tls_context=smtp_server_tls, users=users) as smtp:
        created = await client.post(CHANNELS, json=seed_channel(smtp), headers=admin_headers)
        saved = await client.put(
            "/api/v1/settings/mail",
            json={
                "fromAddress": "noreply@example.org",
                "fromName": "Служба поддержки",
                "replyTo": "support@example.org",
            },
            headers=admin_headers,
        )
        assert saved.status_code == 200, saved.text
        await send(client, admin_headers, created.json()["id"])
        await app.state.nabat.new_worker().run_until_idle()
        [mail] = smtp.received
        message = mail.message()
        [sender] = message["From"].addresses
        # The channel's own fromEmail wins over the project's From address.
        assert (sender.addr_spec, sender.display_name) == (
            "alerts@yourcompany.com",
            "Служба поддержки",
        )
        assert message["Reply-To"] == "support@example.org"


async def test_the_seed_email_channel_test_send_answers_in_russian(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    trusted_ca: trustme.CA,
    smtp_server_tls: ssl.SSLContext,
) -> None:
    users = {SEED_USER: SEED_PASSWORD}
    async with FakeSmtpServer(tls="starttls", tls_context=smtp_server_tls, users=users) as smtp:
        created = await client.post(CHANNELS, json=seed_channel(smtp), headers=admin_headers)
        tested = await client.post(f"{CHANNELS}/{created.json()['id']}/test", headers=admin_headers)
        assert tested.status_code == 200, tested.text
        assert tested.json()["message"] == "Тестовое письмо успешно отправлено"
        [mail] = smtp.received
        assert mail.message()["Reply-To"] == "alerts@yourcompany.com"
