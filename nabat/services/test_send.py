"""``POST …/channels/{id}/test``: one immediate attempt, no retry, recorded like any other."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from nabat.channels.contract import DeliveryError, Receipt, Sender
from nabat.channels.email import EmailConfig
from nabat.clock import Clock
from nabat.delivery.content import build_content, outgoing, seed_payload
from nabat.delivery.queue import new_public_id
from nabat.delivery.render import mail_config, project_wording
from nabat.errors import ErrorCode, NabatError
from nabat.models.delivery import Delivery, DeliveryAttempt, DeliveryKind, DeliveryStatus
from nabat.services.channels import ChannelView

ERROR_CODES = {
    "EMAIL": ErrorCode.EMAIL_ERROR,
    "TELEGRAM": ErrorCode.TELEGRAM_ERROR,
    "SLACK": ErrorCode.SLACK_ERROR,
    "WEBHOOK": ErrorCode.WEBHOOK_ERROR,
    "PYTHON_BOT": ErrorCode.BOT_UNAVAILABLE,
    "DISCORD": ErrorCode.DISCORD_ERROR,
}

DEFAULT_MESSAGE = "Test notification from Nabat. / Тестовое уведомление от Nabat."

# What the caller reads, in the project's language; seed 001 words the e-mail success.
_SENT = {
    "EMAIL": {"ru": "Тестовое письмо успешно отправлено", "en": "Test e-mail sent successfully"},
}
_SENT_DEFAULT = {
    "ru": "Тестовое сообщение успешно отправлено",
    "en": "Test message sent successfully",
}
_FAILED = {
    "EMAIL": {
        "ru": "Тестовое письмо не отправлено: {reason}",
        "en": "Test e-mail not sent: {reason}",
    },
}
_FAILED_DEFAULT = {
    "ru": "Тестовое сообщение не отправлено: {reason}",
    "en": "Test message not sent: {reason}",
}


def _said(table: dict[str, str], language: str) -> str:
    return table.get(language, table["en"])


class TestSendFailed(NabatError):
    """The provider did not take the test message; 502 with the provider's reason."""

    __test__ = False  # not a pytest test class, despite the name
    status_code = 502


@dataclass(frozen=True)
class TestRequest:
    """Seed 001's test form: recipient, subject, body (and PingTower's username)."""

    __test__ = False

    message: str | None = None
    username: str | None = None
    recipient: str | None = None
    subject: str | None = None


@dataclass(frozen=True)
class TestResult:
    """A delivered test message."""

    __test__ = False

    delivery_id: int
    duration_ms: float
    message: str
    detail: str


def _recipient(view: ChannelView, request: TestRequest, user_email: str | None) -> str | None:
    if request.recipient:
        return request.recipient.strip()
    if isinstance(view.config, EmailConfig) and not view.config.to:
        return user_email
    return None


async def send_test(
    session: AsyncSession,
    *,
    clock: Clock,
    sender: Sender[Any],
    view: ChannelView,
    request: TestRequest,
    user_email: str | None,
) -> TestResult:
    """Send a test message over the channel now, as the project's mail settings make it;
    raise :class:`TestSendFailed` in the project's language if refused."""
    now = clock.now()
    wording = (await project_wording(session, {view.row.project_id}))[view.row.project_id]
    language = wording.settings.language
    payload = seed_payload(
        username=request.username,
        service_name="Nabat",
        service_url=None,
        status="TEST",
        severity="INFO",
        message=request.message or DEFAULT_MESSAGE,
        timestamp=now,
        metadata={"test": True},
    )
    content = build_content(payload, {"type": "test"})
    if request.subject:
        content["subject"] = request.subject
    recipient = _recipient(view, request, user_email)
    public_id = new_public_id()
    tick = time.perf_counter()
    receipt: Receipt | None = None
    error: DeliveryError | None = None
    try:
        config = mail_config(view.config, wording)
        receipt = await sender.send(config, outgoing(public_id, recipient, content))
    except DeliveryError as exc:
        error = exc
    duration_ms = (time.perf_counter() - tick) * 1000
    status = DeliveryStatus.SENT if error is None else DeliveryStatus.DEAD
    delivery = Delivery(
        public_id=public_id,
        project_id=view.row.project_id,
        channel_id=view.row.id,
        channel_type=view.row.type,
        kind=DeliveryKind.TEST.value,
        recipient=recipient,
        content=content,
        status=status.value,
        attempts=1,
        max_attempts=1,
        next_attempt_at=now,
        last_failure_class=error.failure_class.value if error else None,
        last_error=error.reason if error else None,
        last_status_code=error.status if error else (receipt.status if receipt else None),
        provider_id=receipt.provider_id if receipt else None,
        created_at=now,
        updated_at=now,
        sent_at=now if error is None else None,
    )
    session.add(delivery)
    await session.flush()
    session.add(
        DeliveryAttempt(
            delivery_id=delivery.id,
            number=1,
            started_at=now,
            duration_ms=duration_ms,
            outcome="sent" if error is None else "failed",
            status_code=delivery.last_status_code,
            failure_class=delivery.last_failure_class,
            reason=error.reason if error else (receipt.detail if receipt else ""),
            worker="api:test",
        )
    )
    await session.commit()
    if error is not None:
        failed = _FAILED.get(view.row.type, _FAILED_DEFAULT)
        raise TestSendFailed(
            _said(failed, language).format(reason=error.reason),
            code=ERROR_CODES.get(view.row.type, ErrorCode.WEBHOOK_ERROR),
            details=[
                {
                    "deliveryId": delivery.id,
                    "failureClass": error.failure_class.value,
                    "transient": error.transient,
                    "statusCode": error.status,
                }
            ],
        )
    assert receipt is not None
    return TestResult(
        delivery_id=delivery.id,
        duration_ms=duration_ms,
        message=_said(_SENT.get(view.row.type, _SENT_DEFAULT), language),
        detail=receipt.detail,
    )
