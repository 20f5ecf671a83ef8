"""The scheduled checks of GRAPH_MAIL and EWS against the fake Exchange: a token just
issued (never a cached one) whose Mail.Send role is read where the token can be read, and
for EWS one request that sends nothing (ResolveNames with a login, GetFolder of the
mailbox by impersonation with OAuth2); every refusal classified, no message sent, no
secret in any reason or log line."""

from __future__ import annotations

import base64
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from nabat.channels.contract import DeliveryError, FailureClass
from nabat.channels.ews import EwsConfig
from nabat.channels.ews_sender import EwsSender
from nabat.channels.graph_mail import GraphMailConfig
from nabat.channels.graph_mail_sender import GraphMailSender
from nabat.channels.ms_oauth import token_roles
from nabat.channels.outbound import Outbound
from tests.fakes.exchange import (
    CLIENT_ID,
    CLIENT_SECRET,
    EWS_PASSWORD,
    EWS_USER,
    MAILBOX,
    TENANT,
    ExchangeFake,
    aad_error,
    ews_server_busy,
    ews_unauthorized,
)
from tests.fakes.provider import Reply
from tests.fakes.support import assert_no_secret, loopback_outbound

WRONG_SECRET = "Wr0ng~secret.value-0000000000000000"
WRONG_PASSWORD = "Not-the-Pa55word-9999"
AUTODISCOVER_PATH = "/autodiscover/autodiscover.json/v1.0/{address}?Protocol=EWS"


@pytest.fixture
async def fake() -> AsyncIterator[ExchangeFake]:
    async with ExchangeFake() as server:
        yield server


@pytest.fixture
async def outbound() -> AsyncIterator[Outbound]:
    async with loopback_outbound() as client:
        yield client


@pytest.fixture(autouse=True)
def _capture_all_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)


@pytest.fixture
def _oauth_over_http(monkeypatch: pytest.MonkeyPatch) -> None:
    # requests-oauthlib sends a token only over https unless told this is a local test;
    # the fake speaks plain http on 127.0.0.1.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")


def graph(fake: ExchangeFake, **overrides: Any) -> GraphMailConfig:
    return GraphMailConfig.model_validate(
        {
            "tenantId": TENANT,
            "clientId": CLIENT_ID,
            "clientSecret": CLIENT_SECRET,
            "fromEmail": MAILBOX,
            "authorityHost": fake.base_url,
            "graphBaseUrl": fake.base_url,
            "timeout": 5,
            **overrides,
        }
    )


def ews_login(fake: ExchangeFake, **overrides: Any) -> EwsConfig:
    return EwsConfig.model_validate(
        {
            "server": fake.ews_url,
            "username": EWS_USER,
            "password": EWS_PASSWORD,
            "authType": "basic",
            "fromEmail": MAILBOX,
            "timeout": 5,
            **overrides,
        }
    )


def ews_oauth2(fake: ExchangeFake, **overrides: Any) -> EwsConfig:
    return EwsConfig.model_validate(
        {
            "server": fake.ews_url,
            "oauth2": True,
            "clientId": CLIENT_ID,
            "tenantId": TENANT,
            "clientSecret": CLIENT_SECRET,
            "authorityHost": fake.base_url,
            "fromEmail": MAILBOX,
            "timeout": 5,
            **overrides,
        }
    )


def secrets(fake: ExchangeFake) -> list[str]:
    basic = base64.b64encode(f"{EWS_USER}:{EWS_PASSWORD}".encode()).decode()
    return [EWS_PASSWORD, basic, CLIENT_SECRET, WRONG_SECRET, WRONG_PASSWORD, *fake.tokens]


def assert_nothing_sent(fake: ExchangeFake) -> None:
    assert (fake.graph_sent, fake.ews_sent) == ([], [])
    assert fake.requests_to("graph") == []


# GRAPH_MAIL


async def test_a_graph_check_is_a_new_token_with_mail_send_and_nothing_sent(
    fake: ExchangeFake, outbound: Outbound
) -> None:
    checker = GraphMailSender(outbound)
    receipt = await checker.check(graph(fake))

    assert receipt.detail == (
        f"the Microsoft sign-in service issued a token for the application {CLIENT_ID} "
        f"with Mail.Send; whether {MAILBOX} may send shows at the first message (with "
        "Mail.Send alone, no Graph request checks more without sending)"
    )
    # A second check asks again: a cached token would not prove the secret still works.
    await checker.check(graph(fake))
    assert len(fake.requests_to("token")) == 2
    assert_nothing_sent(fake)


