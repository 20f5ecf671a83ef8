"""``POST …/channels/{id}/test``: one attempt now, no retry, recorded like any delivery.

A test goes through the queue and :func:`nabat.delivery.attempt.attempt` like every other
delivery, so the project's mail settings, its ``test`` template, language and signature,
and the providers' rate limits apply; the form's subject and message win over the
template's.
The unit of work has three steps, so no database connection is held while the provider
answers: :func:`queue_test` (commit), :func:`run_test`, :func:`record_test` (commit).
:func:`send_test` is the whole flow, shared by the API route and the console; it calls
the commit its caller hands it between the steps, because the provider must not be
waited for inside a transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from nabat.catalogue import BY_KEY
from nabat.channels.contract import DeliveryError, FailureClass, Sender
from nabat.channels.descriptor import ChannelType
from nabat.channels.registry import channel_type
from nabat.clock import Clock
from nabat.db.gate import WriteGate
from nabat.delivery.attempt import Attempted, attempt
from nabat.delivery.content import DeliveryContent, seed_payload
from nabat.delivery.inbox import store_items
from nabat.delivery.outcomes import failed, sent
from nabat.delivery.queue import Claimed, Lease, NewDelivery, enqueue, settle
from nabat.delivery.ratelimit import RateLimits
from nabat.delivery.render import Wording, project_wording
from nabat.errors import NabatError
from nabat.ids import ordered_id
from nabat.models.account import User
from nabat.models.delivery import DeliveryKind
from nabat.routing.snapshot import event_snapshot
from nabat.services.channels import ChannelView
from nabat.signals.inbox import InboxNews

# The test's message when the form leaves it empty, in the project's language.
DEFAULT_MESSAGE = {
    "en": "If you read this, the channel works.",
    "ru": "Если вы это читаете, канал работает.",
}


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
class QueuedTest:
    """A test delivery stored leased to the caller, ready for :func:`run_test`."""

    item: Claimed
    view: ChannelView
    wording: Wording
    owner: str
    queued_at: datetime


@dataclass(frozen=True)
class TestResult:
    """A recorded test: the answer for the caller, or the failure to raise after commit;
    ``news``: the change to the tester's inbox an in-app test made, to announce."""

    __test__ = False

    delivery_id: int
    duration_ms: float
    message: str
    detail: str
    failure: TestSendFailed | None = None
    news: list[InboxNews] = field(default_factory=list)


def _recipient(
    kind: ChannelType[Any],
    view: ChannelView,
    request: TestRequest,
    user_email: str | None,
    user_id: int | None,
) -> str | None:
    if kind.address_kind == "USER":
        # An in-app test lands in the tester's own inbox, never in someone else's.
        return str(user_id) if user_id is not None else None
    if request.recipient:
        return request.recipient.strip()
    # A mail channel without recipients of its own mails the tester.
    if kind.address_kind == "EMAIL" and not kind.addressed(view.config):
        return user_email
    return None


def _test_event(message: str, language: str, now: datetime) -> dict[str, Any]:
    """The event a test is about: of the catalogue's ``test`` type, so the project's
    ``test`` template (or the default one) words it. It is not stored as an event."""
    return event_snapshot(
        public_id=ordered_id("evt_"),
        type_key="test",
        type_title=BY_KEY["test"].title(language),
        severity="INFO",
        message=message,
        source={"name": "Nabat"},
        subject={},
        labels={},
        data={},
        occurred_at=now,
        received_at=now,
    )


def _descriptor(view: ChannelView) -> ChannelType[Any]:
    kind = channel_type(view.row.type)
    # A stored channel's type was checked when it was saved.
    assert kind is not None, view.row.type
    return kind


async def queue_test(
    session: AsyncSession,
    *,
    clock: Clock,
    view: ChannelView,
    request: TestRequest,
    user_email: str | None,
    lease: Lease,
    user_id: int | None = None,
) -> QueuedTest:
    """Store the test delivery (one attempt allowed) leased to ``lease.owner``; the caller
    commits before :func:`run_test`.

    Should the process die before :func:`record_test`, the lease runs out (or its owner
    stops beating) and a worker makes the one attempt instead, like any delivery.
    """
    now = clock.now()
    wording = (await project_wording(session, {view.row.project_id}))[view.row.project_id]
    language = wording.settings.language
    message = request.message or DEFAULT_MESSAGE.get(language, DEFAULT_MESSAGE["en"])
    content = DeliveryContent(
        kind="test",
        event=_test_event(message, language, now),
        payload=seed_payload(
            username=request.username,
            service_name="Nabat",
            service_url=None,
            status="TEST",
            severity="INFO",
            message=message,
            timestamp=now,
            metadata={"test": True},
        ),
        subject=request.subject or None,
        recipient_name=request.username,
    )
    new = NewDelivery(
        project_id=view.row.project_id,
        channel_id=view.row.id,
        channel_type=view.row.type,
        content=content.to_json(),
        recipient=_recipient(_descriptor(view), view, request, user_email, user_id),
        kind=DeliveryKind.TEST.value,
    )
    [item] = await enqueue(session, [new], now=now, max_attempts=1, lease=lease)
    return QueuedTest(item, view, wording, lease.owner, now)


