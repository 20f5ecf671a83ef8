"""Every row of each SMS provider's error table gives its failure class, retry decision
and advice (CONTRACTS.md section 7), and no reason or log line holds a secret."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from nabat.channels.contract import DeliveryError, FailureClass, OutgoingMessage
from nabat.channels.sms_sender import SmsSender
from tests.fakes.provider import Reply
from tests.fakes.sms import (
    SECRETS,
    SmsFakes,
    running_sms_fakes,
    smsc_error,
    smsru_error,
    smsru_number_error,
    twilio_error,
)
from tests.fakes.support import assert_no_secret, loopback_outbound

# The channel types whose error table this module tests (see test_channel_registry.py).
ERROR_TABLE_OF = ("SMS",)

PHONE = "+79255070602"
DIGITS = "79255070602"


@pytest.fixture
async def fakes() -> AsyncIterator[SmsFakes]:
    async with running_sms_fakes() as running:
        yield running


@pytest.fixture
async def sender() -> AsyncIterator[SmsSender]:
    async with loopback_outbound() as outbound:
        yield SmsSender(outbound)


@pytest.fixture(autouse=True)
def _capture_all_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)


def message() -> OutgoingMessage:
    return OutgoingMessage(delivery_id="dlv_1", subject="Disk", text="Disk full", recipient=PHONE)


@dataclass(frozen=True)
class Row:
    """One row: the provider's answer, the class it must get, words the reason holds."""

    provider: str
    name: str
    reply: Reply
    failure_class: FailureClass
    says: str
    retry_after: float | None = None

    def __str__(self) -> str:
        return f"{self.provider}-{self.name}"


REJECTED = FailureClass.REJECTED
CONFIG = FailureClass.CONFIG
AUTH = FailureClass.AUTH
THROTTLED = FailureClass.THROTTLED
UPSTREAM = FailureClass.UPSTREAM
BAD_GATEWAY = Reply(502, "<html>502 Bad Gateway</html>", content_type="text/html")
TOO_MANY = Reply.json(
    429,
    {
        "code": 20429,
        "message": "Too Many Requests",
        "more_info": "https://www.twilio.com/docs/errors/20429",
        "status": 429,
    },
    {"Retry-After": "3"},
)


def twilio(name: str, status: int, code: int, cls: FailureClass, says: str) -> Row:
    return Row("TWILIO", name, twilio_error(status, code, f"Twilio says {name}"), cls, says)


def smsru(name: str, code: int, cls: FailureClass, says: str, *, per_number: bool = False) -> Row:
    text = f"Ошибка {code}"
    reply = smsru_number_error(DIGITS, code, text) if per_number else smsru_error(code, text)
    return Row("SMSRU", name, reply, cls, says)


def smsc(name: str, code: int, cls: FailureClass, says: str, wait: float | None = None) -> Row:
    # Errors 3, 6, 7 and 8 carry the message id.
    extra = {"id": 101} if code in (3, 6, 7, 8) else {}
    return Row("SMSC", name, smsc_error(code, f"error {code}", **extra), cls, says, wait)