async def test_a_graph_token_without_mail_send_fails_the_check(
    fake: ExchangeFake, outbound: Outbound, caplog: pytest.LogCaptureFixture
) -> None:
    fake.mail_send_role = False
    with pytest.raises(DeliveryError) as caught:
        await GraphMailSender(outbound).check(graph(fake))
    error = caught.value
    assert error.failure_class is FailureClass.AUTH
    assert "without the Mail.Send permission (its application permissions: none)" in error.reason
    assert "admin consent" in error.reason
    assert_nothing_sent(fake)
    assert_no_secret(secrets(fake), error, caplog)


async def test_a_graph_token_that_cannot_be_read_passes_saying_so(
    fake: ExchangeFake, outbound: Outbound
) -> None:
    fake.readable_tokens = False
    receipt = await GraphMailSender(outbound).check(graph(fake))
    assert "(its permissions not readable)" in receipt.detail
    assert_nothing_sent(fake)


@pytest.mark.parametrize(
    ("overrides", "consented", "failure_class", "code"),
    [
        ({"clientSecret": WRONG_SECRET}, True, FailureClass.AUTH, "AADSTS7000215"),
        ({"clientId": "11111111-2222-3333-4444-555555555555"}, True, FailureClass.AUTH, "700016"),
        ({"tenantId": "contoso-unknown.example"}, True, FailureClass.CONFIG, "AADSTS90002"),
        ({}, False, FailureClass.AUTH, "AADSTS65001"),
    ],
)
async def test_graph_sign_in_refusals_are_classified_without_a_secret(
    fake: ExchangeFake,
    outbound: Outbound,
    caplog: pytest.LogCaptureFixture,
    overrides: dict[str, str],
    consented: bool,
    failure_class: FailureClass,
    code: str,
) -> None:
    fake.consented = consented
    with pytest.raises(DeliveryError) as caught:
        await GraphMailSender(outbound).check(graph(fake, **overrides))
    assert caught.value.failure_class is failure_class
    assert code in caught.value.reason
    assert_nothing_sent(fake)
    assert_no_secret(secrets(fake), caught.value, caplog)


async def test_a_sign_in_service_that_is_down_is_a_passing_failure(
    fake: ExchangeFake, outbound: Outbound
) -> None:
    fake.respond_token(Reply(503, "Service Unavailable"))
    with pytest.raises(DeliveryError) as caught:
        await GraphMailSender(outbound).check(graph(fake))
    assert caught.value.failure_class is FailureClass.UPSTREAM
    assert caught.value.transient


def test_token_roles_reads_a_jwt_and_nothing_else() -> None:
    def jwt(claims: str) -> str:
        return "e30." + base64.urlsafe_b64encode(claims.encode()).decode().rstrip("=") + ".sig"

    assert token_roles(jwt('{"roles": ["Mail.Send", "User.Read.All"]}')) == frozenset(
        {"Mail.Send", "User.Read.All"}
    )
    assert token_roles(jwt('{"aud": "https://graph.microsoft.com"}')) == frozenset()
    assert token_roles(jwt('{"roles": "Mail.Send"}')) is None
    assert token_roles(jwt("[1, 2]")) is None
    assert token_roles("e30.!!!.sig") is None
    assert token_roles("EwBwA8l6BAAU-an-opaque-token") is None


# EWS with a login


async def test_an_ews_login_check_resolves_the_mailbox_and_sends_nothing(
    fake: ExchangeFake, outbound: Outbound
) -> None:
    receipt = await EwsSender(outbound).check(ews_login(fake))

    assert fake.ews_operations == ["ResolveNames"]
    [request] = fake.requests_to("ews")
    assert request.headers["authorization"].startswith("Basic ")
    assert receipt.detail == (
        f"the Exchange server at 127.0.0.1 took the login and knows the mailbox {MAILBOX} "
        "(ResolveNames); nothing was sent"
    )
    assert_nothing_sent(fake)


async def test_an_ews_login_check_of_an_unknown_mailbox_is_a_config_failure(
    fake: ExchangeFake, outbound: Outbound
) -> None:
    with pytest.raises(DeliveryError) as caught:
        await EwsSender(outbound).check(ews_login(fake, mailbox="nobody@contoso.example"))
    assert caught.value.failure_class is FailureClass.CONFIG
    assert "refused the check (ErrorNameResolutionNoResults)" in caught.value.reason
    assert "knows no mailbox with this address" in caught.value.reason


