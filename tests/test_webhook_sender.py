"""WEBHOOK and PYTHON_BOT senders against a real local receiver."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from nabat.channels.contract import DeliveryError, FailureClass, OutgoingMessage
from nabat.channels.http_status import classify_status, parse_retry_after
from nabat.channels.outbound import Outbound
from nabat.channels.python_bot import PythonBotConfig
from nabat.channels.python_bot_sender import PythonBotSender
from nabat.channels.webhook import WebhookConfig
from nabat.channels.webhook_sender import WebhookSender, sign
from nabat.clock import SystemClock
from nabat.security.ssrf import OutboundPolicy
from tests.fakes.webhook import Scripted, WebhookReceiver, running_receiver
from tests.support.postgres import free_port

# The channel types whose error table this module tests (see test_channel_registry.py).
ERROR_TABLE_OF = ("WEBHOOK", "PYTHON_BOT")

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
LOOPBACK = OutboundPolicy(["127.0.0.0/8", "::1/128"])


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    async for running in running_receiver(base64.b64decode(SECRET[6:])):
        yield running


@pytest.fixture
async def outbound() -> AsyncIterator[Outbound]:
    client = Outbound(LOOPBACK)
    yield client
    await client.close()


def message(delivery_id: str = "dlv_1") -> OutgoingMessage:
    return OutgoingMessage(
        delivery_id=delivery_id,
        subject="[ERROR] My Service: DOWN",
        text="Service is down",
        payload={
            "username": "testuser",
            "serviceName": "My Service",
            "serviceUrl": "https://example.com",
            "status": "DOWN",
            "severity": "ERROR",
            "message": "Service is down",
            "timestamp": "2024-01-15T10:30:00Z",
            "metadata": {"responseCode": 500, "responseTime": 5000},
        },
        event={"type": "service.down", "labels": {"env": "prod"}},
    )


def config(url: str, **extra: Any) -> WebhookConfig:
    return WebhookConfig.model_validate({"url": url, **extra})


def test_signature_matches_the_standard_webhooks_test_vector() -> None:
    assert (
        sign(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            b'{"test": 2432232314}',
        )
        == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


async def test_signed_webhook_carries_the_seed_payload_and_the_event(
    receiver: WebhookReceiver, outbound: Outbound
) -> None:
    sender = WebhookSender(outbound, SystemClock())
    cfg = config(
        receiver.url + "/hook",
        secret=SECRET,
        method="put",
        headers={"Authorization": "Bearer t0ken-value", "X-Team": "ops"},
    )
    receipt = await sender.send(cfg, message("dlv_abc"))
    assert receipt.status == 200
    [got] = receiver.received
    assert got.method == "PUT"
    assert got.signature_valid is True
    assert got.headers["webhook-id"] == "dlv_abc"
    assert got.headers["authorization"] == "Bearer t0ken-value"
    assert got.headers["x-team"] == "ops"
    body = got.json()
    for key in ("username", "serviceName", "serviceUrl", "status", "severity", "message"):
        assert key in body
    assert body["metadata"] == {"responseCode": 500, "responseTime": 5000}
    assert body["event"]["type"] == "service.down"
    assert body["deliveryId"] == "dlv_abc"


async def test_retries_keep_the_webhook_id_and_are_signed_afresh(
    receiver: WebhookReceiver, outbound: Outbound
) -> None:
    sender = WebhookSender(outbound, SystemClock())
    cfg = config(receiver.url, secret=SECRET)
    await sender.send(cfg, message("dlv_same"))
    await sender.send(cfg, message("dlv_same"))
    await sender.send(cfg, message("dlv_other"))
    ids = [r.headers["webhook-id"] for r in receiver.received]
    assert ids == ["dlv_same", "dlv_same", "dlv_other"]
    assert all(r.signature_valid for r in receiver.received)


async def test_unsigned_webhook_has_no_signature_headers(
    receiver: WebhookReceiver, outbound: Outbound
) -> None:
    await WebhookSender(outbound, SystemClock()).send(config(receiver.url), message())
    [got] = receiver.received
    assert "webhook-signature" not in got.headers
    assert got.headers["x-nabat-delivery-id"] == "dlv_1"


async def test_redirect_is_not_followed(receiver: WebhookReceiver, outbound: Outbound) -> None:
    receiver.script.append(Scripted(302, "", {"Location": receiver.url + "/elsewhere"}))
    with pytest.raises(DeliveryError) as caught:
        await WebhookSender(outbound, SystemClock()).send(config(receiver.url), message())
    assert caught.value.failure_class is FailureClass.REJECTED
    assert "redirect" in caught.value.reason
    assert [r.path for r in receiver.received] == ["/"]


async def test_slow_endpoint_times_out_as_transient(
    receiver: WebhookReceiver, outbound: Outbound
) -> None:
    receiver.script.append(Scripted(200, "ok", delay=2.0))
    with pytest.raises(DeliveryError) as caught:
        await WebhookSender(outbound, SystemClock()).send(
            config(receiver.url, timeout=0.3), message()
        )
    assert caught.value.failure_class is FailureClass.TIMEOUT
    assert caught.value.transient


async def test_closed_port_is_a_network_failure(outbound: Outbound) -> None:
    url = f"http://127.0.0.1:{free_port()}/"
    with pytest.raises(DeliveryError) as caught:
        await WebhookSender(outbound, SystemClock()).send(config(url), message())
    assert caught.value.failure_class is FailureClass.NETWORK


@pytest.mark.parametrize(
    ("status", "expected", "transient"),
    [
        (400, FailureClass.REJECTED, False),
        (401, FailureClass.AUTH, False),
        (403, FailureClass.AUTH, False),
        (404, FailureClass.GONE, False),
        (408, FailureClass.TIMEOUT, True),
        (410, FailureClass.GONE, False),
        (422, FailureClass.REJECTED, False),
        (429, FailureClass.THROTTLED, True),
        (500, FailureClass.UPSTREAM, True),
        (502, FailureClass.UPSTREAM, True),
        (503, FailureClass.UPSTREAM, True),
        (504, FailureClass.UPSTREAM, True),
    ],
)
async def test_receiver_status_is_classified(
    receiver: WebhookReceiver,
    outbound: Outbound,
    status: int,
    expected: FailureClass,
    transient: bool,
) -> None:
    receiver.script.append(Scripted(status, "no thanks", {"Retry-After": "7"}))
    cfg = config(receiver.url, headers={"Authorization": "Bearer s3cr3t-header"}, secret=SECRET)
    with pytest.raises(DeliveryError) as caught:
        await WebhookSender(outbound, SystemClock()).send(cfg, message())
    assert caught.value.failure_class is expected
    assert caught.value.transient is transient
    assert caught.value.status == status
    assert "s3cr3t-header" not in caught.value.reason
    assert SECRET not in caught.value.reason
    if status == 429:
        assert caught.value.retry_after == 7


def _expected(status: int) -> FailureClass | None:
    if 200 <= status < 300:
        return None
    if status < 200 or 300 <= status < 400:
        return FailureClass.REJECTED
    special = {
        401: FailureClass.AUTH,
        403: FailureClass.AUTH,
        404: FailureClass.GONE,
        408: FailureClass.TIMEOUT,
        410: FailureClass.GONE,
        429: FailureClass.THROTTLED,
    }
    if status in special:
        return special[status]
    return FailureClass.REJECTED if status < 500 else FailureClass.UPSTREAM


def test_every_http_status_has_a_class() -> None:
    for status in range(100, 600):
        error = classify_status(status)
        expected = _expected(status)
        if expected is None:
            assert error is None, status
        else:
            assert error is not None, status
            assert error.failure_class is expected, status
            assert error.transient is (
                expected in (FailureClass.TIMEOUT, FailureClass.THROTTLED, FailureClass.UPSTREAM)
            ), status


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("30") == 30
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:45 GMT", now) == 45
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


async def test_loopback_is_refused_before_any_connection_by_default(
    receiver: WebhookReceiver,
) -> None:
    guarded = Outbound(OutboundPolicy())
    try:
        with pytest.raises(DeliveryError) as caught:
            await WebhookSender(guarded, SystemClock()).send(config(receiver.url), message())
    finally:
        await guarded.close()
    assert caught.value.failure_class is FailureClass.CONFIG
    assert "NABAT_OUTBOUND_ALLOW" in caught.value.reason
    assert receiver.received == []


async def test_python_bot_gets_pingtowers_body(
    receiver: WebhookReceiver, outbound: Outbound
) -> None:
    bot = PythonBotConfig.model_validate({"botUrl": receiver.url + "/"})
    receipt = await PythonBotSender(outbound).send(bot, message())
    assert receipt.status == 200
    [got] = receiver.received
    assert got.path == "/send_notification"
    assert got.json() == {
        "username": "testuser",
        "service_name": "My Service",
        "service_url": "https://example.com",
        "status": "DOWN",
        "message": "Service is down",
    }


async def test_python_bot_answering_other_than_200_is_a_failure(
    receiver: WebhookReceiver, outbound: Outbound
) -> None:
    receiver.script.append(Scripted(202, "queued"))
    bot = PythonBotConfig.model_validate({"botUrl": receiver.url})
    with pytest.raises(DeliveryError) as caught:
        await PythonBotSender(outbound).send(bot, message())
    assert "202" in caught.value.reason
