"""EwsSender against the fake EWS endpoint (and its token endpoint): CreateItem as
exchangelib sends it, login or OAuth2, every error row classified, the event loop free
while Exchange is slow, the SSRF guard before any connection, Autodiscover, the project's
mail settings applied, and no secret in any reason, log line or attempt."""

from __future__ import annotations

import asyncio
import base64
import logging
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from nabat.channels.contract import DeliveryError, FailureClass, OutgoingMessage
from nabat.channels.ews import EwsConfig
from nabat.channels.ews_autodiscover import autodiscover_urls
from nabat.channels.ews_sender import EwsSender
from nabat.channels.outbound import Outbound
from nabat.security.ssrf import OutboundPolicy
from tests.conftest import ADMIN_EMAIL
from tests.fakes.exchange import (
    CLIENT_ID,
    CLIENT_SECRET,
    EWS_PASSWORD,
    EWS_USER,
    MAILBOX,
    TENANT,
    ExchangeFake,
    ews_create_item,
    ews_fault,
    ews_server_busy,
    ews_unauthorized,
)
from tests.fakes.provider import Reply
from tests.fakes.support import assert_no_secret, loopback_outbound

# The channel types whose error table this module tests (see test_channel_registry.py).
ERROR_TABLE_OF = ("EWS",)

CHANNELS = "/api/v1/notifications/channels"
AUTODISCOVER_PATH = "/autodiscover/autodiscover.json/v1.0/{address}?Protocol=EWS"


@pytest.fixture
async def fake() -> AsyncIterator[ExchangeFake]:
    async with ExchangeFake() as server:
        yield server


@pytest.fixture
async def outbound() -> AsyncIterator[Outbound]:
    async with loopback_outbound() as client:
        yield client


@pytest.fixture
def sender(outbound: Outbound) -> EwsSender:
    return EwsSender(outbound)


@pytest.fixture(autouse=True)
def _capture_all_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)


@pytest.fixture
def _oauth_over_http(monkeypatch: pytest.MonkeyPatch) -> None:
    # requests-oauthlib sends a token only over https unless told this is a local test;
    # the fake speaks plain http on 127.0.0.1.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")


def login(fake: ExchangeFake, **overrides: Any) -> dict[str, Any]:
    return {
        "server": fake.ews_url,
        "username": EWS_USER,
        "password": EWS_PASSWORD,
        "authType": "basic",
        "fromEmail": MAILBOX,
        "fromName": "Набат",
        "replyTo": "help@contoso.example",
        "to": ["ops@contoso.example"],
        # Generous: exchangelib runs on threads, which a loaded machine starves.
        "timeout": 15,
        **overrides,
    }


def oauth2(fake: ExchangeFake, **overrides: Any) -> dict[str, Any]:
    return {
        "server": fake.ews_url,
        "oauth2": True,
        "clientId": CLIENT_ID,
        "tenantId": TENANT,
        "clientSecret": CLIENT_SECRET,
        "authorityHost": fake.base_url,
        "fromEmail": MAILBOX,
        "to": ["ops@contoso.example"],
        # Generous: exchangelib runs on threads, which a loaded machine starves.
        "timeout": 15,
        **overrides,
    }


def config(settings: dict[str, Any]) -> EwsConfig:
    return EwsConfig.model_validate(settings)


def alert(
    recipient: str | None = None, html: str | None = "<p>db-1 is down</p>"
) -> OutgoingMessage:
    return OutgoingMessage(
        delivery_id="dlv-7",
        subject="Disk full",
        text="db-1 is down",
        html=html,
        recipient=recipient,
    )


def secrets(fake: ExchangeFake) -> list[str]:
    basic = base64.b64encode(f"{EWS_USER}:{EWS_PASSWORD}".encode()).decode()
    return [EWS_PASSWORD, basic, CLIENT_SECRET, *fake.tokens]