ROWS = [
    twilio("invalid_to", 400, 21211, REJECTED, f"{PHONE} is not a valid phone number"),
    twilio("opted_out", 400, 21610, REJECTED, "reply START"),
    twilio("not_mobile", 400, 21614, REJECTED, f"{PHONE} is not a mobile number"),
    twilio(
        "unroutable", 400, 21612, REJECTED, f"cannot route a message from this sender to {PHONE}"
    ),
    twilio("region_disabled", 400, 21408, CONFIG, "Geo permissions"),
    twilio("trial_unverified", 400, 21608, CONFIG, "trial account"),
    twilio("from_not_capable", 400, 21606, CONFIG, "SMS-capable"),
    twilio("invalid_from", 400, 21212, CONFIG, "not a valid From"),
    twilio("no_from", 400, 21603, CONFIG, "messagingServiceSid"),
    twilio("empty_body", 400, 21602, REJECTED, "report it"),
    twilio("body_too_long", 400, 21617, REJECTED, "1,600"),
    twilio("bad_credentials", 401, 20003, AUTH, "Account SID and Auth Token"),
    twilio("account_inactive", 401, 20005, CONFIG, "balance ran out"),
    twilio("account_suspended", 401, 10001, CONFIG, "balance ran out"),
    twilio("unknown_account", 404, 20404, CONFIG, "check accountSid"),
    twilio("queue_full", 400, 21611, THROTTLED, "too many messages queued"),
    twilio("server_error", 500, 20500, UPSTREAM, "HTTP 500"),
    twilio("unknown_code", 400, 21999, REJECTED, "rejected the message (HTTP 400)"),
    twilio("unknown_code_401", 401, 21999, AUTH, "check accountSid and authToken"),
    Row("TWILIO", "too_many_requests", TOO_MANY, THROTTLED, "rate limiting", retry_after=3.0),
    Row("TWILIO", "bad_gateway_html", BAD_GATEWAY, UPSTREAM, "HTTP 502"),
    smsru("wrong_api_id", 200, AUTH, "does not know this api_id"),
    smsru("no_money", 201, CONFIG, "balance is too low"),
    smsru("bad_number", 202, REJECTED, f"{PHONE} is not a number SMS.ru can send to"),
    smsru("empty_text", 203, REJECTED, "report it"),
    smsru("sender_not_approved", 204, CONFIG, "sender name is not approved"),
    smsru("too_long", 205, REJECTED, "longer than 8 SMS"),
    smsru("daily_limit", 206, THROTTLED, "daily sending limit"),
    smsru("cannot_send_there", 207, REJECTED, f"may not send messages to {PHONE}", per_number=True),
    smsru("bad_time", 208, REJECTED, "send time"),
    smsru("stop_list", 209, REJECTED, "stop list", per_number=True),
    smsru("get_not_post", 210, REJECTED, "POST"),
    smsru("no_such_method", 211, CONFIG, "apiBaseUrl"),
    smsru("not_utf8", 212, REJECTED, "UTF-8"),
    smsru("over_100_numbers", 213, REJECTED, "100 numbers"),
    smsru("unavailable", 220, UPSTREAM, "temporarily unavailable"),
    smsru("number_daily_limit", 230, THROTTLED, f"messages to {PHONE}", per_number=True),
    smsru("bad_token", 300, AUTH, "token"),
    smsru("bad_login", 301, AUTH, "refused the api_id"),
    smsru("not_confirmed", 302, AUTH, "not confirmed"),
    smsru("unknown_code", 299, REJECTED, f"did not send the message to {PHONE}"),
    Row("SMSRU", "not_json", Reply(200, "100\n000000-1\nbalance=1"), REJECTED, "may or may not"),
    Row("SMSRU", "bad_gateway_html", BAD_GATEWAY, UPSTREAM, "HTTP 502"),
    smsc("bad_parameters", 1, REJECTED, "parameters"),
    smsc("bad_login", 2, AUTH, "login and password"),
    smsc("no_money", 3, CONFIG, "balance is too low"),
    smsc("ip_blocked", 4, THROTTLED, "blocked this server's address", wait=600.0),
    smsc("bad_date", 5, REJECTED, "report it"),
    smsc("message_denied", 6, REJECTED, "sender name"),
    smsc("bad_phone", 7, REJECTED, f"does not accept {PHONE} as a phone number"),
    smsc("undeliverable", 8, REJECTED, f"cannot deliver messages to {PHONE}"),
    smsc("unknown_code", 99, REJECTED, f"did not send the message to {PHONE}"),
    Row("SMSC", "server_error", Reply(500, "Internal Server Error"), UPSTREAM, "HTTP 500"),
    Row("SMSC", "not_json", Reply(200, "OK - 1 SMS, ID - 5"), REJECTED, "may or may not"),
    Row("GATEWAY", "bad_key", Reply.json(401, {"error": "invalid api key"}), AUTH, "HTTP 401"),
    Row("GATEWAY", "not_found", Reply.json(404, {}), FailureClass.GONE, "HTTP 404"),
    Row(
        "GATEWAY",
        "throttled",
        Reply.json(429, {"error": "slow down"}, {"Retry-After": "7"}),
        THROTTLED,
        "HTTP 429",
        retry_after=7.0,
    ),
    Row("GATEWAY", "server_error", Reply(500, "oops"), UPSTREAM, "HTTP 500"),
    Row("GATEWAY", "bad_request", Reply.json(400, {"error": "bad number"}), REJECTED, "bad number"),
    Row("GATEWAY", "timeout", Reply(408, ""), FailureClass.TIMEOUT, "HTTP 408"),
    Row("GATEWAY", "redirect", Reply(302, "", {"Location": "/"}), REJECTED, "redirect"),
    Row("GATEWAY", "ok_but_error", Reply.json(200, {"status": "error"}), REJECTED, "not 'ok'"),
    Row("GATEWAY", "ok_without_status", Reply.json(200, {"id": 1}), REJECTED, "no status"),
]


@pytest.mark.parametrize("row", ROWS, ids=str)
async def test_every_error_row_has_its_class_and_leaks_no_secret(
    fakes: SmsFakes, sender: SmsSender, row: Row, caplog: pytest.LogCaptureFixture
) -> None:
    fake = fakes.of(row.provider)
    fake.respond(row.reply)

    with pytest.raises(DeliveryError) as caught:
        await sender.send(fakes.config(row.provider), message())

    error = caught.value
    assert error.failure_class is row.failure_class
    assert error.transient is row.failure_class.transient
    assert row.says in error.reason
    assert error.retry_after == row.retry_after
    assert error.status == row.reply.status
    assert len(fake.requests) == 1
    assert_no_secret(SECRETS, error, caplog)


@pytest.mark.parametrize(
    ("provider", "reply", "says"),
    [
        ("SMSRU", smsru_number_error(DIGITS, 231, "Превышен лимит в минуту"), "within the last"),
        ("SMSRU", smsru_error(232, "Превышен лимит одинаковых сообщений за день"), "earlier today"),
        ("SMSC", smsc_error(9, "duplicate request, wait a minute"), "error 9"),
    ],
    ids=["smsru-231", "smsru-232", "smsc-9"],
)
async def test_a_repeat_the_provider_suppressed_counts_as_sent_not_as_a_failure(
    fakes: SmsFakes, sender: SmsSender, provider: str, reply: Reply, says: str
) -> None:
    fakes.of(provider).respond(reply)

    receipt = await sender.send(fakes.config(provider), message())

    assert "not sent again" in receipt.detail
    assert says in receipt.detail
    assert receipt.refused == {}
    assert len(fakes.of(provider).requests) == 1
