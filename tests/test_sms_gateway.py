"""The generic SMS gateway: templates filled and escaped for where each value lands, and
the configured success check."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import parse_qs

import pytest

from nabat.channels.contract import DeliveryError, FailureClass, OutgoingMessage
from nabat.channels.sms_gateway import MISSING, at_path
from nabat.channels.sms_sender import SmsSender
from tests.fakes.provider import Reply
from tests.fakes.sms import GATEWAY_KEY, GatewayFake
from tests.fakes.support import loopback_outbound
from tests.test_sms_config import sms

PHONE = "+79255070602"
TEXT = 'Диск & "db-1"\n97% / 100%'


@pytest.fixture
async def gateway() -> AsyncIterator[GatewayFake]:
    async with GatewayFake() as fake:
        yield fake


@pytest.fixture
async def sender() -> AsyncIterator[SmsSender]:
    async with loopback_outbound() as outbound:
        yield SmsSender(outbound)


def message(text: str = TEXT) -> OutgoingMessage:
    return OutgoingMessage(delivery_id="dlv_42", subject="", text=text, recipient=PHONE)


async def test_a_get_gateway_gets_every_value_percent_encoded_in_its_query(
    gateway: GatewayFake, sender: SmsSender
) -> None:
    config = sms(
        provider="GATEWAY",
        gatewayMethod="get",
        gatewayUrl=gateway.base_url + "/api/send?to={toDigits}&text={text}&key={secret}",
        gatewaySecret=GATEWAY_KEY,
    )

    receipt = await sender.send(config, message())

    [request] = gateway.requests
    assert request.method == "GET"
    assert request.body == b""
    assert gateway.messages == [{"to": "79255070602", "text": TEXT}]
    assert receipt.status == 200
    assert receipt.provider_id is None


async def test_a_form_body_is_form_encoded_with_its_content_type(
    gateway: GatewayFake, sender: SmsSender
) -> None:
    gateway.respond(Reply(202, "queued"))
    config = sms(
        provider="GATEWAY",
        gatewayUrl=gateway.base_url + "/form",
        gatewayBody="phone={to}&msg={text}&ref={deliveryId}",
        gatewayBodyFormat="form",
    )

    await sender.send(config, message())

    [request] = gateway.requests
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert parse_qs(request.body.decode()) == {
        "phone": [PHONE],
        "msg": [TEXT],
        "ref": ["dlv_42"],
    }


async def test_a_text_body_is_sent_as_written_and_a_configured_content_type_wins(
    gateway: GatewayFake, sender: SmsSender
) -> None:
    gateway.respond(Reply(200, "OK"))
    config = sms(
        provider="GATEWAY",
        gatewayUrl=gateway.base_url + "/raw",
        gatewayBody="{to}\n{text}",
        gatewayBodyFormat="TEXT",
        gatewayHeaders={"Content-Type": "application/x-sms", "X-Trace": "{deliveryId} {text}"},
    )

    await sender.send(config, message())

    [request] = gateway.requests
    assert request.headers["content-type"] == "application/x-sms"
    # A header value stays on one line whatever the text holds.
    assert request.headers["x-trace"] == 'dlv_42 Диск & "db-1" 97% / 100%'
    assert request.body.decode() == f"{PHONE}\n{TEXT}"


async def test_a_status_outside_the_configured_ones_is_not_sent(
    gateway: GatewayFake, sender: SmsSender
) -> None:
    gateway.respond(Reply.json(200, {"queued": True}))
    config = sms(
        provider="GATEWAY",
        gatewayUrl=gateway.base_url + "/q?to={to}&text={text}",
        gatewaySuccessStatuses=[202],
    )

    with pytest.raises(DeliveryError) as caught:
        await sender.send(config, message())

    assert caught.value.failure_class is FailureClass.REJECTED
    assert "gatewaySuccessStatuses are 202" in caught.value.reason


async def test_a_configured_non_2xx_success_status_counts_as_sent(
    gateway: GatewayFake, sender: SmsSender
) -> None:
    gateway.respond(Reply(302, "", {"Location": "/done"}))
    config = sms(
        provider="GATEWAY",
        gatewayUrl=gateway.base_url + "/q?to={to}&text={text}",
        gatewaySuccessStatuses="200, 302",
    )

    receipt = await sender.send(config, message())

    assert receipt.status == 302


@pytest.mark.parametrize(
    ("answer", "sent"),
    [("result: OK id=7", True), ("result: FAILED", False)],
)
async def test_the_answer_must_hold_the_configured_text(
    gateway: GatewayFake, sender: SmsSender, answer: str, sent: bool
) -> None:
    gateway.respond(Reply(200, answer))
    config = sms(
        provider="GATEWAY",
        gatewayUrl=gateway.base_url + "/q?to={to}&text={text}",
        gatewaySuccessContains="result: OK",
    )

    if sent:
        await sender.send(config, message())
        return
    with pytest.raises(DeliveryError) as caught:
        await sender.send(config, message())
    assert "does not hold 'result: OK'" in caught.value.reason


async def test_a_true_value_at_the_success_path_is_enough_without_an_expected_value(
    gateway: GatewayFake, sender: SmsSender
) -> None:
    gateway.respond(Reply.json(200, {"result": {"accepted": False}}))
    config = sms(
        provider="GATEWAY",
        gatewayUrl=gateway.base_url + "/q?to={to}&text={text}",
        gatewaySuccessPath="result.accepted",
    )

    with pytest.raises(DeliveryError) as caught:
        await sender.send(config, message())

    assert "result.accepted is 'false'" in caught.value.reason


async def test_the_message_id_is_read_from_its_path_in_a_list(
    gateway: GatewayFake, sender: SmsSender
) -> None:
    gateway.respond(Reply.json(200, {"messages": [{"id": 9001, "to": PHONE}]}))
    config = sms(
        provider="GATEWAY",
        gatewayUrl=gateway.base_url + "/q?to={to}&text={text}",
        gatewayMessageIdPath="messages.0.id",
    )

    receipt = await sender.send(config, message())

    assert receipt.provider_id == "9001"


def test_a_json_path_walks_objects_and_lists_and_misses_cleanly() -> None:
    document = {"a": [{"b": 1}, {"b": None}], "c": "x"}

    assert at_path(document, "a.0.b") == 1
    assert at_path(document, "a.1.b") is None
    assert at_path(document, "a.2.b") is MISSING
    assert at_path(document, "c.d") is MISSING
    assert at_path(document, "z") is MISSING
