"""SMS channel configuration: each provider's keys, phone numbers in E.164, gateway
templates, and refusals at save time that name the key at fault."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from nabat.channels.base import MASK, restore_masked
from nabat.channels.sms import SmsConfig
from nabat.errors import ValidationFailed
from nabat.services.channels import parse_config
from nabat.web.i18n import say

CHANNELS = "/api/v1/notifications/channels"
ACCOUNT = "AC" + "0123456789abcdef" * 2
SERVICE = "MG" + "fedcba9876543210" * 2
TWILIO = {"provider": "TWILIO", "accountSid": ACCOUNT, "authToken": "tw-token-123456"}
SMSRU = {"provider": "SMSRU", "apiId": "0E1F2A3B-4C5D-6E7F-8091-A2B3C4D5E6F7"}
SMSC = {"provider": "SMSC", "smscLogin": "alerts", "smscPassword": " pass word "}
GATEWAY = {"provider": "GATEWAY", "gatewayUrl": "https://sms.example.org/send?to={to}&m={text}"}


def sms(**keys: Any) -> SmsConfig:
    """An SMS configuration validated as the API does (a provider's required keys are
    filled in from the examples above unless given)."""
    base = {"TWILIO": TWILIO, "SMSRU": SMSRU, "SMSC": SMSC, "GATEWAY": GATEWAY}
    provider = str(keys.get("provider", "SMSRU")).upper()
    raw = {**base[provider], **keys}
    if provider == "TWILIO" and "sender" not in keys and "messagingServiceSid" not in keys:
        raw["sender"] = "+12025550143"
    config = parse_config(SmsConfig, raw)
    assert isinstance(config, SmsConfig)
    return config


def refusal(configuration: dict[str, Any]) -> dict[str, Any]:
    """The first detail of the 422 a configuration gets."""
    with pytest.raises(ValidationFailed) as caught:
        parse_config(SmsConfig, configuration)
    detail: dict[str, Any] = caught.value.details[0]
    return detail


@pytest.mark.parametrize(
    ("written", "e164"),
    [
        ("+7 (925) 507-06-02", "+79255070602"),
        ("89255070602", "+79255070602"),
        ("8 925 507 06 02", "+79255070602"),
        ("+44 20 8366 1177", "+442083661177"),
        ("+1 202.555.0143", "+12025550143"),
    ],
)
def test_default_recipients_are_stored_in_e164(written: str, e164: str) -> None:
    assert sms(defaultRecipients=[written]).default_recipients == [e164]


def test_numbers_without_plus_follow_the_default_region() -> None:
    config = sms(defaultRegion="gb", defaultRecipients=["020 8366 1177"])

    assert config.default_region == "GB"
    assert config.default_recipients == ["+442083661177"]


def test_recipients_may_be_one_comma_separated_text_and_repeats_are_dropped() -> None:
    config = sms(defaultRecipients="+79255070602, 89255070602; +442083661177")

    assert config.default_recipients == ["+79255070602", "+442083661177"]


BAD_NUMBERS = [
    ("+0123456", "not a phone number"),
    ("+1234567890123456", "not a valid phone number"),
    ("12345678901234567", "not a valid phone number of region RU"),
    ("call me", "use digits"),
    ("+7 925 FLOWERS", "use digits"),
    ("+7925507", "not a valid phone number"),
]


@pytest.mark.parametrize(("written", "words"), BAD_NUMBERS)
def test_a_bad_default_recipient_is_refused_naming_its_place(written: str, words: str) -> None:
    detail = refusal({**SMSRU, "defaultRecipients": ["+79255070602", written]})

    assert detail["field"] == "configuration.defaultRecipients.1"
    assert words in detail["message"]


def test_an_unknown_region_is_refused() -> None:
    detail = refusal({**SMSRU, "defaultRegion": "Russia"})

    assert detail["field"] == "configuration.defaultRegion"
    assert "two-letter region code" in detail["message"]


@pytest.mark.parametrize(
    ("written", "kept"),
    [("+1 (202) 555-0143", "+12025550143"), ("Nabat", "Nabat"), ("12345", "12345")],
)
def test_a_sender_is_a_number_a_short_code_or_a_name(written: str, kept: str) -> None:
    assert sms(sender=written).sender == kept


BAD_SENDERS = ["Nabat-Alerts-Service", "+0999", "Набат", "!!!"]


@pytest.mark.parametrize("written", BAD_SENDERS)
def test_a_sender_that_no_provider_takes_is_refused(written: str) -> None:
    assert refusal({**SMSRU, "sender": written})["field"] == "configuration.sender"


PROVIDER_REFUSALS: list[tuple[dict[str, Any], str, str]] = [
    ({"provider": "TWILIO", "authToken": "t", "sender": "Nabat"}, "accountSid", "TWILIO"),
    ({**TWILIO}, "sender", "exactly one of sender"),
    ({**TWILIO, "sender": "Nabat", "messagingServiceSid": SERVICE}, "sender", "exactly one"),
    ({**TWILIO, "accountSid": "AC123", "sender": "Nabat"}, "accountSid", "32 hexadecimal"),
    ({**TWILIO, "messagingServiceSid": "PN1"}, "messagingServiceSid", "MG and 32"),
    ({"provider": "SMSRU"}, "apiId", "required for the SMSRU provider"),
    ({"provider": "SMSC", "smscLogin": "alerts"}, "smscPassword", "SMSC"),
    ({"provider": "GATEWAY"}, "gatewayUrl", "GATEWAY"),
    ({**SMSRU, "smscLogin": "x"}, "smscLogin", "setting of the SMSC provider, not of SMSRU"),
    ({**SMSC, "apiId": "x"}, "apiId", "remove it"),
    ({**SMSRU, "gatewayHeaders": {"A": "b"}}, "gatewayHeaders", "GATEWAY provider"),
    ({"provider": "PIGEON"}, "provider", "TWILIO"),
    ({**SMSRU, "maxSegments": 9}, "maxSegments", "8"),
    ({**SMSRU, "maxSegments": 0}, "maxSegments", "1"),
    ({**SMSRU, "apiId": MASK}, "apiId", "mask"),
    ({**SMSRU, "apiBaseUrl": "sms.ru"}, "apiBaseUrl", "http"),
    ({**SMSRU, "apiID": "x"}, "apiID", "did you mean 'apiId'"),
]


@pytest.mark.parametrize(("configuration", "field", "words"), PROVIDER_REFUSALS)
def test_each_provider_needs_its_own_keys_and_only_those(
    configuration: dict[str, Any], field: str, words: str
) -> None:
    detail = refusal(configuration)

    assert detail["field"] == f"configuration.{field}"
    assert words in detail["message"]


GATEWAY_REFUSALS: list[tuple[dict[str, Any], str, str]] = [
    ({"gatewayUrl": "https://{to}.example.org/?m={text}"}, "gatewayUrl", "host must be fixed"),
    ({"gatewayUrl": "https://x.example.org/?to={phone}&m={text}"}, "gatewayUrl", "{phone}"),
    ({"gatewayUrl": "https://x.example.org/?to={to}"}, "gatewayUrl", "{text}"),
    ({"gatewayUrl": "https://x.example.org/?m={text}"}, "gatewayUrl", "{toDigits}"),
    ({"gatewayUrl": "ftp://x.example.org/{to}/{text}"}, "gatewayUrl", "http"),
    ({"gatewayBody": '{"to": {to}, "m": "{text}"}'}, "gatewayBody", "not JSON"),
    ({"gatewayBody": "to={to}&m={text}", "gatewayMethod": "GET"}, "gatewayBody", "GET"),
    ({"gatewaySecret": "s3cret-value"}, "gatewaySecret", "{secret}"),
    ({"gatewayHeaders": {"X-Key": "{secret}"}}, "gatewaySecret", "set both"),
    ({"gatewayHeaders": {"Content-Length": "1"}}, "gatewayHeaders.Content-Length", "set"),
    ({"gatewayHeaders": {"X-Key": "a\r\nB: c"}}, "gatewayHeaders.X-Key", "single line"),
    ({"gatewayHeaders": {"X-Key": MASK}}, "gatewayHeaders.X-Key", "mask"),
    ({"gatewayHeaders": {"X-Key": "{tex}"}}, "gatewayHeaders.X-Key", "{tex}"),
    ({"gatewaySuccessStatuses": [200, 700]}, "gatewaySuccessStatuses.1", "HTTP status"),
    ({"gatewaySuccessValue": "ok"}, "gatewaySuccessValue", "gatewaySuccessPath"),
    ({"gatewaySuccessPath": "$.status"}, "gatewaySuccessPath", "dots"),
    ({"gatewayMethod": "DELETE"}, "gatewayMethod", "POST"),
    ({"apiBaseUrl": "https://sms.example.org"}, "apiBaseUrl", "gatewayUrl"),
]


@pytest.mark.parametrize(("keys", "field", "words"), GATEWAY_REFUSALS)
def test_a_gateway_template_that_cannot_work_is_refused_at_save_time(
    keys: dict[str, Any], field: str, words: str
) -> None:
    detail = refusal({**GATEWAY, **keys})

    assert detail["field"] == f"configuration.{field}"
    assert words in detail["message"]


EVERY_REFUSAL = (
    [configuration for configuration, _, _ in PROVIDER_REFUSALS]
    + [{**GATEWAY, **keys} for keys, _, _ in GATEWAY_REFUSALS]
    + [{**SMSRU, "defaultRecipients": [written]} for written, _ in BAD_NUMBERS]
    + [{**SMSRU, "sender": written} for written in BAD_SENDERS]
    + [{**SMSRU, "defaultRegion": "Russia"}]
)


@pytest.mark.parametrize("configuration", EVERY_REFUSAL)
def test_every_refusal_reads_in_russian_in_the_console(configuration: dict[str, Any]) -> None:
    message = refusal(configuration)["message"]

    russian = say("ru", message)

    assert russian != str(message)
    assert re.search("[а-я]", russian), russian


def test_a_json_body_with_placeholders_in_quotes_is_accepted() -> None:
    config = sms(
        provider="GATEWAY",
        gatewayUrl="https://sms.example.org/send",
        gatewayBody='{"to": "{toDigits}", "text": "{text}", "ref": "{deliveryId}"}',
        gatewaySuccessStatuses="200, 201",
    )

    assert config.method == "POST"
    assert config.body_format == "JSON"
    assert config.gateway_success_statuses == [200, 201]


def test_secrets_and_gateway_header_values_are_masked_and_restored() -> None:
    config = sms(
        provider="GATEWAY",
        gatewayHeaders={"Authorization": "Bearer gw-token-987", "Accept": "application/json"},
        gatewayUrl="https://ops:pa55@sms.example.org/send?to={to}&m={text}&k={secret}",
        gatewaySecret="gw-secret-123",
    )

    public = config.to_public()
    assert public["gatewaySecret"] == MASK
    assert public["gatewayHeaders"] == {"Authorization": MASK, "Accept": "application/json"}
    assert (
        public["gatewayUrl"] == "https://********@sms.example.org/send?to={to}&m={text}&k={secret}"
    )
    for secret in ("gw-secret-123", "Bearer gw-token-987", "pa55"):
        assert secret in config.secret_texts()
    again = parse_config(SmsConfig, restore_masked(public, config.to_storage()))
    assert again.to_storage() == config.to_storage()


def test_an_smsc_password_is_kept_exactly_as_written() -> None:
    assert sms(provider="SMSC").to_storage()["smscPassword"] == " pass word "


async def test_the_api_stores_numbers_in_e164_and_masks_the_api_id(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    configuration = {**SMSRU, "defaultRecipients": ["8 (925) 507-06-02"], "sender": "Nabat"}
    body = {"name": "sms", "type": "SMS", "configuration": configuration}

    created = await client.post(CHANNELS, json=body, headers=admin_headers)

    assert created.status_code == 201, created.text
    shown = created.json()["configuration"]
    assert shown["defaultRecipients"] == ["+79255070602"]
    assert shown["apiId"] == MASK


async def test_the_api_refuses_a_bad_number_naming_it(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    configuration = {**SMSRU, "defaultRecipients": ["+0123"]}
    body = {"name": "sms", "type": "SMS", "configuration": configuration}

    answer = await client.post(CHANNELS, json=body, headers=admin_headers)

    assert answer.status_code == 422
    assert answer.json()["details"][0]["field"] == "configuration.defaultRecipients.0"