async def test_a_message_is_one_create_item_send_only_with_its_sender(
    fake: ExchangeFake, sender: EwsSender
) -> None:
    receipt = await sender.send(config(login(fake)), alert())

    [sent] = fake.ews_sent
    assert sent.disposition == "SendOnly"
    assert sent.version == "Exchange2013"
    assert sent.authorization == "Basic"
    assert sent.impersonated is None
    assert sent.subject == "Disk full"
    assert (sent.body_type, sent.body) == ("HTML", "<p>db-1 is down</p>")
    assert sent.to == ["ops@contoso.example"]
    assert (sent.from_address, sent.from_name) == (MAILBOX, "Набат")
    assert sent.reply_to == ["help@contoso.example"]
    assert sent.message_id == "<dlv-7@contoso.example>"
    assert len(fake.requests_to("ews")) == 1
    assert receipt.provider_id == "<dlv-7@contoso.example>"


async def test_a_text_only_message_goes_as_text_to_the_persons_address(
    fake: ExchangeFake, sender: EwsSender
) -> None:
    await sender.send(config(login(fake)), alert(recipient="anna@contoso.example", html=None))
    [sent] = fake.ews_sent
    assert (sent.body_type, sent.body) == ("Text", "db-1 is down")
    assert sent.to == ["anna@contoso.example"]


@pytest.mark.usefixtures("_oauth_over_http")
async def test_with_oauth2_the_shared_token_client_signs_in_and_exchange_impersonates(
    fake: ExchangeFake, sender: EwsSender
) -> None:
    for _ in range(2):
        await sender.send(config(oauth2(fake)), alert())

    assert len(fake.requests_to("token")) == 1
    [token_request] = fake.requests_to("token")
    assert b"scope=https%3A%2F%2Foutlook.office365.com%2F.default" in token_request.body
    assert [sent.authorization for sent in fake.ews_sent] == ["Bearer", "Bearer"]
    assert [sent.impersonated for sent in fake.ews_sent] == [MAILBOX, MAILBOX]


@pytest.mark.usefixtures("_oauth_over_http")
async def test_an_expired_token_is_refreshed_once(
    fake: ExchangeFake, sender: EwsSender, caplog: pytest.LogCaptureFixture
) -> None:
    await sender.send(config(oauth2(fake)), alert())
    fake.expire_tokens()

    await sender.send(config(oauth2(fake)), alert())

    assert len(fake.requests_to("token")) == 2
    assert len(fake.ews_sent) == 2
    # A token refused twice is an auth failure.
    fake.respond_ews(ews_unauthorized(), ews_unauthorized())
    with pytest.raises(DeliveryError) as caught:
        await sender.send(config(oauth2(fake)), alert())
    assert caught.value.failure_class is FailureClass.AUTH
    assert "full_access_as_app" in caught.value.reason
    assert len(fake.requests_to("token")) == 3
    assert_no_secret(secrets(fake), caught.value, caplog)


