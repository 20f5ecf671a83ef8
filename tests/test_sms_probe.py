"""The SMS channel's scheduled check against fake Twilio, SMS.ru, SMSC.ru and gateway
servers: the account's balance is asked for and named, nothing is sent, an empty account
fails the check, the providers' refusals are classified, no reason or log line holds a
secret; a gateway is only reached, with no HTTP request at all."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import AsyncIterator

import pytest
import trustme

from nabat.channels.contract import DeliveryError, FailureClass, Receipt
from nabat.channels.outbound import Outbound
from nabat.channels.sms import SmsConfig
from nabat.channels.sms_probe import SmsChecker
from nabat.security.ssrf import OutboundPolicy
from tests.fakes.provider import Reply
from tests.fakes.sms import (
    SECRETS,
    SMSC_LOGIN,
    SMSC_PASSWORD,
    SMSRU_API_ID,
    TWILIO_ACCOUNT_SID,
    TWILIO_AUTH_TOKEN,
    SmsFakes,
    form_of,
    running_sms_fakes,
    smsc_error,
    smsru_error,
    twilio_error,
)
from tests.fakes.support import assert_no_secret, loopback_outbound

WRONG = "wrong-credential-9f8e7d6c"


@pytest.fixture
async def fakes() -> AsyncIterator[SmsFakes]:
    async with running_sms_fakes() as running:
        yield running


@pytest.fixture
async def checker() -> AsyncIterator[SmsChecker]:
    async with loopback_outbound() as outbound:
        yield SmsChecker(outbound)


@pytest.fixture(autouse=True)
def _capture_all_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)


async def failed(checker: SmsChecker, config: SmsConfig) -> DeliveryError:
    with pytest.raises(DeliveryError) as raised:
        await checker.check(config)
    return raised.value


def assert_nothing_sent(fakes: SmsFakes) -> None:
    sent = (fakes.twilio.messages, fakes.smsru.messages, fakes.smsc.messages)
    assert sent == ([], [], [])
    assert fakes.gateway.messages == []


async def test_smsru_is_asked_for_its_balance_with_the_api_id_and_sends_nothing(
    fakes: SmsFakes, checker: SmsChecker
) -> None:
    receipt = await checker.check(fakes.config("SMSRU"))

    [request] = fakes.smsru.requests
    assert (request.method, request.path) == ("POST", "/my/balance")
    assert form_of(request) == {"api_id": SMSRU_API_ID, "json": "1"}
    assert receipt.detail == "the SMS.ru account answers: balance 4122.56"
    assert_nothing_sent(fakes)


async def test_smsc_is_asked_for_its_balance_in_json_with_its_currency(
    fakes: SmsFakes, checker: SmsChecker
) -> None:
    receipt = await checker.check(fakes.config("SMSC"))

    [request] = fakes.smsc.requests
    assert (request.method, request.path) == ("POST", "/sys/balance.php")
    assert form_of(request) == {
        "login": SMSC_LOGIN,
        "psw": SMSC_PASSWORD,
        "fmt": "3",
        "cur": "1",
    }
    assert receipt.detail == "the SMSC.ru account answers: balance 1234.50 RUR"
    assert_nothing_sent(fakes)


async def test_twilio_is_asked_for_the_account_and_its_balance_with_basic_auth(
    fakes: SmsFakes, checker: SmsChecker
) -> None:
    receipt = await checker.check(fakes.config("TWILIO"))

    account = f"/2010-04-01/Accounts/{TWILIO_ACCOUNT_SID}"
    assert [(r.method, r.path) for r in fakes.twilio.requests] == [
        ("GET", f"{account}.json"),
        ("GET", f"{account}/Balance.json"),
    ]
    assert all(r.headers["authorization"].startswith("Basic ") for r in fakes.twilio.requests)
    assert receipt.detail == "the Twilio account answers: balance 12.34 USD"
    # The account resource carries the auth token; nothing of it reaches the receipt.
    assert TWILIO_AUTH_TOKEN not in receipt.detail
    assert_nothing_sent(fakes)


async def test_a_twilio_trial_account_is_named_as_one(fakes: SmsFakes, checker: SmsChecker) -> None:
    fakes.twilio.kind = "Trial"
    receipt = await checker.check(fakes.config("TWILIO"))
    assert receipt.detail == (
        "the Twilio account answers: balance 12.34 USD; a trial account: it sends only to "
        "verified numbers"
    )


async def test_a_twilio_account_without_a_balance_of_its_own_passes_saying_so(
    fakes: SmsFakes, checker: SmsChecker
) -> None:
    fakes.twilio.respond(
        Reply.json(200, {"sid": TWILIO_ACCOUNT_SID, "status": "active", "type": "Full"}),
        twilio_error(404, 20404, "The requested resource was not found"),
    )
    receipt = await checker.check(fakes.config("TWILIO"))
    assert receipt.detail == "the Twilio account answers: no balance shown"


@pytest.mark.parametrize(
    ("provider", "empty", "shown"),
    [
        ("SMSRU", 0.0, "balance 0.0"),
        ("SMSRU", -3.5, "balance -3.5"),
        ("SMSC", "0.00", "balance 0.00 RUR"),
        ("TWILIO", "-0.42", "balance -0.42 USD"),
    ],
)
async def test_an_account_with_no_money_left_fails_the_check_naming_the_balance(
    fakes: SmsFakes, checker: SmsChecker, provider: str, empty: float | str, shown: str
) -> None:
    if provider == "SMSRU":
        fakes.smsru.balance = float(empty)
    elif provider == "SMSC":
        fakes.smsc.balance = str(empty)
    else:
        fakes.twilio.balance = str(empty)
    error = await failed(checker, fakes.config(provider))
    assert error.failure_class is FailureClass.CONFIG
    assert "has no money left" in error.reason
    assert f"({shown})" in error.reason
    assert "top it up" in error.reason
    assert_nothing_sent(fakes)


async def test_an_smsc_credit_limit_counts_with_the_balance(
    fakes: SmsFakes, checker: SmsChecker
) -> None:
    fakes.smsc.balance, fakes.smsc.credit = "-50.00", "100.00"
    receipt = await checker.check(fakes.config("SMSC"))
    assert receipt.detail == (
        "the SMSC.ru account answers: balance 50.00 RUR; with a credit limit of 100.00"
    )
    fakes.smsc.credit = "50.00"
    error = await failed(checker, fakes.config("SMSC"))
    assert "has no money left (balance 0.00 RUR; with a credit limit of 50.00)" in error.reason


@pytest.mark.parametrize(
    ("provider", "wrong", "says"),
    [
        ("SMSRU", {"apiId": WRONG}, "SMS.ru does not know this api_id"),
        ("SMSC", {"smscPassword": WRONG}, "SMSC.ru refused the login and password"),
        ("TWILIO", {"authToken": WRONG}, "Twilio refused the Account SID and Auth Token"),
    ],
)
async def test_wrong_credentials_are_auth_failures_without_a_secret_in_sight(
    fakes: SmsFakes,
    checker: SmsChecker,
    caplog: pytest.LogCaptureFixture,
    provider: str,
    wrong: dict[str, str],
    says: str,
) -> None:
    error = await failed(checker, fakes.config(provider, **wrong))
    assert error.failure_class is FailureClass.AUTH
    assert says in error.reason
    assert_no_secret((*SECRETS, WRONG), error, caplog)


@pytest.mark.parametrize(
    ("status", "words"),
    [("suspended", "is not active"), ("closed", "is closed")],
)
async def test_a_twilio_account_that_cannot_send_fails_the_check(
    fakes: SmsFakes, checker: SmsChecker, status: str, words: str
) -> None:
    fakes.twilio.status = status
    error = await failed(checker, fakes.config("TWILIO"))
    assert error.failure_class is FailureClass.CONFIG
    assert words in error.reason
    # No balance is asked for an account that cannot send.
    assert len(fakes.twilio.requests) == 1


@pytest.mark.parametrize(
    ("provider", "reply", "failure_class", "words"),
    [
        ("SMSRU", smsru_error(220, "Сервис временно недоступен"), FailureClass.UPSTREAM, "220"),
        ("SMSRU", smsru_error(301, "Неправильный пароль"), FailureClass.AUTH, "refused the api_id"),
        ("SMSRU", smsru_error(999, "Что-то новое"), FailureClass.REJECTED, "balance request"),
        ("SMSRU", Reply(200, "<html>proxy</html>"), FailureClass.CONFIG, "apiBaseUrl"),
        ("SMSRU", Reply(503, "busy"), FailureClass.UPSTREAM, "503"),
        ("SMSC", smsc_error(4, "IP blocked"), FailureClass.THROTTLED, "blocked"),
        ("SMSC", smsc_error(9, "too many requests"), FailureClass.THROTTLED, "balance requests"),
        ("SMSC", smsc_error(1, "parameters error"), FailureClass.REJECTED, "bug in Nabat"),
        ("TWILIO", twilio_error(429, 20429, "Too Many Requests"), FailureClass.THROTTLED, "rate"),
        ("TWILIO", Reply(500, "oops"), FailureClass.UPSTREAM, "500"),
    ],
)
async def test_provider_refusals_of_the_balance_request_are_classified(
    fakes: SmsFakes,
    checker: SmsChecker,
    provider: str,
    reply: Reply,
    failure_class: FailureClass,
    words: str,
) -> None:
    fakes.of(provider).respond(reply)
    error = await failed(checker, fakes.config(provider))
    assert error.failure_class is failure_class, error.reason
    assert words in error.reason


async def test_smsc_blocking_the_address_waits_ten_minutes(
    fakes: SmsFakes, checker: SmsChecker
) -> None:
    fakes.smsc.respond(smsc_error(4, "IP blocked"))
    error = await failed(checker, fakes.config("SMSC"))
    assert error.retry_after == 600.0


async def test_a_provider_echoing_the_credential_back_has_it_redacted(
    fakes: SmsFakes, checker: SmsChecker, caplog: pytest.LogCaptureFixture
) -> None:
    fakes.smsru.respond(smsru_error(200, f"api_id {SMSRU_API_ID} is unknown"))
    error = await failed(checker, fakes.config("SMSRU"))
    assert "<redacted>" in error.reason
    assert_no_secret(SECRETS, error, caplog)


async def test_a_gateway_is_reached_without_any_http_request(
    fakes: SmsFakes, checker: SmsChecker
) -> None:
    receipt: Receipt = await checker.check(fakes.config("GATEWAY"))

    port = fakes.gateway.base_url.rsplit(":", 1)[1]
    assert receipt.detail.startswith(f"the SMS gateway at 127.0.0.1:{port} took a connection;")
    assert "credentials and answers are checked only by real sends" in receipt.detail
    assert fakes.gateway.requests == []
    assert_nothing_sent(fakes)


async def test_a_gateway_that_takes_no_connection_is_a_network_failure(
    fakes: SmsFakes, checker: SmsChecker
) -> None:
    closed = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = closed.sockets[0].getsockname()[1]
    closed.close()
    await closed.wait_closed()
    config = fakes.config("GATEWAY", gatewayUrl=f"http://127.0.0.1:{port}/send?to={{to}}")
    error = await failed(checker, config)
    assert error.failure_class is FailureClass.NETWORK
    assert f"cannot reach the SMS gateway at 127.0.0.1:{port}" in error.reason


async def test_a_gateway_the_outbound_policy_refuses_is_not_connected_to(
    fakes: SmsFakes,
) -> None:
    outbound = Outbound(OutboundPolicy())
    try:
        error = await failed(SmsChecker(outbound), fakes.config("GATEWAY"))
    finally:
        await outbound.close()
    assert error.failure_class is FailureClass.CONFIG
    assert "NABAT_OUTBOUND_ALLOW" in error.reason
    assert fakes.gateway.requests == []


async def test_a_gateway_whose_certificate_is_not_trusted_is_a_config_failure(
    fakes: SmsFakes, checker: SmsChecker, caplog: pytest.LogCaptureFixture
) -> None:
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    trustme.CA().issue_cert("127.0.0.1").configure_cert(server_tls)
    handshakes: list[bool] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handshakes.append(True)
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=server_tls)
    port = server.sockets[0].getsockname()[1]
    url = f"https://127.0.0.1:{port}/send?to={{to}}&text={{text}}&key={{secret}}"
    try:
        error = await failed(checker, fakes.config("GATEWAY", gatewayUrl=url))
    finally:
        server.close()
        await server.wait_closed()
    assert error.failure_class is FailureClass.CONFIG
    assert f"the TLS connection to the SMS gateway at 127.0.0.1:{port} failed" in error.reason
    assert handshakes == []
    assert_no_secret(SECRETS, error, caplog)
