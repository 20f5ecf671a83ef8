"""SmsSender against fake Twilio, SMS.ru, SMSC.ru and gateway servers: the requests,
the numbers, the text and its parts, several recipients, and secrecy."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable

import pytest

from nabat.channels.contract import DeliveryError, FailureClass, OutgoingMessage
from nabat.channels.sms_segments import is_gsm7, segments
from nabat.channels.sms_sender import SmsSender
from tests.fakes.provider import Reply
from tests.fakes.sms import (
    GATEWAY_KEY,
    SECRETS,
    SMSC_LOGIN,
    SMSC_PASSWORD,
    SMSRU_API_ID,
    TWILIO_ACCOUNT_SID,
    TWILIO_AUTH_TOKEN,
    TWILIO_BASIC,
    TWILIO_SERVICE_SID,
    SmsFakes,
    form_of,
    running_sms_fakes,
    smsc_error,
    smsru_error,
    twilio_error,
)
from tests.fakes.support import assert_no_secret, loopback_outbound

PHONE = "+79255070602"
DIGITS = "79255070602"
OTHER = "+442083661177"
PROVIDERS = ["TWILIO", "SMSRU", "SMSC", "GATEWAY"]


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


def message(
    text: str = "[CRITICAL] Disk full: db-1 / at 97%", to: str | None = PHONE
) -> OutgoingMessage:
    return OutgoingMessage(delivery_id="dlv_1", subject="Disk full", text=text, recipient=to)


async def test_twilio_gets_a_form_with_basic_auth_and_its_sid_is_recorded(
    fakes: SmsFakes, sender: SmsSender
) -> None:
    receipt = await sender.send(fakes.config("TWILIO"), message())

    [request] = fakes.twilio.requests
    assert request.path == f"/2010-04-01/Accounts/{TWILIO_ACCOUNT_SID}/Messages.json"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.headers["authorization"] == f"Basic {TWILIO_BASIC}"
    assert form_of(request) == {
        "To": PHONE,
        "From": "+12025550143",
        "Body": "[CRITICAL] Disk full: db-1 / at 97%",
    }
    assert receipt.status == 201
    assert receipt.provider_id == "SM" + f"{1:032x}"
    assert receipt.detail == f"sent via Twilio to {PHONE}; 1 SMS part (GSM-7)"


async def test_twilio_with_a_messaging_service_sends_no_from(
    fakes: SmsFakes, sender: SmsSender
) -> None:
    config = fakes.config("TWILIO", sender=None, messagingServiceSid=TWILIO_SERVICE_SID)

    await sender.send(config, message())

    form = form_of(fakes.twilio.requests[0])
    assert form["MessagingServiceSid"] == TWILIO_SERVICE_SID
    assert "From" not in form


async def test_smsru_gets_one_post_with_the_numbers_without_plus(
    fakes: SmsFakes, sender: SmsSender
) -> None:
    receipt = await sender.send(fakes.config("SMSRU", sender="Nabat"), message())

    [request] = fakes.smsru.requests
    assert request.method == "POST"
    assert form_of(request) == {
        "api_id": SMSRU_API_ID,
        "to": DIGITS,
        "msg": "[CRITICAL] Disk full: db-1 / at 97%",
        "json": "1",
        "from": "Nabat",
    }
    assert receipt.provider_id == "000000-10000001"


async def test_smsc_gets_json_answers_in_utf8_and_its_id_is_recorded(
    fakes: SmsFakes, sender: SmsSender
) -> None:
    receipt = await sender.send(fakes.config("SMSC"), message("Диск заполнен"))

    form = form_of(fakes.smsc.requests[0])
    assert form == {
        "login": SMSC_LOGIN,
        "psw": SMSC_PASSWORD,
        "phones": DIGITS,
        "mes": "Диск заполнен",
        "fmt": "3",
        "charset": "utf-8",
    }
    assert receipt.provider_id == "101"
    assert receipt.detail.endswith("; 1 SMS part (UCS-2)")


async def test_the_gateway_gets_its_template_filled_and_its_id_is_recorded(
    fakes: SmsFakes, sender: SmsSender
) -> None:
    receipt = await sender.send(fakes.config("GATEWAY", sender="Nabat"), message('a "b"\nc'))

    [request] = fakes.gateway.requests
    assert request.headers["x-api-key"] == GATEWAY_KEY
    assert request.headers["content-type"] == "application/json"
    assert request.json() == {"to": PHONE, "text": 'a "b"\nc', "from": "Nabat"}
    assert receipt.provider_id == "gw-1"


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_local_number_is_sent_in_e164(
    fakes: SmsFakes, sender: SmsSender, provider: str
) -> None:
    receipt = await sender.send(fakes.config(provider), message(to="8 (925) 507-06-02"))

    assert PHONE in receipt.detail
    [request] = fakes.of(provider).requests
    sent = request.json() or form_of(request)
    assert PHONE in sent.values() or DIGITS in sent.values()


@pytest.mark.parametrize("recipient", ["+0123456", "12345678901234567", "+7 925 ABC-06-02"])
async def test_a_recipient_that_is_no_phone_number_is_rejected_without_a_request(
    fakes: SmsFakes, sender: SmsSender, recipient: str
) -> None:
    with pytest.raises(DeliveryError) as caught:
        await sender.send(fakes.config("TWILIO"), message(to=recipient))

    assert caught.value.failure_class is FailureClass.REJECTED
    assert "phone number" in caught.value.reason
    assert fakes.twilio.requests == []


async def test_without_a_recipient_the_default_recipients_get_it(
    fakes: SmsFakes, sender: SmsSender
) -> None:
    config = fakes.config("TWILIO", defaultRecipients=[PHONE, OTHER])

    receipt = await sender.send(config, message(to=None))

    assert [form_of(request)["To"] for request in fakes.twilio.requests] == [PHONE, OTHER]
    assert receipt.provider_id == "SM" + f"{1:032x}" + ",SM" + f"{2:032x}"
    assert receipt.refused == {}


async def test_with_no_recipient_at_all_the_channel_is_misconfigured(
    fakes: SmsFakes, sender: SmsSender
) -> None:
    with pytest.raises(DeliveryError) as caught:
        await sender.send(fakes.config("SMSRU"), message(to=None))

    assert caught.value.failure_class is FailureClass.CONFIG
    assert "defaultRecipients" in caught.value.reason


async def test_smsru_refusing_one_number_delivers_to_the_others(
    fakes: SmsFakes, sender: SmsSender
) -> None:
    fakes.smsru.refused["442083661177"] = (207, "На этот номер нельзя отправлять сообщения")
    config = fakes.config("SMSRU", defaultRecipients=[PHONE, OTHER])

    receipt = await sender.send(config, message(to=None))

    assert len(fakes.smsru.requests) == 1
    assert form_of(fakes.smsru.requests[0])["to"] == f"{DIGITS},442083661177"
    assert receipt.provider_id == "000000-10000001"
    assert list(receipt.refused) == [OTHER]
    assert "SMS.ru may not send messages to +442083661177" in receipt.refused[OTHER]


async def test_twilio_refusing_one_number_still_tries_the_next(
    fakes: SmsFakes, sender: SmsSender
) -> None:
    fakes.twilio.opted_out.add(PHONE)

    receipt = await sender.send(
        fakes.config("TWILIO", defaultRecipients=[PHONE, OTHER]), message(to=None)
    )

    assert len(fakes.twilio.requests) == 2
    assert "unsubscribed" in receipt.refused[PHONE]
    assert OTHER in receipt.detail


async def test_a_failed_login_is_not_repeated_for_every_number(
    fakes: SmsFakes, sender: SmsSender
) -> None:
    config = fakes.config("SMSC", smscPassword="wrong-password", defaultRecipients=[PHONE, OTHER])

    with pytest.raises(DeliveryError) as caught:
        await sender.send(config, message(to=None))

    assert caught.value.failure_class is FailureClass.AUTH
    assert len(fakes.smsc.requests) == 1


async def test_a_long_russian_text_is_cut_to_max_segments(
    fakes: SmsFakes, sender: SmsSender
) -> None:
    config = fakes.config("SMSRU", maxSegments=2)

    receipt = await sender.send(config, message("Сервер недоступен. " * 40))

    sent = form_of(fakes.smsru.requests[0])["msg"]
    assert segments(sent).parts == 2
    assert sent.endswith("…")
    assert "2 SMS parts (UCS-2)" in receipt.detail
    assert "shortened" in receipt.detail


async def test_a_plain_alert_with_typographic_look_alikes_stays_gsm7(
    fakes: SmsFakes, sender: SmsSender
) -> None:
    text = "Disk\u00a0full \u2014 \u201cdb-1\u201d at 97%\u2026"

    receipt = await sender.send(fakes.config("TWILIO"), message(text))

    body = form_of(fakes.twilio.requests[0])["Body"]
    assert body == 'Disk full - "db-1" at 97%...'
    assert is_gsm7(body)
    assert "(GSM-7)" in receipt.detail


@pytest.mark.parametrize(
    ("provider", "echo"),
    [
        (
            "TWILIO",
            lambda: twilio_error(
                500, 20500, f"failed for Basic {TWILIO_BASIC} / {TWILIO_AUTH_TOKEN}"
            ),
        ),
        ("SMSRU", lambda: smsru_error(299, f"api_id={SMSRU_API_ID} refused")),
        ("SMSC", lambda: smsc_error(1, f"psw={SMSC_PASSWORD} is wrong")),
        ("GATEWAY", lambda: Reply(400, f"key {GATEWAY_KEY} refused")),
    ],
    ids=PROVIDERS,
)
async def test_an_error_body_echoing_a_secret_does_not_leak_it(
    fakes: SmsFakes,
    sender: SmsSender,
    caplog: pytest.LogCaptureFixture,
    provider: str,
    echo: Callable[[], Reply],
) -> None:
    fakes.of(provider).respond(echo())

    with pytest.raises(DeliveryError) as caught:
        await sender.send(fakes.config(provider), message())

    assert "<redacted>" in caught.value.reason
    assert_no_secret(SECRETS, caught.value, caplog)


async def test_a_refused_number_s_reason_is_scrubbed_too(
    fakes: SmsFakes, sender: SmsSender
) -> None:
    fakes.smsru.refused["442083661177"] = (207, f"нельзя, api_id {SMSRU_API_ID}")

    receipt = await sender.send(
        fakes.config("SMSRU", defaultRecipients=[PHONE, OTHER]), message(to=None)
    )

    assert SMSRU_API_ID not in receipt.refused[OTHER]


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_an_unreachable_provider_is_a_transient_network_failure(
    fakes: SmsFakes, sender: SmsSender, caplog: pytest.LogCaptureFixture, provider: str
) -> None:
    config = fakes.config(provider)
    await fakes.of(provider).stop()

    with pytest.raises(DeliveryError) as caught:
        await sender.send(config, message())

    assert caught.value.failure_class is FailureClass.NETWORK
    assert caught.value.transient
    assert_no_secret(SECRETS, caught.value, caplog)
