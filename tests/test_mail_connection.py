"""The project's outgoing-mail connection (seed 003: "connect outgoing mail over SMTP or
EWS"): ``mailChannelId`` in the mail settings, and the send API's e-mail ``channelType``
going through it. Both databases (the ``backend`` fixture)."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from tests.conftest import ADMIN_EMAIL
from tests.fakes.smtp import FakeSmtpServer
from tests.fakes.webhook import WebhookReceiver
from tests.support.delivery import deliver, webhook_channel
from tests.support.errors import expect_error
from tests.test_settings_api import FULL_MAIL, MAIL, project_b, put_mail

CHANNELS = "/api/v1/notifications/channels"
SEND = "/api/v1/notifications/send"
DELIVERIES = "/api/v1/notifications/deliveries"
NOTIFICATION = {
    "username": "admin",
    "serviceName": "Billing",
    "status": "DOWN",
    "severity": "ERROR",
    "message": "Billing is down",
}


async def mail_channel(
    client: httpx.AsyncClient, headers: dict[str, str], server: FakeSmtpServer, name: str
) -> int:
    """An EMAIL channel sending through ``server`` without login; its id."""
    body = {
        "name": name,
        "type": "EMAIL",
        "configuration": {
            "smtpHost": server.host,
            "smtpPort": str(server.port),
            "encryption": "none",
            "auth": False,
            "fromEmail": "alerts@example.org",
            "timeout": 5,
        },
    }
    created = await client.post(CHANNELS, json=body, headers=headers)
    assert created.status_code == 201, created.text
    channel_id: int = created.json()["id"]
    return channel_id


async def connection_of(client: httpx.AsyncClient, headers: dict[str, str]) -> Any:
    answer = await client.get(MAIL, headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()["mailChannelId"]


async def channel_of(
    client: httpx.AsyncClient, headers: dict[str, str], sent: httpx.Response
) -> Any:
    """The channel the send API's answer ``sent`` queued its delivery on."""
    record = await client.get(f"{DELIVERIES}/{sent.json()['deliveryId']}", headers=headers)
    return record.json()["channelId"]


