"""Channel health: one ``channel.failing`` notice per incident, one ``channel.recovered``.

A channel is failing after ``threshold`` failed attempts in a row, or at once when a
delivery dies of a permanent error. The notice goes to the project's owners and admins over
the default channel, or another enabled channel that is not failing itself; the in-app
channel (to each owner's and admin's inbox) only when an admin made it the default.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from nabat.catalogue import BY_KEY
from nabat.channels.registry import CHANNEL_TYPES, channel_type
from nabat.delivery.circuit import (
    CircuitPolicy,
    after_failures,
    after_success,
    release_waiting,
)
from nabat.delivery.content import DeliveryContent
from nabat.delivery.queue import NewDelivery
from nabat.ids import ordered_id
from nabat.models.account import Membership, Role, User
from nabat.models.channel import Channel
from nabat.models.delivery import ChannelHealth, DeliveryKind
from nabat.models.routing import NotificationTypeRow
from nabat.routing.snapshot import event_snapshot


@dataclass(frozen=True)
class ChannelRun:
    """What one batch of outcomes says about a channel: whether anything got through, and
    the failures since the last success."""

    project_id: int
    channel_id: int
    had_success: bool = False
    trailing_failures: int = 0
    permanent: bool = False
    last_error: str | None = None
    # Whether the last failure was worth retrying (the circuit breaker counts those).
    transient: bool = False


@dataclass
class HealthChanges:
    """What folding outcomes into health produced: notices to queue, and the projects
    whose channels' circuits changed (their cached channel state is stale)."""

    notices: list[NewDelivery] = field(default_factory=list)
    circuits: set[int] = field(default_factory=set)


async def update_health(
    session: AsyncSession,
    runs: list[ChannelRun],
    *,
    now: datetime,
    threshold: int,
    circuit: CircuitPolicy,
) -> HealthChanges:
    """Fold a batch's outcomes into channel health and circuit breakers."""
    changes = HealthChanges()
    notices = changes.notices
    for run in runs:
        health = await session.get(ChannelHealth, run.channel_id)
        if health is None:
            health = ChannelHealth(channel_id=run.channel_id, consecutive_failures=0, failing=False)
            session.add(health)
        if run.had_success:
            health.consecutive_failures = 0
            health.last_success_at = now
            if after_success(health):
                changes.circuits.add(run.project_id)
                await release_waiting(session, run.channel_id, now=now)
            if health.failing and not run.trailing_failures:
                health.failing = False
                health.failing_since = None
                notices += await _notice(session, run, recovered=True, now=now)
        if not run.trailing_failures:
            continue
        health.consecutive_failures += run.trailing_failures
        health.last_failure_at = now
        health.last_error = run.last_error
        if after_failures(health, circuit, transient=run.transient, now=now):
            changes.circuits.add(run.project_id)
        if not health.failing and (health.consecutive_failures >= threshold or run.permanent):
            health.failing = True
            health.failing_since = now
            await session.flush()
            notices += await _notice(session, run, recovered=False, now=now)
    return changes


async def _notice(
    session: AsyncSession, run: ChannelRun, *, recovered: bool, now: datetime
) -> list[NewDelivery]:
    channel = await session.get(Channel, run.channel_id)
    if channel is None:
        return []
    target = await _healthy_target(session, run.project_id, exclude=run.channel_id)
    if target is None:
        return []
    type_key = "channel.recovered" if recovered else "channel.failing"
    content = DeliveryContent(
        kind="channel_health", event=_notice_event(channel, run, now, recovered=recovered)
    )
    # Like any notification type, these can be switched off: the notice is then recorded,
    # not sent.
    switched_off = await session.scalar(
        select(NotificationTypeRow.id).where(
            NotificationTypeRow.project_id == run.project_id,
            NotificationTypeRow.key == type_key,
            NotificationTypeRow.enabled.is_(False),
        )
    )
    reason = f"the notification type {type_key!r} is switched off in this project"
    recipients: list[str | None] = [None]
    # A personal e-mail channel goes to each owner and admin, the in-app one to their
    # inboxes; others to their destination.
    kind = channel_type(target.type)
    if kind is not None and kind.address_kind == "EMAIL":
        recipients = [email for email in await _admin_emails(session, run.project_id)] or [None]
    elif kind is not None and kind.address_kind == "USER":
        recipients = [str(user) for user in await _admin_ids(session, run.project_id)] or [None]
    return [
        NewDelivery(
            project_id=run.project_id,
            channel_id=target.id,
            channel_type=target.type,
            content=content.to_json(),
            recipient=recipient,
            kind=DeliveryKind.HEALTH.value,
            suppressed_by="TYPE_DISABLED" if switched_off else None,
            reason=reason if switched_off else None,
        )
        for recipient in recipients
    ]


def _notice_event(
    channel: Channel, run: ChannelRun, now: datetime, *, recovered: bool
) -> dict[str, Any]:
    """The event a notice is about: a catalogue type, so the project's template for it (or
    the default, which names the channel in the headline) words it in the project's
    language. The message is the last failure's reason as the sender gave it."""
    type_key = "channel.recovered" if recovered else "channel.failing"
    return event_snapshot(
        public_id=ordered_id("evt_"),
        type_key=type_key,
        type_title=BY_KEY[type_key].title("en"),
        severity="INFO" if recovered else "ERROR",
        message="" if recovered else (run.last_error or ""),
        source={"name": "Nabat"},
        subject={
            "objectType": "channel",
            "objectId": str(channel.id),
            "title": channel.name,
            # Seed 002's status for webhooks that read the payload made from the event.
            "status": "RECOVERED" if recovered else "FAILING",
        },
        labels={},
        data={"channelId": channel.id, "channelType": channel.type},
        occurred_at=now,
        received_at=now,
    )


async def _healthy_target(
    session: AsyncSession, project_id: int, *, exclude: int
) -> Channel | None:
    failing = select(ChannelHealth.channel_id).where(ChannelHealth.failing)
    # Nabat's own channel is in every project without anyone choosing it: it carries
    # notices only where an admin made it the default, so who gets them stays their choice.
    builtin = [name for name, kind in CHANNEL_TYPES.items() if kind.builtin]
    candidates = await session.scalars(
        select(Channel)
        .where(
            Channel.project_id == project_id,
            Channel.enabled,
            Channel.id != exclude,
            Channel.id.not_in(failing),
        )
        .where(or_(Channel.is_default, Channel.type.not_in(builtin)))
        .order_by(Channel.is_default.desc(), Channel.id)
    )
    return candidates.first()


async def _admin_emails(session: AsyncSession, project_id: int) -> list[str]:
    rows = await session.scalars(
        select(User.email)
        .join(Membership, Membership.user_id == User.id)
        .where(_admins(project_id))
        .order_by(User.id)
    )
    return list(rows)


async def _admin_ids(session: AsyncSession, project_id: int) -> list[int]:
    rows = await session.scalars(
        select(User.id)
        .join(Membership, Membership.user_id == User.id)
        .where(_admins(project_id))
        .order_by(User.id)
    )
    return list(rows)


def _admins(project_id: int) -> Any:
    return and_(
        Membership.project_id == project_id,
        Membership.role.in_([Role.OWNER.value, Role.ADMIN.value]),
        User.is_active,
    )