async def test_an_ews_login_refused_is_an_auth_failure_without_a_secret(
    fake: ExchangeFake, outbound: Outbound, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(DeliveryError) as caught:
        await EwsSender(outbound).check(ews_login(fake, password=WRONG_PASSWORD))
    assert caught.value.failure_class is FailureClass.AUTH
    assert "refused the login (HTTP 401)" in caught.value.reason
    assert_no_secret(secrets(fake), caught.value, caplog)


async def test_an_ews_server_that_is_busy_fails_the_check_as_throttled(
    fake: ExchangeFake, outbound: Outbound
) -> None:
    fake.respond_ews(ews_server_busy(30000))
    with pytest.raises(DeliveryError) as caught:
        await EwsSender(outbound).check(ews_login(fake))
    assert caught.value.failure_class is FailureClass.THROTTLED
    assert caught.value.retry_after == 30.0


async def test_an_ews_check_finds_the_server_by_autodiscover(
    fake: ExchangeFake, outbound: Outbound
) -> None:
    path = AUTODISCOVER_PATH.format(address=MAILBOX)
    checker = EwsSender(outbound, autodiscover=lambda address: [fake.base_url + path])
    receipt = await checker.check(ews_login(fake, server=None, autodiscover=True, mailbox=MAILBOX))
    assert len(fake.requests_to("autodiscover")) == 1
    assert fake.ews_operations == ["ResolveNames"]
    assert "knows the mailbox" in receipt.detail


# EWS with OAuth2


@pytest.mark.usefixtures("_oauth_over_http")
async def test_an_ews_oauth2_check_opens_the_mailbox_by_impersonation_with_a_new_token(
    fake: ExchangeFake, outbound: Outbound
) -> None:
    checker = EwsSender(outbound)
    receipt = await checker.check(ews_oauth2(fake))

    assert fake.ews_operations == ["GetFolder"]
    [request] = fake.requests_to("ews")
    assert request.headers["authorization"] == f"Bearer {next(iter(fake.tokens))}"
    assert f"<t:PrimarySmtpAddress>{MAILBOX}</t:PrimarySmtpAddress>" in request.body.decode()
    assert receipt.detail == (
        f"the Exchange server at 127.0.0.1 opened the mailbox {MAILBOX} by impersonation "
        "(GetFolder); nothing was sent"
    )
    await checker.check(ews_oauth2(fake))
    assert len(fake.requests_to("token")) == 2
    assert_nothing_sent(fake)


@pytest.mark.usefixtures("_oauth_over_http")
async def test_an_ews_oauth2_check_of_an_unknown_mailbox_is_a_config_failure(
    fake: ExchangeFake, outbound: Outbound
) -> None:
    with pytest.raises(DeliveryError) as caught:
        await EwsSender(outbound).check(ews_oauth2(fake, mailbox="nobody@contoso.example"))
    assert caught.value.failure_class is FailureClass.CONFIG
    assert "ErrorNonExistentMailbox" in caught.value.reason


@pytest.mark.usefixtures("_oauth_over_http")
async def test_an_ews_oauth2_token_refused_by_exchange_is_not_tried_again(
    fake: ExchangeFake, outbound: Outbound, caplog: pytest.LogCaptureFixture
) -> None:
    fake.respond_ews(ews_unauthorized())
    with pytest.raises(DeliveryError) as caught:
        await EwsSender(outbound).check(ews_oauth2(fake))
    assert caught.value.failure_class is FailureClass.AUTH
    assert "full_access_as_app" in caught.value.reason
    assert len(fake.requests_to("token")) == 1
    assert len(fake.requests_to("ews")) == 1
    assert_no_secret(secrets(fake), caught.value, caplog)


@pytest.mark.usefixtures("_oauth_over_http")
async def test_an_ews_oauth2_secret_refused_asks_exchange_nothing(
    fake: ExchangeFake, outbound: Outbound, caplog: pytest.LogCaptureFixture
) -> None:
    fake.respond_token(
        aad_error(401, "invalid_client", 7000222, "The provided client secret keys are expired.")
    )
    with pytest.raises(DeliveryError) as caught:
        await EwsSender(outbound).check(ews_oauth2(fake, clientSecret=WRONG_SECRET))
    assert caught.value.failure_class is FailureClass.AUTH
    assert "has expired" in caught.value.reason
    assert fake.requests_to("ews") == []
    assert_no_secret(secrets(fake), caught.value, caplog)
