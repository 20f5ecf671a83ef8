"""TeamsSender against a fake Workflows trigger: the Adaptive Card, 202 recorded as
accepted, the card's byte budget, the platform's errors, retired connector URLs refused
at save time, and the signature never shown."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from nabat.channels.base import MASK, restore_masked
from nabat.channels.contract import DeliveryError, FailureClass, OutgoingMessage
from nabat.channels.teams import TeamsConfig
from nabat.channels.teams_card import card_payload
from nabat.channels.teams_sender import TeamsSender
from nabat.errors import ValidationFailed
from nabat.services.channels import parse_config
from tests.fakes.provider import Reply
from tests.fakes.support import assert_no_secret, loopback_outbound
from tests.fakes.teams import SIGNATURE, SIZE_LIMIT, WORKFLOW_ID, TeamsFake, platform_error

# The channel types whose error table this module tests (see test_channel_registry.py).
ERROR_TABLE_OF = ("TEAMS",)


@pytest.fixture
async def fake() -> AsyncIterator[TeamsFake]:
    async with TeamsFake() as server:
        yield server


@pytest.fixture
async def sender() -> AsyncIterator[TeamsSender]:
    async with loopback_outbound() as outbound:
        yield TeamsSender(outbound, timeout_s=5.0)


@pytest.fixture(autouse=True)
def _capture_all_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)


def config(fake: TeamsFake, url: str | None = None, **overrides: Any) -> TeamsConfig:
    return TeamsConfig.model_validate({"webhookUrl": url or fake.workflow_url, **overrides})


def secrets(fake: TeamsFake) -> tuple[str, ...]:
    return (fake.workflow_url, SIGNATURE)


def message(
    subject: str = "Disk full",
    text: str = "db-1: / is at 97%",
    severity: str = "CRITICAL",
    **payload: Any,
) -> OutgoingMessage:
    return OutgoingMessage(
        delivery_id="d-1", subject=subject, text=text, severity=severity, payload=payload
    )


def texts(card: dict[str, Any]) -> list[str]:
    return [block["text"] for block in card["body"] if block["type"] == "TextBlock"]


async def test_the_card_is_an_adaptive_card_message_the_workflow_posts(
    fake: TeamsFake, sender: TeamsSender
) -> None:
    await sender.send(
        config(fake),
        message(serviceUrl="https://status.example.org/db-1", serviceName="db-1"),
    )

    [request] = fake.requests
    assert request.method == "POST"
    assert request.headers["content-type"].startswith("application/json")
    body = request.json()
    assert body["type"] == "message"
    [attachment] = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard"
    assert tuple(map(int, card["version"].split("."))) <= (1, 5)
    assert "MessageCard" not in request.body.decode()
    severity, subject, text = card["body"]
    assert severity == {
        "type": "TextBlock",
        "text": "CRITICAL",
        "color": "Attention",
        "weight": "Bolder",
        "size": "Small",
        "wrap": True,
    }
    assert subject["text"] == "Disk full"
    assert subject["weight"] == "Bolder"
    assert text["text"] == "db-1: / is at 97%"
    assert card["actions"] == [
        {"type": "Action.OpenUrl", "title": "db-1", "url": "https://status.example.org/db-1"}
    ]
    assert card["fallbackText"] == "Disk full"
    [run] = fake.runs
    assert run.succeeded, run.error


@pytest.mark.parametrize(
    ("severity", "color"), [("ERROR", "Attention"), ("WARNING", "Warning"), ("INFO", "Accent")]
)
async def test_the_severity_shows_in_its_colour(
    fake: TeamsFake, sender: TeamsSender, severity: str, color: str
) -> None:
    await sender.send(config(fake), message(severity=severity))

    assert fake.cards[0]["body"][0]["color"] == color


async def test_202_is_recorded_as_accepted_not_delivered_with_the_run_id(
    fake: TeamsFake, sender: TeamsSender
) -> None:
    receipt = await sender.send(config(fake), message())

    assert receipt.status == 202
    assert receipt.detail.startswith("accepted by the Teams workflow, not yet delivered")
    assert "run history" in receipt.detail
    assert receipt.provider_id == fake.runs[0].run_id


async def test_a_message_without_a_link_has_no_action_and_no_text_gets_a_default(
    fake: TeamsFake, sender: TeamsSender
) -> None:
    await sender.send(config(fake), message(subject=" ", text="", serviceUrl="javascript:x"))

    card = fake.cards[0]
    assert "actions" not in card
    assert texts(card) == ["CRITICAL", "Notification from Nabat"]


async def test_asterisks_in_alert_text_cannot_start_markdown_emphasis(
    fake: TeamsFake, sender: TeamsSender
) -> None:
    await sender.send(config(fake), message(subject="**bold**", text="usage *97%* of /"))

    _, subject, text = texts(fake.cards[0])
    assert "**" not in subject
    assert "*9" not in text
    assert subject.replace("\u034f", "") == "**bold**"
    assert text.replace("\u034f", "") == "usage *97%* of /"


@pytest.mark.parametrize("limit", [5_000, 20_000, 28_000])
@pytest.mark.parametrize("unit", ["a", "ж", "🔥", '"', "line\n"])
def test_the_card_stays_within_its_byte_budget_and_marks_the_cut(limit: int, unit: str) -> None:
    body = card_payload(message(text=unit * 40_000), limit)

    assert len(body) <= limit
    text = texts(json.loads(body)["attachments"][0]["content"])[-1]
    assert text.endswith("…")
    # Nearly all of the budget is used: the cut is not needlessly short.
    assert len(body) > limit - 16


def test_a_card_within_the_budget_keeps_its_whole_text() -> None:
    body = card_payload(message(text="ж" * 1000), 20_000)

    assert texts(json.loads(body)["attachments"][0]["content"])[-1] == "ж" * 1000


async def test_a_long_russian_alert_is_shortened_and_the_workflow_takes_it(
    fake: TeamsFake, sender: TeamsSender
) -> None:
    receipt = await sender.send(config(fake), message(text="Диск заполнен на 97%. " * 3000))

    assert receipt.status == 202
    assert len(fake.requests[0].body) <= 20_000 < SIZE_LIMIT
    assert fake.runs[0].succeeded


@dataclass(frozen=True)
class Row:
    """One answer of the trigger, and what it means."""

    name: str
    reply: Reply
    failure_class: FailureClass
    transient: bool
    says: str
    retry_after: float | None = None

    def __str__(self) -> str:
        return self.name


ROWS = [
    Row(
        "schema_mismatch",
        platform_error(
            400,
            "TriggerInputSchemaMismatch",
            "The input body for trigger 'manual' of type 'Request' did not match its schema "
            "definition.",
        ),
        FailureClass.REJECTED,
        False,
        "TriggerInputSchemaMismatch",
    ),
    Row(
        "invalid_content",
        platform_error(400, "InvalidRequestContent", "The request content was invalid."),
        FailureClass.REJECTED,
        False,
        "rejected the card",
    ),
    Row(
        "signature_missing",
        platform_error(
            401,
            "DirectApiAuthorizationRequired",
            "The request must be authenticated only by Shared Access scheme.",
        ),
        FailureClass.AUTH,
        False,
        "DirectApiAuthorizationRequired",
    ),
    Row(
        "signature_wrong",
        platform_error(
            401,
            "DirectApiInvalidAuthorizationSignature",
            "The provided authorization signature is not valid.",
        ),
        FailureClass.AUTH,
        False,
        "copy the URL again",
    ),
    Row(
        "forbidden",
        platform_error(403, "AuthorizationFailed", "The client is not authorized."),
        FailureClass.AUTH,
        False,
        "HTTP 403",
    ),
    Row(
        "workflow_not_found",
        platform_error(404, "WorkflowNotFound", "The workflow could not be found."),
        FailureClass.GONE,
        False,
        "create the workflow again",
    ),
    Row(
        "too_large",
        Reply(413, "<html>Request Entity Too Large</html>", content_type="text/html"),
        FailureClass.REJECTED,
        False,
        "maxCardBytes",
    ),
    Row(
        "throttled",
        platform_error(
            429,
            "WorkflowRequestsThrottled",
            "The workflow is receiving too many requests.",
            **{"Retry-After": "37"},
        ),
        FailureClass.THROTTLED,
        True,
        "37 s",
        retry_after=37.0,
    ),
    Row(
        "throttled_without_retry_after",
        Reply(429),
        FailureClass.THROTTLED,
        True,
        "HTTP 429",
    ),
    Row(
        "internal_error",
        platform_error(500, "InternalServerError", "Encountered internal server error."),
        FailureClass.UPSTREAM,
        True,
        "HTTP 500",
    ),
    Row(
        "bad_gateway_html",
        Reply(502, "<html>502 Bad Gateway</html>", content_type="text/html"),
        FailureClass.UPSTREAM,
        True,
        "HTTP 502",
    ),
    Row(
        "unavailable_with_retry_after",
        Reply(503, "", headers={"Retry-After": "12"}),
        FailureClass.UPSTREAM,
        True,
        "HTTP 503",
        retry_after=12.0,
    ),
    Row("request_timeout", Reply(408), FailureClass.TIMEOUT, True, "HTTP 408"),
    Row("redirect", Reply(302, headers={"Location": "/"}), FailureClass.REJECTED, False, "302"),
]


@pytest.mark.parametrize("row", ROWS, ids=str)
async def test_every_error_row_has_its_class_and_leaks_no_signature(
    fake: TeamsFake, sender: TeamsSender, row: Row, caplog: pytest.LogCaptureFixture
) -> None:
    fake.respond(row.reply)

    with pytest.raises(DeliveryError) as caught:
        await sender.send(config(fake), message())

    error = caught.value
    assert error.failure_class is row.failure_class
    assert error.transient is row.transient
    assert row.says in error.reason
    assert error.retry_after == row.retry_after
    assert error.status == row.reply.status
    assert len(fake.requests) == 1
    assert_no_secret(secrets(fake), error, caplog)


async def test_a_wrong_signature_is_an_auth_failure_that_does_not_show_it(
    fake: TeamsFake, sender: TeamsSender, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = fake.workflow_url.replace(SIGNATURE, "WrongSignature-0123456789")

    with pytest.raises(DeliveryError) as caught:
        await sender.send(config(fake, url=wrong), message())

    assert caught.value.failure_class is FailureClass.AUTH
    assert "DirectApiInvalidAuthorizationSignature" in caught.value.reason
    assert_no_secret((wrong, "WrongSignature-0123456789"), caught.value, caplog)


async def test_a_deleted_workflow_is_gone(
    fake: TeamsFake, sender: TeamsSender, caplog: pytest.LogCaptureFixture
) -> None:
    deleted = fake.workflow_url.replace(WORKFLOW_ID, "0" * 32)

    with pytest.raises(DeliveryError) as caught:
        await sender.send(config(fake, url=deleted), message())

    assert caught.value.failure_class is FailureClass.GONE
    assert_no_secret((deleted, SIGNATURE), caught.value, caplog)


async def test_an_error_body_echoing_the_signature_does_not_leak_it(
    fake: TeamsFake, sender: TeamsSender, caplog: pytest.LogCaptureFixture
) -> None:
    fake.respond(
        platform_error(
            401,
            "DirectApiInvalidAuthorizationSignature",
            f"The provided authorization signature '{SIGNATURE}' is not valid.",
        )
    )

    with pytest.raises(DeliveryError) as caught:
        await sender.send(config(fake), message())

    assert_no_secret(secrets(fake), caught.value, caplog)


async def test_an_unreachable_workflow_is_a_transient_network_failure(
    fake: TeamsFake, sender: TeamsSender, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = config(fake)
    leaked = secrets(fake)
    await fake.stop()

    with pytest.raises(DeliveryError) as caught:
        await sender.send(cfg, message())

    assert caught.value.failure_class is FailureClass.NETWORK
    assert_no_secret(leaked, caught.value, caplog)


# Configuration.

WORKFLOW_URLS = [
    "https://prod-12.westeurope.logic.azure.com:443/workflows/5f0c2a7d/triggers/manual/paths/"
    "invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=AbCdEf123456",
    "https://default0c8b.52.environment.api.powerplatform.com:443/powerautomate/automations/"
    "direct/workflows/5f0c2a7d/triggers/manual/paths/invoke?api-version=1&sig=AbCdEf123456",
]

RETIRED = [
    "https://contoso.webhook.office.com/webhookb2/0000-1111@2222/IncomingWebhook/abc/def",
    "https://webhook.office.com/webhookb2/0000-1111@2222/IncomingWebhook/abc/def",
    "https://outlook.office.com/webhook/0000-1111@2222/IncomingWebhook/abc/def",
    "https://OUTLOOK.OFFICE365.COM/webhook/0000-1111@2222/IncomingWebhook/abc/def",
]


@pytest.mark.parametrize("url", WORKFLOW_URLS)
def test_a_workflows_url_is_accepted_and_read_back_masked(url: str) -> None:
    stored = parse_config(TeamsConfig, {"webhookUrl": url})

    public = stored.to_public()
    assert public == {"webhookUrl": MASK, "maxCardBytes": 20_000}
    again = parse_config(TeamsConfig, restore_masked(public, stored.to_storage()))
    assert again.to_storage() == stored.to_storage()
    assert "AbCdEf123456" in stored.secret_texts()[0]


@pytest.mark.parametrize("url", RETIRED)
def test_a_retired_connector_url_is_refused_with_the_workflow_to_use(url: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_config(TeamsConfig, {"webhookUrl": url})

    [detail] = caught.value.details
    assert detail["field"] == "configuration.webhookUrl"
    assert "Office 365 connector" in detail["message"]
    assert "'Post to a channel when a webhook request is received'" in detail["message"]
    assert "IncomingWebhook" not in str(caught.value.details)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"webhookUrl": "ftp://prod-1.logic.azure.com/workflows/x"}, "webhookUrl"),
        ({"webhookUrl": MASK}, "webhookUrl"),
        ({"maxCardBytes": 100}, "maxCardBytes"),
        ({"maxCardBytes": 100_000}, "maxCardBytes"),
        ({"webhookURL": WORKFLOW_URLS[0]}, "webhookURL"),
    ],
)
def test_a_bad_configuration_is_refused_naming_the_field(
    change: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_config(TeamsConfig, {"webhookUrl": WORKFLOW_URLS[0], **change})

    assert caught.value.details[0]["field"] == f"configuration.{field}"