async def test_a_wrong_password_is_an_auth_failure_without_the_password(
    fake: ExchangeFake, sender: EwsSender, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "Wrong-Pa55word-9"
    with pytest.raises(DeliveryError) as caught:
        await sender.send(config(login(fake, password=wrong)), alert())

    assert caught.value.failure_class is FailureClass.AUTH
    assert not caught.value.transient
    assert "username" in caught.value.reason
    assert fake.ews_sent == []
    basic = base64.b64encode(f"{EWS_USER}:{wrong}".encode()).decode()
    assert_no_secret([wrong, basic, *secrets(fake)], caught.value, caplog)


ROWS: list[tuple[Reply, FailureClass, float | None, str]] = [
    # (what EWS answers, class, retry_after, words the reason must have)
    (ews_server_busy(2500), FailureClass.THROTTLED, 2.5, "2.5 s"),
    (
        ews_fault(
            "ErrorMailboxStoreUnavailable", "The mailbox database is temporarily unavailable."
        ),
        FailureClass.UPSTREAM,
        None,
        "database",
    ),
    (
        ews_fault("ErrorInternalServerError", "An internal server error occurred."),
        FailureClass.UPSTREAM,
        None,
        "will retry",
    ),
    (
        ews_fault("ErrorInternalServerTransientError", "A transient error occurred."),
        FailureClass.UPSTREAM,
        None,
        "passing",
    ),
    (
        ews_fault("ErrorExceededConnectionCount", "You have exceeded the connection count."),
        FailureClass.THROTTLED,
        None,
        "connections",
    ),
    (
        ews_create_item("Error", "ErrorInvalidRecipients", "At least one recipient isn't valid."),
        FailureClass.REJECTED,
        None,
        "recipient",
    ),
    (
        ews_create_item("Error", "ErrorMessageSizeExceeded", "The message exceeds the limit."),
        FailureClass.REJECTED,
        None,
        "larger",
    ),
    (
        ews_create_item("Error", "ErrorQuotaExceeded", "The mailbox is over its quota."),
        FailureClass.REJECTED,
        None,
        "quota",
    ),
    (
        ews_create_item("Error", "ErrorSubmissionQuotaExceeded", "Submission quota exceeded."),
        FailureClass.THROTTLED,
        None,
        "as many messages",
    ),
    (
        ews_create_item("Error", "ErrorSendAsDenied", "The user may not send as this address."),
        FailureClass.AUTH,
        None,
        "Send As",
    ),
    (
        ews_create_item("Error", "ErrorAccessDenied", "Access is denied."),
        FailureClass.AUTH,
        None,
        "Send As",
    ),
    (
        ews_fault("ErrorNonExistentMailbox", "The SMTP address has no mailbox associated with it."),
        FailureClass.CONFIG,
        None,
        "mailbox",
    ),
    (
        ews_fault("ErrorImpersonateUserDenied", "The account does not have permission."),
        FailureClass.AUTH,
        None,
        "impersonation",
    ),
    (
        ews_fault("ErrorSchemaValidation", "The request failed schema validation."),
        FailureClass.REJECTED,
        None,
        "bug",
    ),
    (ews_unauthorized(), FailureClass.AUTH, None, "HTTP 401"),
    (Reply(503, "", {}, "text/html"), FailureClass.UPSTREAM, None, "passing"),
    (
        Reply(500, "<html>Runtime Error</html>", {}, "text/html"),
        FailureClass.UPSTREAM,
        None,
        "HTTP 500",
    ),
    (
        Reply(404, "<html>Not Found</html>", {}, "text/html"),
        FailureClass.CONFIG,
        None,
        "no EWS at this URL",
    ),
    (
        Reply(302, "", {"Location": "https://owa.contoso.example/owa/"}, "text/html"),
        FailureClass.CONFIG,
        None,
        "owa.contoso.example",
    ),
]


@pytest.mark.parametrize("row", ROWS, ids=lambda row: f"{row[0].status}-{row[1]}-{row[3]}")
async def test_every_error_row_has_its_class_retry_and_no_secret(
    fake: ExchangeFake,
    sender: EwsSender,
    caplog: pytest.LogCaptureFixture,
    row: tuple[Reply, FailureClass, float | None, str],
) -> None:
    reply, failure, retry_after, words = row
    fake.respond_ews(reply)

    with pytest.raises(DeliveryError) as caught:
        await sender.send(config(login(fake)), alert())

    assert caught.value.failure_class is failure
    assert caught.value.transient is failure.transient
    assert caught.value.retry_after == retry_after
    assert words in caught.value.reason
    # FailFast: exchangelib made exactly one request, no retries of its own.
    assert len(fake.requests_to("ews")) == 1
    assert_no_secret(secrets(fake), caught.value, caplog)


async def test_a_server_refusing_the_2013_schema_is_asked_in_the_next_one(
    fake: ExchangeFake, sender: EwsSender
) -> None:
    fake.respond_ews(
        ews_fault("ErrorInvalidServerVersion", "The specified server version is invalid.")
    )
    await sender.send(config(login(fake)), alert())
    [sent] = fake.ews_sent
    assert sent.version != "Exchange2013"
    assert len(fake.requests_to("ews")) == 2


async def test_the_fake_refuses_unknown_recipients_as_exchange_does(
    fake: ExchangeFake, sender: EwsSender
) -> None:
    fake.unknown_recipients.add("ops@contoso.example")
    with pytest.raises(DeliveryError) as caught:
        await sender.send(config(login(fake)), alert())
    assert caught.value.failure_class is FailureClass.REJECTED
    assert "At least one recipient" in caught.value.reason


async def test_the_event_loop_keeps_running_while_exchange_is_slow(
    fake: ExchangeFake, sender: EwsSender
) -> None:
    fake.respond_ews(Reply(200, ews_create_item().body, {}, "text/xml", delay=0.5))
    sending = asyncio.create_task(sender.send(config(login(fake)), alert()))
    turns = 0
    while not sending.done():
        await asyncio.sleep(0.01)
        turns += 1
    await sending
    # Blocked, the loop would have come round once, after the send.
    assert turns >= 10
    assert len(fake.ews_sent) == 0  # the scripted answer stood in for the fake's own
    assert len(fake.requests_to("ews")) == 1


async def test_a_server_slower_than_the_timeout_is_a_transient_timeout(
    fake: ExchangeFake, sender: EwsSender
) -> None:
    fake.respond_ews(Reply(200, ews_create_item().body, {}, "text/xml", delay=1.0))
    with pytest.raises(DeliveryError) as caught:
        await sender.send(config(login(fake, timeout=0.3)), alert())
    assert caught.value.failure_class is FailureClass.TIMEOUT
    assert caught.value.transient


async def test_an_unreachable_server_is_a_transient_network_failure(sender: EwsSender) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with pytest.raises(DeliveryError) as caught:
        await sender.send(config(login_to(f"http://127.0.0.1:{port}/EWS/Exchange.asmx")), alert())
    assert caught.value.failure_class is FailureClass.NETWORK
    assert caught.value.transient


def login_to(server: str) -> dict[str, Any]:
    return {
        "server": server,
        "username": EWS_USER,
        "password": EWS_PASSWORD,
        "authType": "basic",
        "fromEmail": MAILBOX,
        "to": ["ops@contoso.example"],
        # Generous: exchangelib runs on threads, which a loaded machine starves.
        "timeout": 15,
    }


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_a_refused_destination_is_refused_before_any_connection(
    fake: ExchangeFake, host: str, caplog: pytest.LogCaptureFixture
) -> None:
    # "localhost" is a name: the thread's own connection guard refuses the address it
    # resolves to, as exchangelib is about to connect.
    guarded = Outbound(OutboundPolicy([]))
    try:
        with pytest.raises(DeliveryError) as caught:
            await EwsSender(guarded).send(
                config(login(fake, server=fake.ews_url.replace("127.0.0.1", host))), alert()
            )
    finally:
        await guarded.close()
    assert caught.value.failure_class is FailureClass.CONFIG
    assert "NABAT_OUTBOUND_ALLOW" in caught.value.reason
    assert fake.requests == []
    assert_no_secret(secrets(fake), caught.value, caplog)


async def test_autodiscover_finds_the_endpoint_once_for_many_sends(
    fake: ExchangeFake, outbound: Outbound
) -> None:
    path = AUTODISCOVER_PATH.format(address=MAILBOX)
    sender = EwsSender(outbound, autodiscover=lambda address: [fake.base_url + path])
    settings = login(fake, server=None, autodiscover=True, mailbox=MAILBOX)

    for _ in range(2):
        await sender.send(config(settings), alert())

    [asked] = fake.requests_to("autodiscover")
    assert asked.headers.get("authorization") is None
    assert len(fake.ews_sent) == 2


async def test_autodiscover_follows_a_redirect_and_says_when_it_finds_nothing(
    fake: ExchangeFake, outbound: Outbound
) -> None:
    path = AUTODISCOVER_PATH.format(address=MAILBOX)
    nowhere = AUTODISCOVER_PATH.format(address="nobody@contoso.example")
    fake.respond_autodiscover(Reply(302, "", {"Location": path}))
    sender = EwsSender(outbound, autodiscover=lambda address: [fake.base_url + nowhere])
    await sender.send(config(login(fake, server=None, autodiscover=True, mailbox=MAILBOX)), alert())
    assert len(fake.requests_to("autodiscover")) == 2
    assert len(fake.ews_sent) == 1

    with pytest.raises(DeliveryError) as caught:
        await sender.send(
            config(login(fake, server=None, autodiscover=True, mailbox="noc@contoso.example")),
            alert(),
        )
    assert caught.value.failure_class is FailureClass.CONFIG
    assert "set server" in caught.value.reason


def test_autodiscover_asks_the_autodiscover_host_then_the_domain() -> None:
    assert autodiscover_urls("noc@Contoso.example") == [
        "https://autodiscover.contoso.example/autodiscover/autodiscover.json/v1.0/"
        "noc@Contoso.example?Protocol=EWS",
        "https://contoso.example/autodiscover/autodiscover.json/v1.0/"
        "noc@Contoso.example?Protocol=EWS",
    ]


def test_a_host_name_means_the_servers_ews_url() -> None:
    parsed = EwsConfig.model_validate(login_to("mail.contoso.example"))
    assert parsed.endpoint == "https://mail.contoso.example/EWS/Exchange.asmx"
    assert parsed.auth_type == "ntlm" or parsed.auth_type == "basic"
    assert EwsConfig.model_validate({**login_to("x"), "authType": "ntlm"}).auth_type == "ntlm"


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({"server": None}, "server"),
        ({"autodiscover": True}, "autodiscover"),
        ({"server": None, "autodiscover": True}, "mailbox"),
        ({"password": None}, "password"),
        ({"username": None}, "username"),
        ({"oauth2": True}, "clientId"),
        ({"oauth2": True, "clientId": CLIENT_ID, "tenantId": TENANT}, "clientSecret"),
        ({"server": "http://mail.contoso.example/EWS/Exchange.asmx"}, "server"),
        ({"server": "https://svc:pw@mail.contoso.example/EWS/Exchange.asmx"}, "server"),
        ({"server": "mail.contoso.example/path"}, "server"),
    ],
)
def test_the_configuration_says_what_is_missing_or_wrong(
    settings: dict[str, Any], key: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        EwsConfig.model_validate({**login_to("mail.contoso.example"), **settings})
    assert key in str(caught.value)


def test_the_fields_of_the_way_not_chosen_may_stay_stored_and_the_form_hides_them() -> None:
    both = EwsConfig.model_validate(
        {
            **login_to("mail.contoso.example"),
            "oauth2": True,
            "clientId": CLIENT_ID,
            "tenantId": TENANT,
            "clientSecret": CLIENT_SECRET,
        }
    )
    assert both.oauth2
    public = both.to_public()
    assert public["password"] == public["clientSecret"] == "********"
    properties = EwsConfig.model_json_schema(by_alias=True)["properties"]
    shown = {key: node.get("x-shown-when") for key, node in properties.items()}
    assert shown["password"] == shown["username"] == shown["authType"] == {"oauth2": False}
    assert shown["clientId"] == shown["tenantId"] == shown["clientSecret"] == {"oauth2": True}
    assert shown["server"] is None
    assert shown["fromEmail"] is None


async def test_through_the_api_the_projects_mail_settings_apply_and_no_attempt_holds_a_secret(
    client: httpx.AsyncClient, admin_headers: dict[str, str], app: FastAPI
) -> None:
    async with ExchangeFake() as fake:
        channel = await client.post(
            CHANNELS,
            json={
                "name": "exchange",
                "type": "EWS",
                "configuration": login(fake, fromEmail=None, fromName=None, replyTo=None, to=[]),
            },
            headers=admin_headers,
        )
        assert channel.status_code == 201, channel.text
        assert EWS_PASSWORD not in channel.text
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

        async def send() -> str:
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
            delivery: str = sent.json()["deliveryId"]
            return delivery

        await send()
        [sent] = fake.ews_sent
        assert (sent.from_address, sent.from_name) == (MAILBOX, "Служба мониторинга")
        assert sent.reply_to == ["support@contoso.example"]
        assert sent.to == [ADMIN_EMAIL]
        assert "Billing" in sent.subject
        assert "Nabat, the alarm bell" in sent.body

        fake.ews_users[EWS_USER] = "the password was changed"
        failed = await send()
        record = await client.get(
            f"/api/v1/notifications/deliveries/{failed}", headers=admin_headers
        )
        assert record.status_code == 200, record.text
        assert record.json()["attemptLog"][0]["failureClass"] == "auth"
        for secret in secrets(fake):
            assert secret not in record.text
