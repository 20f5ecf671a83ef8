"""GraphMailSender against the fake Graph and token endpoint: the sendMail body, tokens
cached and refreshed, every error row classified, the project's mail settings applied,
the SSRF guard, and no secret in any reason, log line or attempt."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from nabat.channels.contract import DeliveryError, FailureClass, OutgoingMessage
from nabat.channels.graph_mail import GraphMailConfig
from nabat.channels.graph_mail_sender import GraphMailSender
from nabat.channels.outbound import Outbound
from nabat.clock import FrozenClock
from nabat.security.ssrf import OutboundPolicy
from tests.conftest import ADMIN_EMAIL
from tests.fakes.exchange import (
    CLIENT_ID,
    CLIENT_SECRET,
    MAILBOX,
    TENANT,
    ExchangeFake,
    graph_body,
    graph_error,
)
from tests.fakes.provider import Reply
from tests.fakes.support import assert_no_secret, loopback_outbound

# The channel types whose error table this module tests (see test_channel_registry.py).
ERROR_TABLE_OF = ("GRAPH_MAIL",)

CHANNELS = "/api/v1/notifications/channels"


@pytest.fixture
async def fake() -> AsyncIterator[ExchangeFake]:
    async with ExchangeFake() as server:
        yield server


@pytest.fixture
async def outbound() -> AsyncIterator[Outbound]:
    async with loopback_outbound() as client:
        yield client


@pytest.fixture
def sender(outbound: Outbound) -> GraphMailSender:
    return GraphMailSender(outbound)


@pytest.fixture(autouse=True)
def _capture_all_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)


def settings(fake: ExchangeFake, **overrides: Any) -> dict[str, Any]:
    return {
        "tenantId": TENANT,
        "clientId": CLIENT_ID,
        "clientSecret": CLIENT_SECRET,
        "fromEmail": MAILBOX,
        "fromName": "Набат",
        "replyTo": "help@contoso.example",
        "to": ["ops@contoso.example"],
        "authorityHost": fake.base_url,
        "graphBaseUrl": fake.base_url,
        "timeout": 5,
        **overrides,
    }


def config(fake: ExchangeFake, **overrides: Any) -> GraphMailConfig:
    return GraphMailConfig.model_validate(settings(fake, **overrides))


def alert(
    recipient: str | None = None, html: str | None = "<p>db-1 is down</p>"
) -> OutgoingMessage:
    return OutgoingMessage(
        delivery_id="dlv-42",
        subject="Disk full",
        text="db-1 is down",
        html=html,
        recipient=recipient,
    )


def secrets(fake: ExchangeFake) -> list[str]:
    return [CLIENT_SECRET, *fake.tokens]


async def test_send_mail_posts_the_message_with_its_sender_and_answers_202(
    fake: ExchangeFake, sender: GraphMailSender
) -> None:
    receipt = await sender.send(config(fake), alert())

    [request] = fake.requests_to("graph")
    assert request.path == f"/v1.0/users/{MAILBOX}/sendMail"
    assert request.headers["authorization"] == f"Bearer {next(iter(fake.tokens))}"
    assert request.json() == {
        "message": {
            "subject": "Disk full",
            "body": {"contentType": "HTML", "content": "<p>db-1 is down</p>"},
            "from": {"emailAddress": {"address": MAILBOX, "name": "Набат"}},
            "toRecipients": [{"emailAddress": {"address": "ops@contoso.example"}}],
            "internetMessageId": "<dlv-42@contoso.example>",
            "replyTo": [{"emailAddress": {"address": "help@contoso.example"}}],
        },
        "saveToSentItems": False,
    }
    assert receipt.status == 202
    assert receipt.provider_id == "<dlv-42@contoso.example>"
    assert len(fake.graph_sent) == 1


async def test_a_text_only_message_is_sent_as_text_and_sent_items_kept_when_asked(
    fake: ExchangeFake, sender: GraphMailSender
) -> None:
    await sender.send(config(fake, saveToSentItems=True), alert(html=None))
    [sent] = fake.graph_sent
    assert graph_body(sent)["body"] == {"contentType": "Text", "content": "db-1 is down"}
    assert sent.body["saveToSentItems"] is True


async def test_a_person_gets_their_own_message_from_the_configured_mailbox(
    fake: ExchangeFake, sender: GraphMailSender
) -> None:
    fake.mailboxes.add("noc@contoso.example")
    await sender.send(
        config(fake, mailbox="noc@contoso.example", fromEmail="noc@contoso.example"),
        alert(recipient=" anna@contoso.example "),
    )
    [sent] = fake.graph_sent
    assert sent.mailbox == "noc@contoso.example"
    assert graph_body(sent)["toRecipients"] == [
        {"emailAddress": {"address": "anna@contoso.example"}}
    ]


async def test_one_token_serves_many_sends(fake: ExchangeFake, sender: GraphMailSender) -> None:
    for _ in range(3):
        await sender.send(config(fake), alert())
    assert len(fake.requests_to("token")) == 1
    assert len(fake.graph_sent) == 3


async def test_an_expired_token_is_refreshed_once_and_the_message_sent(
    fake: ExchangeFake, sender: GraphMailSender
) -> None:
    await sender.send(config(fake), alert())
    fake.expire_tokens()

    receipt = await sender.send(config(fake), alert())

    assert receipt.status == 202
    assert len(fake.requests_to("token")) == 2
    assert [request.headers["authorization"] for request in fake.requests_to("graph")][1:] == [
        f"Bearer {token}" for token in list(fake.tokens)
    ]
    assert len(fake.graph_sent) == 2


async def test_a_token_near_its_expiry_is_renewed_before_sending(
    fake: ExchangeFake, outbound: Outbound
) -> None:
    clock = FrozenClock()
    sender = GraphMailSender(outbound, clock=clock)
    await sender.send(config(fake), alert())
    clock.advance(3599)
    await sender.send(config(fake), alert())
    # Renewed ahead of time: no request was refused on the way.
    assert len(fake.requests_to("token")) == 2
    assert [request.headers["authorization"] for request in fake.requests_to("graph")] == [
        f"Bearer {token}" for token in fake.tokens
    ]
    assert len(fake.graph_sent) == 2


async def test_a_token_refused_twice_is_an_auth_failure(
    fake: ExchangeFake, sender: GraphMailSender, caplog: pytest.LogCaptureFixture
) -> None:
    refusal = graph_error(
        401, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience."
    )
    fake.respond_graph(refusal, refusal)

    with pytest.raises(DeliveryError) as caught:
        await sender.send(config(fake), alert())

    assert caught.value.failure_class is FailureClass.AUTH
    assert not caught.value.transient
    assert len(fake.requests_to("token")) == 2
    assert len(fake.requests_to("graph")) == 2
    assert_no_secret(secrets(fake), caught.value, caplog)


GARBAGE = Reply(500, "<html><body>Service Unavailable</body></html>", {}, "text/html")

ROWS: list[tuple[Reply, FailureClass, float | None, str]] = [
    # (Graph's answer, class, retry_after, words the reason must have)
    (
        graph_error(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again."),
        FailureClass.AUTH,
        None,
        "Mail.Send",
    ),
    (
        graph_error(403, "Authorization_RequestDenied", "Insufficient privileges."),
        FailureClass.AUTH,
        None,
        "admin consent",
    ),
    (
        graph_error(403, "ErrorSendAsDenied", "The user account may not send on behalf."),
        FailureClass.AUTH,
        None,
        "Send As",
    ),
    (
        graph_error(404, "ErrorInvalidUser", "The requested user 'x@contoso.example' is invalid."),
        FailureClass.CONFIG,
        None,
        "mailbox",
    ),
    (
        graph_error(404, "MailboxNotEnabledForRESTAPI", "The mailbox is either inactive."),
        FailureClass.CONFIG,
        None,
        "EWS",
    ),
    (
        graph_error(404, "ResourceNotFound", "Resource could not be discovered."),
        FailureClass.CONFIG,
        None,
        "mailbox",
    ),
    (
        graph_error(400, "ErrorInvalidRecipients", "At least one recipient isn't valid."),
        FailureClass.REJECTED,
        None,
        "recipient",
    ),
    (
        graph_error(400, "ErrorMessageSizeExceeded", "The message exceeds the maximum size."),
        FailureClass.REJECTED,
        None,
        "larger",
    ),
    (
        graph_error(400, "RequestBodyRead", "Cannot read the request body."),
        FailureClass.REJECTED,
        None,
        "bug",
    ),
    (
        graph_error(400, "ErrorSomethingNew", "A code nobody has seen."),
        FailureClass.REJECTED,
        None,
        "ErrorSomethingNew",
    ),
    (
        graph_error(
            429,
            "ApplicationThrottled",
            "Application is over its MailboxConcurrency limit.",
            {"Retry-After": "30"},
        ),
        FailureClass.THROTTLED,
        30.0,
        "throttling",
    ),
    (Reply(429, "", {"Retry-After": "7"}), FailureClass.THROTTLED, 7.0, "HTTP 429"),
    (
        graph_error(503, "ServiceUnavailable", "Service unavailable.", {"Retry-After": "12"}),
        FailureClass.UPSTREAM,
        12.0,
        "unavailable",
    ),
    (
        graph_error(
            503,
            "ErrorServerBusy",
            "The server cannot service this request right now.",
            {"Retry-After": "5"},
        ),
        FailureClass.THROTTLED,
        5.0,
        "busy",
    ),
    (
        graph_error(503, "ErrorMailboxStoreUnavailable", "The mailbox database is unavailable."),
        FailureClass.UPSTREAM,
        None,
        "database",
    ),
    (
        graph_error(429, "ErrorSubmissionQuotaExceeded", "Submission quota exceeded."),
        FailureClass.THROTTLED,
        None,
        "as many messages",
    ),
    (Reply(503, "", {"Retry-After": "3"}), FailureClass.UPSTREAM, 3.0, "unavailable"),
    (GARBAGE, FailureClass.UPSTREAM, None, "HTTP 500"),
    (Reply(502, ""), FailureClass.UPSTREAM, None, "HTTP 502"),
    (Reply(403, ""), FailureClass.AUTH, None, "Mail.Send"),
    (Reply(404, "not json"), FailureClass.CONFIG, None, "mailbox"),
]


@pytest.mark.parametrize("row", ROWS, ids=lambda row: f"{row[0].status}-{row[1]}")
async def test_every_error_row_has_its_class_retry_and_no_secret(
    fake: ExchangeFake,
    sender: GraphMailSender,
    caplog: pytest.LogCaptureFixture,
    row: tuple[Reply, FailureClass, float | None, str],
) -> None:
    reply, failure, retry_after, words = row
    fake.respond_graph(reply)

    with pytest.raises(DeliveryError) as caught:
        await sender.send(config(fake), alert())

    assert caught.value.failure_class is failure
    assert caught.value.transient is failure.transient
    assert caught.value.retry_after == retry_after
    assert words in caught.value.reason
    assert len(fake.requests_to("graph")) == 1
    assert_no_secret(secrets(fake), caught.value, caplog)


async def test_graph_itself_refuses_without_the_mail_send_role_or_an_unknown_mailbox(
    fake: ExchangeFake, sender: GraphMailSender
) -> None:
    fake.mail_send_role = False
    with pytest.raises(DeliveryError) as denied:
        await sender.send(config(fake), alert())
    assert denied.value.failure_class is FailureClass.AUTH

    fake.mail_send_role = True
    with pytest.raises(DeliveryError) as unknown:
        await sender.send(config(fake, mailbox="nobody@contoso.example"), alert())
    assert unknown.value.failure_class is FailureClass.CONFIG

    fake.unknown_recipients.add("ops@contoso.example")
    with pytest.raises(DeliveryError) as refused:
        await sender.send(config(fake), alert())
    assert refused.value.failure_class is FailureClass.REJECTED
    assert fake.graph_sent == []


async def test_missing_admin_consent_is_permanent_and_says_to_grant_it(
    fake: ExchangeFake, sender: GraphMailSender, caplog: pytest.LogCaptureFixture
) -> None:
    fake.consented = False
    with pytest.raises(DeliveryError) as caught:
        await sender.send(config(fake), alert())
    assert caught.value.failure_class is FailureClass.AUTH
    assert not caught.value.transient
    assert "admin consent" in caught.value.reason
    assert fake.requests_to("graph") == []
    assert_no_secret(secrets(fake), caught.value, caplog)


async def test_a_wrong_secret_is_an_auth_failure_without_the_secret(
    fake: ExchangeFake, sender: GraphMailSender, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "Wr0ng~Secret.Value-123456"
    with pytest.raises(DeliveryError) as caught:
        await sender.send(config(fake, clientSecret=wrong), alert())
    assert caught.value.failure_class is FailureClass.AUTH
    assert "AADSTS7000215" in caught.value.reason
    assert_no_secret([wrong, CLIENT_SECRET], caught.value, caplog)


async def test_without_a_recipient_or_sender_the_channel_is_misconfigured(
    fake: ExchangeFake, sender: GraphMailSender
) -> None:
    with pytest.raises(DeliveryError) as no_one:
        await sender.send(config(fake, to=[]), alert())
    assert no_one.value.failure_class is FailureClass.CONFIG
    with pytest.raises(DeliveryError) as bad:
        await sender.send(config(fake), alert(recipient="not an address"))
    assert bad.value.failure_class is FailureClass.REJECTED
    assert fake.requests == []


async def test_graph_and_the_sign_in_service_are_behind_the_ssrf_guard(
    fake: ExchangeFake,
) -> None:
    guarded = Outbound(OutboundPolicy([]))
    try:
        with pytest.raises(DeliveryError) as caught:
            await GraphMailSender(guarded).send(config(fake), alert())
    finally:
        await guarded.close()
    assert caught.value.failure_class is FailureClass.CONFIG
    assert fake.requests == []


def test_the_configuration_takes_seed_003s_app_registration_and_keeps_the_secret_secret(
    fake: ExchangeFake,
) -> None:
    parsed = config(fake, to="ops@contoso.example; dev@contoso.example")
    assert parsed.to == ["ops@contoso.example", "dev@contoso.example"]
    assert parsed.to_public()["clientSecret"] == "********"
    assert CLIENT_SECRET not in str(parsed.to_public())
    defaults = GraphMailConfig.model_validate(
        {"tenantId": TENANT, "clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET}
    )
    assert defaults.authority_host == "https://login.microsoftonline.com"
    assert defaults.graph_base_url == "https://graph.microsoft.com"
    assert defaults.save_to_sent_items is False


async def test_through_the_api_the_projects_mail_settings_and_signature_are_applied(
    client: httpx.AsyncClient, admin_headers: dict[str, str], app: FastAPI
) -> None:
    async with ExchangeFake() as fake:
        channel = await client.post(
            CHANNELS,
            json={
                "name": "exchange online",
                "type": "GRAPH_MAIL",
                "configuration": settings(fake, fromEmail=None, fromName=None, replyTo=None, to=[]),
            },
            headers=admin_headers,
        )
        assert channel.status_code == 201, channel.text
        assert CLIENT_SECRET not in channel.text
        mail = await client.put(
            "/api/v1/settings/mail",
            json={
                "fromAddress": MAILBOX,
                "fromName": "Служба мониторинга",
                "replyTo": "support@contoso.example",
                "signature": "Nabat, the alarm bell",
            },
            headers=admin_headers,
        )
        assert mail.status_code == 200, mail.text
        sent = await client.post(
            "/api/v1/notifications/send",
            json={
                "username": "admin",
                "serviceName": "Billing",
                "status": "DOWN",
                "severity": "CRITICAL",
                "message": "Billing is down",
                "channelId": channel.json()["id"],
            },
            headers=admin_headers,
        )
        assert sent.status_code == 200, sent.text
        await app.state.nabat.new_worker().run_until_idle()

        [message] = [graph_body(item) for item in fake.graph_sent]
        assert message["from"] == {
            "emailAddress": {"address": MAILBOX, "name": "Служба мониторинга"}
        }
        assert message["replyTo"] == [{"emailAddress": {"address": "support@contoso.example"}}]
        assert message["toRecipients"] == [{"emailAddress": {"address": ADMIN_EMAIL}}]
        assert "Billing" in message["subject"]
        assert "Nabat, the alarm bell" in message["body"]["content"]
        record = await client.get(
            f"/api/v1/notifications/deliveries/{sent.json()['deliveryId']}",
            headers=admin_headers,
        )
        assert record.status_code == 200, record.text
        assert record.json()["status"] == "SENT"
        for secret in secrets(fake):
            assert secret not in record.text
