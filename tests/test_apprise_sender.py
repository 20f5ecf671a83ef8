"""AppriseSender against a local JSON endpoint: delivery, apprise's failures classified,
URLs apprise cannot use, the SSRF check before any connection, the event loop kept free,
and no URL in any reason or log line."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from nabat.channels.apprise import AppriseConfig
from nabat.channels.apprise_sender import AppriseSender
from nabat.channels.base import MASK, restore_masked
from nabat.channels.contract import DeliveryError, FailureClass, OutgoingMessage
from nabat.channels.outbound import Outbound
from nabat.errors import ValidationFailed
from nabat.security.ssrf import OutboundPolicy
from nabat.services.channels import parse_config
from tests.fakes.apprise import PASSWORD, PATH, USER, AppriseFake, ConnectionCounter
from tests.fakes.provider import Reply
from tests.fakes.support import LOOPBACK, assert_no_secret

# The channel types whose error table this module tests (see test_channel_registry.py).
ERROR_TABLE_OF = ("APPRISE",)


@pytest.fixture
async def fake() -> AsyncIterator[AppriseFake]:
    async with AppriseFake() as server:
        yield server


def sender(policy: OutboundPolicy = LOOPBACK) -> AppriseSender:
    return AppriseSender(Outbound(policy))


@pytest.fixture(autouse=True)
def _capture_all_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)


def config(*urls: str, **overrides: Any) -> AppriseConfig:
    return AppriseConfig.model_validate({"urls": list(urls), "timeout": 5, **overrides})


def secrets(fake: AppriseFake) -> tuple[str, ...]:
    return (fake.json_url, PASSWORD, PATH.rsplit("/", 1)[1])


def message(
    subject: str = "Disk full", text: str = "db-1: / is at 97%", severity: str = "CRITICAL"
) -> OutgoingMessage:
    return OutgoingMessage(delivery_id="d-1", subject=subject, text=text, severity=severity)


async def test_a_notification_arrives_with_its_title_text_and_type(fake: AppriseFake) -> None:
    receipt = await sender().send(config(fake.json_url), message())

    [body] = fake.received
    assert body["title"] == "Disk full"
    assert body["message"] == "db-1: / is at 97%"
    assert body["type"] == "failure"
    [request] = fake.requests
    assert request.path == PATH
    assert receipt.refused == {}
    assert "URL 1 of 1 (JSON)" in receipt.detail


@pytest.mark.parametrize(
    ("severity", "kind"), [("WARNING", "warning"), ("INFO", "info"), ("ERROR", "failure")]
)
async def test_the_severity_becomes_apprises_notification_type(
    fake: AppriseFake, severity: str, kind: str
) -> None:
    await sender().send(config(fake.json_url), message(severity=severity))

    assert fake.received[0]["type"] == kind


async def test_an_empty_text_still_sends_a_body(fake: AppriseFake) -> None:
    await sender().send(config(fake.json_url), message(subject="", text=" "))

    assert fake.received[0]["message"] == "Notification from Nabat"


async def test_one_url_failing_of_two_is_a_receipt_naming_the_refusal(fake: AppriseFake) -> None:
    wrong = f"json://{USER}:wrong-password-123@127.0.0.1:{fake.port}{PATH}"

    receipt = await sender().send(config(fake.json_url, wrong), message())

    assert len(fake.received) == 1
    assert list(receipt.refused) == ["URL 2 of 2 (JSON)"]
    assert "HTTP 401" in receipt.refused["URL 2 of 2 (JSON)"]
    assert "wrong-password-123" not in str(receipt)


@dataclass(frozen=True)
class Row:
    """One failure apprise reports, and what Nabat makes of it."""

    name: str
    reply: Reply
    failure_class: FailureClass
    transient: bool
    status: int | None
    says: str

    def __str__(self) -> str:
        return self.name


HTML_502 = Reply(502, "<html>502</html>", content_type="text/html")
REDIRECT = Reply(302, headers={"Location": "http://127.0.0.1:1/"})
F = FailureClass
ROWS = [
    Row("unauthorized", Reply.json(401, {}), F.AUTH, False, 401, "credentials"),
    Row("forbidden", Reply.json(403, {}), F.AUTH, False, 403, "HTTP 403"),
    Row("not_found", Reply.json(404, {}), F.GONE, False, 404, "destination"),
    Row("gone", Reply(410), F.GONE, False, 410, "HTTP 410"),
    Row("bad_request", Reply.json(400, {}), F.REJECTED, False, 400, "rejected"),
    Row("too_large", Reply(413), F.REJECTED, False, 413, "HTTP 413"),
    Row("rate_limited", Reply(429, headers={"Retry-After": "30"}), F.THROTTLED, True, 429, "rate"),
    Row("request_timeout", Reply(408), F.TIMEOUT, True, 408, "timed out"),
    Row("server_error", Reply.json(500, {}), F.UPSTREAM, True, 500, "HTTP 500"),
    Row("bad_gateway_html", HTML_502, F.UPSTREAM, True, 502, "HTTP 502"),
    Row("unavailable", Reply(503), F.UPSTREAM, True, 503, "will retry"),
    Row("redirect_not_followed", REDIRECT, F.REJECTED, False, 302, "redirect"),
]


@pytest.mark.parametrize("row", ROWS, ids=str)
async def test_every_failure_apprise_reports_has_its_class_and_leaks_no_url(
    fake: AppriseFake, row: Row, caplog: pytest.LogCaptureFixture
) -> None:
    fake.respond(row.reply)

    with pytest.raises(DeliveryError) as caught:
        await sender().send(config(fake.json_url), message())

    error = caught.value
    assert error.failure_class is row.failure_class
    assert error.transient is row.transient
    assert error.status == row.status
    assert row.says in error.reason
    assert error.reason.startswith("URL 1 of 1 (JSON): ")
    assert len(fake.requests) == 1
    assert_no_secret(secrets(fake), error, caplog)


async def test_an_unreachable_endpoint_is_a_transient_network_failure(
    fake: AppriseFake, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = config(fake.json_url)
    leaked = secrets(fake)
    await fake.stop()

    with pytest.raises(DeliveryError) as caught:
        await sender().send(cfg, message())

    assert caught.value.failure_class is FailureClass.NETWORK
    assert caught.value.transient
    assert_no_secret(leaked, caught.value, caplog)


async def test_when_every_url_fails_a_transient_failure_makes_the_whole_transient(
    fake: AppriseFake,
) -> None:
    wrong_path = f"json://{USER}:{PASSWORD}@127.0.0.1:{fake.port}/elsewhere"
    fake.respond(Reply.json(404, {}), Reply.json(503, {}))

    with pytest.raises(DeliveryError) as caught:
        await sender().send(config(wrong_path, fake.json_url), message())

    error = caught.value
    assert error.transient
    assert "URL 1 of 2 (JSON)" in error.reason
    assert "URL 2 of 2 (JSON)" in error.reason


async def test_a_private_destination_is_refused_before_any_connection(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with ConnectionCounter() as counter:
        for host in ("127.0.0.1", "localhost", "2130706433", "[::1]"):
            url = f"json://{USER}:{PASSWORD}@{host}:{counter.port}{PATH}"
            with pytest.raises(DeliveryError) as caught:
                await sender(OutboundPolicy([])).send(config(url), message())
            error = caught.value
            assert error.failure_class is FailureClass.CONFIG
            assert "refused before connecting" in error.reason
            assert "NABAT_OUTBOUND_ALLOW" in error.reason
            assert_no_secret((url, PASSWORD, PATH), error, caplog)
        assert counter.connections == 0

        # The same URL, allowed, does connect: the count above could have seen it.
        allowed = f"json://{USER}:{PASSWORD}@127.0.0.1:{counter.port}{PATH}"
        with pytest.raises(DeliveryError):
            await sender(LOOPBACK).send(config(allowed), message())
        assert counter.connections >= 1


async def test_apprise_works_in_a_thread_while_the_event_loop_keeps_running(
    fake: AppriseFake,
) -> None:
    # The endpoint (served by this same event loop) answers only once the ticker has
    # ticked 20 times; were apprise blocking the loop, neither could make progress.
    fake.gate = asyncio.Event()
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0)
            ticks += 1
            if ticks == 20:
                fake.gate.set()  # type: ignore[union-attr]

    ticking = asyncio.create_task(ticker())
    try:
        receipt = await sender().send(config(fake.json_url), message())
    finally:
        ticking.cancel()

    assert receipt.refused == {}
    assert len(fake.received) == 1
    assert ticks >= 20


async def test_an_answer_later_than_the_timeout_is_a_transient_timeout(
    fake: AppriseFake, caplog: pytest.LogCaptureFixture
) -> None:
    fake.gate = asyncio.Event()
    try:
        with pytest.raises(DeliveryError) as caught:
            await sender().send(config(fake.json_url, timeout=0.2), message())
    finally:
        fake.gate.set()

    assert caught.value.failure_class is FailureClass.TIMEOUT
    assert caught.value.transient
    assert "may still arrive" in caught.value.reason
    assert_no_secret(secrets(fake), caught.value, caplog)


# Configuration: URLs apprise cannot use are refused when saved, by their place.

UNUSABLE = [
    ("not-a-url", "is not an Apprise URL"),
    ("nosuchservice://token/abc", "names no service Apprise knows (nosuchservice://)"),
    ("tgram://not-a-bot-token-Secret77", "Telegram"),
    ("json://", "JSON"),
]


@pytest.mark.parametrize(("url", "says"), UNUSABLE, ids=[row[0] for row in UNUSABLE])
def test_a_url_apprise_cannot_use_is_refused_naming_its_place(
    url: str, says: str, caplog: pytest.LogCaptureFixture
) -> None:
    good = "json://hooks.example.org/in"
    with pytest.raises(ValidationFailed) as caught:
        parse_config(AppriseConfig, {"urls": [good, url]})

    [detail] = caught.value.details
    assert detail["field"] == "configuration.urls.1"
    assert detail["message"].startswith("URL 2 of 2 ")
    assert says in detail["message"]
    assert url not in str(caught.value.details)
    secret = url.split("://")[-1]
    if len(secret) >= 6:
        assert secret not in caplog.text


def test_urls_may_be_one_string_separated_by_spaces_or_commas() -> None:
    written = (
        "json://a.example.org/x, tgram://123456789:AAbbCCddEEffGGhhIIjj/42\nntfy://n.example.org/t"
    )
    parsed = AppriseConfig.model_validate({"urls": written})
    assert [url.get_secret_value() for url in parsed.urls] == [
        "json://a.example.org/x",
        "tgram://123456789:AAbbCCddEEffGGhhIIjj/42",
        "ntfy://n.example.org/t",
    ]


def test_the_urls_read_back_as_one_mask_and_the_mask_sent_back_keeps_them() -> None:
    stored = config("json://u:pw-Secret-1@a.example.org/x", "ntfy://n.example.org/topic-Secret-2")
    public = stored.to_public()
    assert public["urls"] == MASK
    assert "Secret" not in str(public)

    again = parse_config(AppriseConfig, restore_masked(public, stored.to_storage()))
    assert again.to_storage() == stored.to_storage()


def test_the_mask_with_nothing_stored_is_refused() -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_config(AppriseConfig, {"urls": MASK})
    assert caught.value.details[0]["field"] == "configuration.urls"
    assert "mask" in caught.value.details[0]["message"]


def test_every_piece_of_a_url_is_a_secret_text_for_scrubbing() -> None:
    cfg = config("tgram://123456789:AAbbCCddEEffGGhhIIjj/-1001234567890")
    texts = cfg.secret_texts()
    assert "AAbbCCddEEffGGhhIIjj" in texts
    assert "123456789" in texts
    assert "-1001234567890" in texts
