"""The deliveries table as a queue: enqueue, claim under a lease, settle.

Claims are one conditional ``UPDATE … RETURNING`` (with ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so concurrent workers skip each other's rows instead of waiting). A claimed row
carries ``lease_owner``/``lease_until``. The lease is short and its owner renews it while
it beats (``delivery/liveness.py``); a row becomes claimable again when its lease runs out
or, at once, when its owner stops beating (a crashed process). Settling only touches rows
still leased to the settling worker, so a worker that lost its lease cannot overwrite the
new owner's result.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, exists, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from nabat.channels.contract import InboxDraft
from nabat.db.bulk import insert_many
from nabat.ids import ordered_id, ordered_ids
from nabat.models.delivery import Delivery, DeliveryAttempt, DeliveryStatus
from nabat.models.liveness import WorkerBeat

_DUE = (DeliveryStatus.QUEUED.value, DeliveryStatus.FAILED.value)


def new_public_id() -> str:
    """A stable, unguessable idempotency id for a delivery (no dots: Standard Webhooks)."""
    return ordered_id("dlv_")


@dataclass(slots=True)
class NewDelivery:
    """A delivery to put on the queue."""

    project_id: int
    channel_id: int | None
    channel_type: str
    content: dict[str, Any]
    recipient: str | None = None
    kind: str = "notification"
    event_id: int | None = None
    rule_id: int | None = None
    # Set for a delivery that is recorded but held back (SUPPRESSED): the code
    # (TYPE_DISABLED, SILENCED, THROTTLED), the sentence, and the silence if one did it.
    suppressed_by: str | None = None
    reason: str | None = None
    silence_id: int | None = None
    # The fallback chain's next hops, in order ({channelId, channelType, recipient}).
    fallback: list[dict[str, Any]] | None = None
    # Held QUEUED until then (the recipient's quiet hours), never leased before.
    not_before: datetime | None = None


@dataclass(frozen=True)
class Lease:
    """Deliveries inserted already leased to a worker of this process (no claim needed)."""

    owner: str
    until: datetime


async def enqueue(
    session: AsyncSession,
    items: list[NewDelivery],
    *,
    now: datetime,
    max_attempts: int,
    lease: Lease | None = None,
) -> list[Claimed]:
    """Insert deliveries in the caller's transaction, QUEUED or, with ``lease``, leased.

    The caller commits: the deliveries are durable exactly when its transaction is. A
    leased delivery whose worker dies before sending it is claimed again once its owner's
    heartbeat goes stale (or the lease runs out), like any other. Suppressed items are
    stored SUPPRESSED and never leased; an item held ``not_before`` a later moment is
    stored QUEUED, due then, and never leased; the result holds every row in order,
    suppressed ones marked so.
    """
    if not items:
        return []
    status = DeliveryStatus.SENDING if lease else DeliveryStatus.QUEUED
    rows = [
        _row(item, public_id, status, now, max_attempts, lease)
        for item, public_id in zip(items, ordered_ids("dlv_", len(items)), strict=True)
    ]
    ids = await insert_many(session, cast(Table, Delivery.__table__), rows)
    return [
        Claimed(
            id=row_id,
            public_id=str(row["public_id"]),
            project_id=item.project_id,
            channel_id=item.channel_id,
            channel_type=item.channel_type,
            kind=item.kind,
            recipient=item.recipient,
            content=item.content,
            attempts=0,
            max_attempts=max_attempts,
            suppressed=item.suppressed_by is not None,
            fallback=item.fallback or None,
        )
        for row_id, row, item in zip(ids, rows, items, strict=True)
    ]


def _row(
    item: NewDelivery,
    public_id: str,
    status: DeliveryStatus,
    now: datetime,
    max_attempts: int,
    lease: Lease | None,
) -> dict[str, Any]:
    held = item.not_before is not None and item.not_before > now
    leased = lease is not None and not item.suppressed_by and not held
    if item.suppressed_by:
        status = DeliveryStatus.SUPPRESSED
    elif held:
        status = DeliveryStatus.QUEUED
    return {
        "public_id": public_id,
        "project_id": item.project_id,
        "channel_id": item.channel_id,
        "channel_type": item.channel_type,
        "event_id": item.event_id,
        "rule_id": item.rule_id,
        "suppressed_by": item.suppressed_by,
        "silence_id": item.silence_id,
        "last_error": item.reason,
        "kind": item.kind,
        "recipient": item.recipient,
        "content": item.content,
        "fallback": item.fallback or None,
        "status": status.value,
        "attempts": 0,
        "max_attempts": max_attempts,
        "next_attempt_at": item.not_before if held else now,
        "lease_owner": lease.owner if lease is not None and leased else None,
        "lease_until": lease.until if lease is not None and leased else None,
        "created_at": now,
        "updated_at": now,
    }


@dataclass(slots=True)
class Claimed:
    """A leased delivery, with what the worker needs to send it."""

    id: int
    public_id: str
    project_id: int
    channel_id: int | None
    channel_type: str
    kind: str
    recipient: str | None
    content: dict[str, Any]
    attempts: int
    max_attempts: int
    suppressed: bool = False
    fallback: list[dict[str, Any]] | None = None
    hops: list[dict[str, Any]] | None = None


def _due(now: datetime, worker: str, dead_after: timedelta) -> Any:
    # Dead is a heartbeat row gone stale. An owner with no row at all never registered
    # (a burst-mode worker in a test or tool) and keeps the lease-only rule; an orderly
    # shutdown hands its rows back before it deletes its row (liveness.deregister).
    owner_dead = exists().where(
        WorkerBeat.owner == Delivery.lease_owner, WorkerBeat.beat_at < now - dead_after
    )
    return or_(
        and_(Delivery.status.in_(_DUE), Delivery.next_attempt_at <= now),
        and_(
            Delivery.status == DeliveryStatus.SENDING.value,
            or_(
                Delivery.lease_until < now,
                # A worker never counts itself dead: a stall of its own process must not
                # make it claim, and send again, what it still holds in memory.
                and_(Delivery.lease_owner != worker, owner_dead),
            ),
        ),
    )


async def any_due(
    session: AsyncSession, *, now: datetime, worker: str, dead_after: timedelta
) -> bool:
    """Whether anything is due for ``worker``, by a read that takes no write lock.

    Due means: QUEUED or FAILED and its time has come, or SENDING with its lease run out,
    or SENDING leased to another owner whose heartbeat is older than ``dead_after``.
    """
    pick = select(Delivery.id).where(_due(now, worker, dead_after)).limit(1)
    found = await session.scalar(pick)
    await session.rollback()
    return found is not None


async def claim(
    session: AsyncSession,
    *,
    worker: str,
    now: datetime,
    lease: timedelta,
    limit: int,
    dead_after: timedelta,
) -> list[Claimed]:
    """Lease up to ``limit`` due deliveries (see :func:`any_due`) to ``worker`` and commit.

    Rows of expired leases and of dead owners are taken over: their previous owner's
    outcome, should it still come, is dropped by :func:`settle`.
    """
    pick = (
        select(Delivery.id)
        .where(_due(now, worker, dead_after))
        .order_by(Delivery.next_attempt_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    statement = (
        update(Delivery)
        .where(Delivery.id.in_(pick.scalar_subquery()))
        .values(
            status=DeliveryStatus.SENDING.value,
            lease_owner=worker,
            lease_until=now + lease,
            updated_at=now,
        )
        .returning(
            Delivery.id,
            Delivery.public_id,
            Delivery.project_id,
            Delivery.channel_id,
            Delivery.channel_type,
            Delivery.kind,
            Delivery.recipient,
            Delivery.content,
            Delivery.attempts,
            Delivery.max_attempts,
            Delivery.fallback,
            Delivery.hops,
        )
        .execution_options(synchronize_session=False)
    )
    rows = (await session.execute(statement)).all()
    await session.commit()
    return [
        Claimed(
            id=row.id,
            public_id=row.public_id,
            project_id=row.project_id,
            channel_id=row.channel_id,
            channel_type=row.channel_type,
            kind=row.kind,
            recipient=row.recipient,
            content=row.content,
            attempts=row.attempts,
            max_attempts=row.max_attempts,
            fallback=row.fallback,
            hops=row.hops,
        )
        for row in rows
    ]


@dataclass(frozen=True)
class Hop:
    """A delivery moving on to the next channel of its fallback chain."""

    to: dict[str, Any]
    rest: list[dict[str, Any]]
    history: list[dict[str, Any]]
    max_attempts: int


@dataclass(frozen=True)
class Outcome:
    """How one attempt (or a decision not to attempt) ended; with ``hop``, the delivery
    is queued again over the next channel of its chain."""

    delivery_id: int
    status: DeliveryStatus
    next_attempt_at: datetime
    attempted: bool
    started_at: datetime
    duration_ms: float
    status_code: int | None
    failure_class: str | None
    reason: str
    provider_id: str | None
    attempt_number: int
    channel_id: int | None = None
    hop: Hop | None = None
    # An in-app delivery's inbox item, stored with the outcome (``delivery/inbox.py``).
    inbox: InboxDraft | None = None


async def settle(
    session: AsyncSession, outcomes: list[Outcome], *, worker: str, now: datetime
) -> set[int]:
    """Record outcomes and attempts in one transaction; returns the ids still ours.

    An outcome for a row whose lease another worker has since taken is dropped, attempt
    record included: that worker owns the row now.
    """
    if not outcomes:
        return set()
    owned = set(
        (
            await session.scalars(
                select(Delivery.id).where(
                    Delivery.id.in_([o.delivery_id for o in outcomes]),
                    Delivery.lease_owner == worker,
                    Delivery.status == DeliveryStatus.SENDING.value,
                )
            )
        ).all()
    )
    mine = [o for o in outcomes if o.delivery_id in owned]
    if not mine:
        return owned
    table = cast(Table, Delivery.__table__)
    hopping = [o for o in mine if o.hop is not None]
    if hopping:
        await _hop(session, table, hopping, worker=worker, now=now)
    staying = [o for o in mine if o.hop is None]
    if staying:
        await _record(session, table, staying, worker=worker, now=now)
    attempts = [
        {
            "delivery_id": o.delivery_id,
            "number": o.attempt_number,
            "started_at": o.started_at,
            "duration_ms": o.duration_ms,
            "outcome": "sent" if o.status is DeliveryStatus.SENT else "failed",
            "status_code": o.status_code,
            "failure_class": o.failure_class,
            "reason": o.reason,
            "worker": worker,
            "channel_id": o.channel_id,
        }
        for o in mine
        if o.attempted
    ]
    if attempts:
        # Core insert: the ORM's bulk path costs several times more per row here.
        await session.execute(insert(cast(Table, DeliveryAttempt.__table__)), attempts)
    return owned


async def _record(
    session: AsyncSession, table: Table, mine: list[Outcome], *, worker: str, now: datetime
) -> None:
    await session.execute(
        update(table)
        .where(table.c.id == bindparam("b_id"), table.c.lease_owner == worker)
        .values(
            status=bindparam("b_status"),
            attempts=table.c.attempts + bindparam("b_inc"),
            next_attempt_at=bindparam("b_next"),
            lease_owner=None,
            lease_until=None,
            last_failure_class=bindparam("b_class"),
            last_error=bindparam("b_error"),
            last_status_code=bindparam("b_code"),
            provider_id=bindparam("b_provider"),
            sent_at=bindparam("b_sent"),
            updated_at=now,
        ),
        [
            {
                "b_id": o.delivery_id,
                "b_status": o.status.value,
                "b_inc": 1 if o.attempted else 0,
                "b_next": o.next_attempt_at,
                "b_class": o.failure_class,
                "b_error": o.reason if o.failure_class else None,
                "b_code": o.status_code,
                "b_provider": o.provider_id,
                "b_sent": now if o.status is DeliveryStatus.SENT else None,
            }
            for o in mine
        ],
    )


async def _hop(
    session: AsyncSession, table: Table, mine: list[Outcome], *, worker: str, now: datetime
) -> None:
    """Queue deliveries again, at once, over the next channel of their chains; the hop
    left behind goes into ``hops`` with its reason."""
    await session.execute(
        update(table)
        .where(table.c.id == bindparam("b_id"), table.c.lease_owner == worker)
        .values(
            status=DeliveryStatus.QUEUED.value,
            channel_id=bindparam("b_channel"),
            channel_type=bindparam("b_type"),
            recipient=bindparam("b_recipient"),
            fallback=bindparam("b_rest"),
            hops=bindparam("b_hops"),
            attempts=table.c.attempts + bindparam("b_inc"),
            max_attempts=bindparam("b_max"),
            next_attempt_at=now,
            lease_owner=None,
            lease_until=None,
            last_failure_class=bindparam("b_class"),
            last_error=bindparam("b_error"),
            last_status_code=bindparam("b_code"),
            updated_at=now,
        ),
        [
            {
                "b_id": o.delivery_id,
                "b_channel": o.hop.to["channelId"],
                "b_type": o.hop.to["channelType"],
                "b_recipient": o.hop.to.get("recipient"),
                "b_rest": o.hop.rest or None,
                "b_hops": o.hop.history,
                "b_inc": 1 if o.attempted else 0,
                "b_max": o.hop.max_attempts,
                "b_class": o.failure_class,
                "b_error": o.reason,
                "b_code": o.status_code,
            }
            for o in mine
            if o.hop is not None
        ],
    )


async def release(session: AsyncSession, ids: list[int], *, worker: str, at: datetime) -> None:
    """Give leased deliveries back unattempted, due again at ``at`` (shutdown, rate limit)."""
    if not ids:
        return
    await session.execute(
        update(Delivery)
        .where(
            Delivery.id.in_(ids),
            Delivery.lease_owner == worker,
            Delivery.status == DeliveryStatus.SENDING.value,
        )
        .values(
            status=DeliveryStatus.QUEUED.value,
            lease_owner=None,
            lease_until=None,
            next_attempt_at=at,
        )
        .execution_options(synchronize_session=False)
    )