async def run_test(queued: QueuedTest, *, sender: Sender[Any], limits: RateLimits) -> Attempted:
    """The one attempt, holding no database connection."""
    return await attempt(
        queued.item,
        channel_type=queued.view.row.type,
        config=queued.view.config,
        wording=queued.wording,
        sender=sender,
        limits=limits,
    )


async def record_test(
    session: AsyncSession,
    queued: QueuedTest,
    attempted: Attempted,
    *,
    clock: Clock,
    language: str | None = None,
) -> TestResult:
    """Settle the test delivery with its attempt; the caller commits, then raises
    ``failure`` if there is one. Answers are in ``language``, else the project's."""
    now = clock.now()
    item = queued.item
    language = language or queued.wording.settings.language
    error = attempted.error
    if attempted.wait > 0:
        # A test does not wait in the queue: the caller is told when to try again.
        error = DeliveryError(
            FailureClass.THROTTLED,
            f"the provider's rate limit for this channel is reached; try again in "
            f"{attempted.wait:.1f} s",
            retry_after=attempted.wait,
        )
    if error is None:
        assert attempted.receipt is not None
        outcome = sent(item, queued.queued_at, attempted.seconds, attempted.receipt, now)
    else:
        outcome = failed(item, queued.queued_at, attempted.seconds, error, now)
    owned = await settle(session, [outcome], worker=queued.owner, now=now)
    news = []
    if outcome.inbox is not None and item.id in owned:
        news = await store_items(session, [(item, outcome.inbox)], now=now)
    duration_ms = attempted.seconds * 1000
    kind = _descriptor(queued.view)
    if error is None:
        return TestResult(
            delivery_id=item.id,
            duration_ms=duration_ms,
            message=kind.test_sent.said(language),
            detail=outcome.reason,
            news=news,
        )
    failure = TestSendFailed(
        kind.test_failed.said(language, reason=error.reason),
        code=kind.error_code,
        details=[
            {
                "deliveryId": item.id,
                "failureClass": error.failure_class.value,
                "transient": error.transient,
                "statusCode": error.status,
            }
        ],
    )
    return TestResult(item.id, duration_ms, failure.message, error.reason, failure)


@dataclass(frozen=True)
class TestParts:
    """What a test send needs of the running process: its clock, the write gate, its
    lease owner (whose heartbeat renews the test's lease) and the providers' limits."""

    __test__ = False

    clock: Clock
    gate: WriteGate
    owner: str
    lease_seconds: float
    limits: RateLimits
    # Announces changes to people's inboxes (an in-app test's item) after the commit.
    inbox_published: Callable[[list[InboxNews]], None] | None = None


async def send_test(
    session: AsyncSession,
    parts: TestParts,
    *,
    view: ChannelView,
    request: TestRequest,
    sender: Sender[Any],
    user_id: int | None,
    commit: Callable[[], Awaitable[None]],
    language: str | None = None,
) -> TestResult:
    """Queue, attempt and record one test send of ``view``'s channel, calling the
    caller's ``commit`` after queueing and after recording (never while the provider is
    waited for): two units of work, both the caller's.

    Returns the recorded result; a refused test carries its :class:`TestSendFailed` in
    ``failure`` (worded in ``language``, else the project's) for the caller to raise or
    show. The tester's e-mail is the recipient of a mail channel without its own; an
    in-app test goes to the tester's own inbox.
    """
    user = await session.get(User, user_id) if user_id is not None else None
    now = parts.clock.now()
    lease = Lease(parts.owner, now + timedelta(seconds=parts.lease_seconds))
    async with parts.gate:
        queued = await queue_test(
            session,
            clock=parts.clock,
            view=view,
            request=request,
            user_email=user.email if user else None,
            lease=lease,
            user_id=user.id if user else None,
        )
        await commit()
    attempted = await run_test(queued, sender=sender, limits=parts.limits)
    async with parts.gate:
        result = await record_test(session, queued, attempted, clock=parts.clock, language=language)
        await commit()
    if result.news and parts.inbox_published is not None:
        parts.inbox_published(result.news)
    return result