async def test_an_enabled_email_channel_is_the_connection_until_cleared(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    async with FakeSmtpServer() as smtp:
        office = await mail_channel(client, admin_headers, smtp, "Office mail")
        assert await connection_of(client, admin_headers) is None
        saved = await put_mail(client, admin_headers, {**FULL_MAIL, "mailChannelId": office})
        assert saved.status_code == 200, saved.text
        assert saved.json() == {**FULL_MAIL, "mailChannelId": office}
        # Other keys leave it alone; null clears it.
        await put_mail(client, admin_headers, {"fromName": "Nabat"})
        assert await connection_of(client, admin_headers) == office
        cleared = await put_mail(client, admin_headers, {"mailChannelId": None})
        assert cleared.json() == {**FULL_MAIL, "fromName": "Nabat", "mailChannelId": None}


async def test_a_channel_that_cannot_carry_the_projects_mail_is_refused_naming_the_field(
    client: httpx.AsyncClient, admin_headers: dict[str, str], receiver: WebhookReceiver
) -> None:
    async with FakeSmtpServer() as smtp:
        office = await mail_channel(client, admin_headers, smtp, "Office mail")
        hook = await webhook_channel(client, admin_headers, receiver.url)
        off = await mail_channel(client, admin_headers, smtp, "Old relay")
        await client.put(f"{CHANNELS}/{off}", json={"enabled": False}, headers=admin_headers)
        in_b = await project_b(client, admin_headers)
        elsewhere = await mail_channel(client, in_b, smtp, "B's mail")
        await put_mail(client, admin_headers, {"mailChannelId": office})
        for channel, words in (
            (hook, "WEBHOOK channel, which does not send e-mail; choose a channel of type EMAIL"),
            (off, "(Old relay) is disabled"),
            (elsewhere, "is not a channel of this project"),
            (999_999, "is not a channel of this project"),
        ):
            refused = await put_mail(
                client, admin_headers, {"signature": "Changed", "mailChannelId": channel}
            )
            body = expect_error(refused, 422, "VALIDATION_ERROR")
            assert body["error"].startswith("mailChannelId: ")
            assert words in body["error"]
            assert [detail["field"] for detail in body["details"]] == ["mailChannelId"]
        # Nothing of a refused change is saved.
        kept = (await client.get(MAIL, headers=admin_headers)).json()
        assert (kept["mailChannelId"], kept["signature"]) == (office, None)
        for bad in ("office", 0, -1, 2**31):
            refused = await put_mail(client, admin_headers, {"mailChannelId": bad})
            assert refused.status_code == 422, refused.text


async def test_deleting_the_channel_leaves_the_project_without_a_connection(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    async with FakeSmtpServer() as smtp:
        office = await mail_channel(client, admin_headers, smtp, "Office mail")
        await put_mail(client, admin_headers, {"mailChannelId": office})
        deleted = await client.delete(f"{CHANNELS}/{office}", headers=admin_headers)
        assert deleted.status_code == 200, deleted.text
        assert await connection_of(client, admin_headers) is None


async def test_an_email_channel_type_goes_through_the_connection(
    client: httpx.AsyncClient, admin_headers: dict[str, str], app: FastAPI
) -> None:
    async with FakeSmtpServer() as first, FakeSmtpServer() as chosen:
        relay = await mail_channel(client, admin_headers, first, "Old relay")
        office = await mail_channel(client, admin_headers, chosen, "Office mail")
        # Without a connection the type's first channel takes it, as before.
        before = await client.post(
            SEND, json={**NOTIFICATION, "channelType": "EMAIL"}, headers=admin_headers
        )
        assert before.status_code == 200, before.text
        await deliver(app)
        assert (len(first.received), len(chosen.received)) == (1, 0)

        await put_mail(client, admin_headers, {"mailChannelId": office})
        sent = await client.post(
            SEND, json={**NOTIFICATION, "channelType": "email"}, headers=admin_headers
        )
        assert sent.status_code == 200, sent.text
        record = await client.get(
            f"{DELIVERIES}/{sent.json()['deliveryId']}", headers=admin_headers
        )
        assert record.json()["channelId"] == office
        await deliver(app)
        assert (len(first.received), len(chosen.received)) == (1, 1)
        assert chosen.received[0].rcpt_tos == [ADMIN_EMAIL]
        # Naming a channel still chooses that one.
        by_id = await client.post(
            SEND, json={**NOTIFICATION, "channelId": relay}, headers=admin_headers
        )
        assert by_id.status_code == 200, by_id.text
        await deliver(app)
        assert (len(first.received), len(chosen.received)) == (2, 1)


async def test_a_disabled_connection_stops_mail_instead_of_sending_it_another_way(
    client: httpx.AsyncClient, admin_headers: dict[str, str], receiver: WebhookReceiver
) -> None:
    async with FakeSmtpServer() as smtp:
        await mail_channel(client, admin_headers, smtp, "Old relay")
        office = await mail_channel(client, admin_headers, smtp, "Office mail")
        await webhook_channel(client, admin_headers, receiver.url)
        await put_mail(client, admin_headers, {"mailChannelId": office})
        await client.put(f"{CHANNELS}/{office}", json={"enabled": False}, headers=admin_headers)
        for body in (
            {**NOTIFICATION, "channelType": "EMAIL"},
            {"notifications": [NOTIFICATION, {**NOTIFICATION, "channelType": "EMAIL"}]},
        ):
            path = SEND if "notifications" not in body else f"{SEND}/batch"
            refused = await client.post(path, json=body, headers=admin_headers)
            error = expect_error(refused, 409, "CHANNEL_DISABLED")["error"]
            assert f"mail connection, channel {office} (Office mail), is disabled" in error
        # Other types are not the connection's business.
        hooked = await client.post(
            SEND, json={**NOTIFICATION, "channelType": "WEBHOOK"}, headers=admin_headers
        )
        assert hooked.status_code == 200, hooked.text


async def test_a_connection_whose_type_no_longer_sends_mail_is_none(
    client: httpx.AsyncClient, admin_headers: dict[str, str], receiver: WebhookReceiver
) -> None:
    async with FakeSmtpServer() as smtp:
        relay = await mail_channel(client, admin_headers, smtp, "Old relay")
        office = await mail_channel(client, admin_headers, smtp, "Office mail")
        await put_mail(client, admin_headers, {"mailChannelId": office})
        changed = await client.put(
            f"{CHANNELS}/{office}",
            json={"type": "WEBHOOK", "configuration": {"url": receiver.url}},
            headers=admin_headers,
        )
        assert changed.status_code == 200, changed.text
        sent = await client.post(
            SEND, json={**NOTIFICATION, "channelType": "EMAIL"}, headers=admin_headers
        )
        assert sent.status_code == 200, sent.text
        record = await client.get(
            f"{DELIVERIES}/{sent.json()['deliveryId']}", headers=admin_headers
        )
        assert record.json()["channelId"] == relay


async def test_an_exchange_channel_is_a_connection_too(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    # Whether a type sends e-mail is the descriptor's word, not its name.
    async with FakeSmtpServer() as smtp:
        await mail_channel(client, admin_headers, smtp, "Old relay")
        body = {
            "name": "Exchange",
            "type": "EWS",
            "configuration": {
                "server": "mail.example.org",
                "username": "svc-nabat",
                "password": "not-used-here",
            },
        }
        created = await client.post(CHANNELS, json=body, headers=admin_headers)
        assert created.status_code == 201, created.text
        exchange = created.json()["id"]
        saved = await put_mail(client, admin_headers, {"mailChannelId": exchange})
        assert saved.status_code == 200, saved.text
        sent = await client.post(
            SEND, json={**NOTIFICATION, "channelType": "EMAIL"}, headers=admin_headers
        )
        assert sent.status_code == 200, sent.text
        assert await channel_of(client, admin_headers, sent) == exchange
