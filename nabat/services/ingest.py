"""Events in: check, deduplicate, route, and store each event with its deliveries.

Everything an accepted event becomes (the event row, its deliveries — suppressed ones
included — its keys and throttle marks) is written in the caller's one transaction, so
an answer given means all of it is durable, and nothing of a refused batch is kept.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from nabat.delivery.content import seed_payload
from nabat.delivery.queue import Claimed, Lease, NewDelivery, enqueue
from nabat.errors import ErrorCode, NotFound
from nabat.models.channel import Channel
from nabat.models.delivery import Delivery
from nabat.models.event import Event, EventKey
from nabat.models.routing import ThrottleMark
from nabat.routing.matchers import event_values
from nabat.routing.plan import ChannelRef, Route, group_key, routes_for, silenced_by
from nabat.routing.recipients import Target, expand
from nabat.routing.rules import CompiledRule
from nabat.routing.snapshot import channel_kind, event_snapshot, iso
from nabat.services.contacts import Person, find_people
from nabat.services.event_input import EventInput, checked
from nabat.services.notification_types import TypeState, type_states
from nabat.services.project_settings import message_settings
from nabat.services.rules import active_rules
from nabat.services.silences import ActiveSilence, active_silences


@dataclass(frozen=True)
class Limits:
    """Engine settings ingest needs."""

    max_attempts: int
    dedup_window_seconds: int


@dataclass
class Accepted:
    """What became of one event: the answer a producer gets (and a repeat gets again)."""

    event_id: int
    duplicate: bool
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The camelCase answer for this event."""
        return {
            "eventId": self.event_id,
            "status": "DUPLICATE" if self.duplicate else "ACCEPTED",
            "deliveries": self.deliveries,
            "notes": self.notes,
        }


@dataclass
class IngestResult:
    """Every event's outcome in order, and the deliveries to hand to a worker."""

    accepted: list[Accepted]
    queued: list[Claimed]


@dataclass
class _Context:
    """What routing one project's events needs, loaded once per request."""

    types: dict[str, TypeState]
    channels: dict[int, ChannelRef]
    rules: list[CompiledRule]
    silences: list[ActiveSilence]
    language: str
    allow_unregistered: bool


async def _context(session: AsyncSession, project_id: int, now: datetime) -> _Context:
    settings = (await message_settings(session, [project_id]))[project_id]
    rows = await session.execute(
        select(Channel.id, Channel.name, Channel.type, Channel.enabled, Channel.is_default).where(
            Channel.project_id == project_id
        )
    )
    return _Context(
        types=await type_states(session, project_id, settings.language),
        channels={row[0]: ChannelRef(*row) for row in rows},
        rules=await active_rules(session, project_id),
        silences=await active_silences(session, project_id, now),
        language=settings.language,
        allow_unregistered=settings.allow_unregistered_recipients,
    )


def dedup_digest(item: EventInput) -> str:
    """The dedup key of an event: its ``dedupKey`` within its type and severity.

    A changed type (raised → cleared) or severity (warning → critical) is news, not a repeat.
    """
    assert item.dedup_key is not None
    raw = "\x00".join((item.dedup_key, item.type, item.severity))
    return "dedup:" + hashlib.sha256(raw.encode()).hexdigest()


def _forced(item: EventInput, context: _Context, where: str) -> list[ChannelRef] | None:
    if item.channel_ids is None:
        return None
    forced = []
    for channel_id in item.channel_ids:
        channel = context.channels.get(channel_id)
        if channel is None:
            raise NotFound(
                f"{where}channelIds: channel {channel_id} not found in this project",
                code=ErrorCode.CHANNEL_NOT_FOUND,
            )
        forced.append(channel)
    return forced


@dataclass
class _Planned:
    item: EventInput
    snapshot: dict[str, Any]
    values: dict[str, str | None]
    routes: list[Route]
    notes: list[dict[str, Any]]
    digest: str | None


@dataclass(frozen=True)
class _Target:
    route: Route
    target: Target
    suppression: tuple[str, str, int | None] | None


class Ingest:
    """Routes and stores a batch of one project's events (one per request)."""

    def __init__(
        self, session: AsyncSession, *, project_id: int, now: datetime, limits: Limits
    ) -> None:
        self._session = session
        self._project_id = project_id
        self._now = now
        self._limits = limits

    async def run(self, items: Sequence[EventInput], *, lease: Lease | None = None) -> IngestResult:
        """Check every item (nothing is written unless all pass), route, and store.

        The caller commits. Raises ValidationFailed / NotFound naming the bad item.
        """
        context = await _context(self._session, self._project_id, self._now)
        many = len(items) > 1
        planned: list[_Planned] = []
        for index, raw in enumerate(items):
            where = f"events[{index}]." if many else ""
            item = checked(raw, where, context.types)
            planned.append(self._plan(item, context, _forced(item, context, where)))
        firsts = await self._firsts(planned)
        marks = await self._marks(planned)
        refs = {ref for plan in planned for route in plan.routes for ref in route.recipients}
        people = await find_people(self._session, self._project_id, refs) if refs else {}
        accepted: list[Accepted] = []
        deliveries: list[tuple[int, NewDelivery]] = []
        fresh_events: list[tuple[int, _Planned]] = []
        targets: dict[int, list[_Target]] = {}
        for position, plan in enumerate(planned):
            if plan.digest is not None and plan.digest in firsts:
                accepted.append(await self._repeat(firsts[plan.digest]))
                continue
            if plan.digest is not None:
                firsts[plan.digest] = -1 - position  # later repeats in this batch
            fresh_events.append((position, plan))
            targets[position] = self._targets(plan, context, people, marks)
            accepted.append(Accepted(event_id=0, duplicate=False, notes=plan.notes))
        event_ids = await self._insert_events([plan for _, plan in fresh_events])
        for (position, plan), event_id in zip(fresh_events, event_ids, strict=True):
            accepted[position].event_id = event_id
            deliveries.extend(
                (position, self._delivery(plan, event_id, target, context))
                for target in targets[position]
            )
        self._resolve_batch_repeats(accepted)
        await self._store_keys(planned, accepted, firsts)
        await self._store_marks(marks)
        rows = await enqueue(
            self._session,
            [delivery for _, delivery in deliveries],
            now=self._now,
            max_attempts=self._limits.max_attempts,
            lease=lease,
        )
        for (position, _), row in zip(deliveries, rows, strict=True):
            accepted[position].deliveries.append(_delivery_json(row))
        return IngestResult(accepted, [row for row in rows if not row.suppressed])

    def _plan(
        self, item: EventInput, context: _Context, forced: list[ChannelRef] | None
    ) -> _Planned:
        type_state = context.types[item.type]
        snapshot = event_snapshot(
            public_id="evt_" + uuid.uuid4().hex,
            type_key=item.type,
            type_title=type_state.title,
            severity=item.severity,
            message=item.message,
            source=dict(item.source),
            subject=dict(item.subject),
            labels=dict(item.labels),
            data=dict(item.data),
            occurred_at=item.occurred_at or self._now,
            received_at=self._now,
        )
        values = event_values(snapshot)
        routes, notes = routes_for(
            type_key=item.type,
            severity=item.severity,
            values=values,
            rules=context.rules,
            channels=context.channels,
            forced=forced,
            recipients=item.recipients,
        )
        digest = dedup_digest(item) if item.dedup_key else None
        return _Planned(item, snapshot, values, routes, notes, digest)

    def _window(self, plan: _Planned) -> timedelta:
        for route in plan.routes:
            if route.rule is not None and route.rule.throttle is not None:
                return timedelta(seconds=route.rule.throttle.repeat_interval)
        return timedelta(seconds=self._limits.dedup_window_seconds)

    async def _firsts(self, planned: list[_Planned]) -> dict[str, int]:
        """Dedup keys still held, mapped to the first event's id."""
        digests = {plan.digest for plan in planned if plan.digest is not None}
        if not digests:
            return {}
        rows = await self._session.execute(
            select(EventKey.key, EventKey.event_id).where(
                EventKey.project_id == self._project_id,
                EventKey.key.in_(digests),
                EventKey.expires_at > self._now,
            )
        )
        return {key: event_id for key, event_id in rows if event_id is not None}

    async def _repeat(self, event_id: int) -> Accepted:
        """Count a repeat on the first event and answer as it was answered."""
        if event_id < 0:  # the first is earlier in this batch; resolved after insertion
            return Accepted(event_id=event_id, duplicate=True)
        await self._session.execute(
            update(Event)
            .where(Event.id == event_id)
            .values(repeats=Event.repeats + 1, last_repeat_at=self._now)
        )
        return await answer_for(self._session, event_id, duplicate=True)

    def _resolve_batch_repeats(self, accepted: list[Accepted]) -> None:
        for outcome in accepted:
            if outcome.duplicate and outcome.event_id < 0:
                first = accepted[-1 - outcome.event_id]
                outcome.event_id = first.event_id
                outcome.deliveries = first.deliveries
                outcome.notes = first.notes

    async def _marks(self, planned: list[_Planned]) -> dict[tuple[int, str], list[Any]]:
        """Throttle marks of the groups these events fall in: key -> [last_sent_at, held]."""
        wanted = {
            (route.rule.id, group_key(route.rule, plan.values))
            for plan in planned
            for route in plan.routes
            if route.rule is not None and route.rule.throttle is not None
        }
        if not wanted:
            return {}
        rows = await self._session.execute(
            select(ThrottleMark.rule_id, ThrottleMark.group_key, ThrottleMark.last_sent_at).where(
                ThrottleMark.rule_id.in_({rule_id for rule_id, _ in wanted}),
                ThrottleMark.group_key.in_({key for _, key in wanted}),
            )
        )
        marks: dict[tuple[int, str], list[Any]] = {
            (rule_id, key): [sent, 0, "old"] for rule_id, key, sent in rows
        }
        return marks

    async def _insert_events(self, planned: list[_Planned]) -> list[int]:
        if not planned:
            return []
        table = cast(Table, Event.__table__)
        result = await self._session.execute(
            insert(table).returning(table.c.id, sort_by_parameter_order=True),
            [
                {
                    "public_id": plan.snapshot["id"],
                    "project_id": self._project_id,
                    "origin": plan.item.origin,
                    "type": plan.item.type,
                    "severity": plan.item.severity,
                    "message": plan.item.message,
                    "source": plan.snapshot["source"],
                    "subject": plan.snapshot["subject"],
                    "labels": plan.snapshot["labels"],
                    "data": plan.snapshot["data"],
                    "recipients": list(plan.item.recipients) if plan.item.recipients else None,
                    "channel_ids": list(plan.item.channel_ids) if plan.item.channel_ids else None,
                    "dedup_key": plan.item.dedup_key,
                    "repeats": 0,
                    "notes": plan.notes,
                    "occurred_at": plan.item.occurred_at or self._now,
                    "received_at": self._now,
                }
                for plan in planned
            ],
        )
        return [row[0] for row in result]

    def _targets(
        self,
        plan: _Planned,
        context: _Context,
        people: dict[str, Person],
        marks: dict[tuple[int, str], list[Any]],
    ) -> list[_Target]:
        """Every delivery an event makes, with its suppression; notes go on ``plan``."""
        made: list[_Target] = []
        type_state = context.types[plan.item.type]
        for route in plan.routes:
            expansion = expand(
                refs=route.recipients,
                channel_type=route.channel.type,
                people=people,
                allow_unregistered=context.allow_unregistered,
                lenient=plan.item.lenient,
            )
            plan.notes.extend(expansion.notes)
            throttled = self._throttled(route, plan, marks)
            seen: set[str | None] = set()
            for target in expansion.targets:
                if target.address in seen:
                    continue
                seen.add(target.address)
                suppression = self._suppression(route, plan, context, type_state, throttled)
                made.append(_Target(route, target, suppression))
        return made

    def _throttled(
        self, route: Route, plan: _Planned, marks: dict[tuple[int, str], list[Any]]
    ) -> str | None:
        rule = route.rule
        if rule is None or rule.throttle is None:
            return None
        key = (rule.id, group_key(rule, plan.values))
        mark = marks.get(key)
        interval = timedelta(seconds=rule.throttle.repeat_interval)
        if mark is not None and mark[0] + interval > self._now and mark[2] != plan.snapshot["id"]:
            mark[1] += 1
            return (
                f"held back by rule {rule.id} ({rule.name}): this group last went out at "
                f"{iso(mark[0])}; the next may go at {iso(mark[0] + interval)}"
            )
        # This event opens the window; its other routes under the same rule go too.
        marks[key] = [self._now, 0, plan.snapshot["id"]]
        return None

    def _suppression(
        self,
        route: Route,
        plan: _Planned,
        context: _Context,
        type_state: TypeState,
        throttled: str | None,
    ) -> tuple[str, str, int | None] | None:
        if not type_state.enabled:
            return (
                "TYPE_DISABLED",
                f"the notification type {type_state.key!r} is switched off in this project",
                None,
            )
        values = {**plan.values, "channelId": str(route.channel.id)}
        values["channelType"] = route.channel.type
        silence = silenced_by(context.silences, values)
        if silence is not None:
            return ("SILENCED", f"silenced by silence {silence.id}", silence.id)
        if throttled is not None:
            return ("THROTTLED", throttled, None)
        return None

    def _delivery(
        self, plan: _Planned, event_id: int, planned: _Target, context: _Context
    ) -> NewDelivery:
        route, target, suppression = planned.route, planned.target, planned.suppression
        snapshot = plan.snapshot
        source, subject = snapshot["source"], snapshot["subject"]
        payload = dict(plan.item.payload) if plan.item.payload is not None else None
        if payload is None:
            payload = seed_payload(
                username=target.name,
                service_name=source["name"],
                service_url=source["url"],
                status=subject["status"] or snapshot["type"],
                severity=snapshot["severity"],
                message=snapshot["message"],
                timestamp=plan.item.occurred_at or self._now,
                metadata=snapshot["labels"],
            )
        content = {
            "event": {**snapshot, "eventId": event_id},
            "payload": payload,
            "render": {
                "kind": channel_kind(route.channel.type),
                "templateId": route.template_id,
                "recipientName": target.name,
                "language": context.language,
            },
            "severity": snapshot["severity"],
        }
        return NewDelivery(
            project_id=self._project_id,
            channel_id=route.channel.id,
            channel_type=route.channel.type,
            content=content,
            recipient=target.address,
            event_id=event_id,
            rule_id=route.rule.id if route.rule else None,
            suppressed_by=suppression[0] if suppression else None,
            reason=suppression[1] if suppression else None,
            silence_id=suppression[2] if suppression else None,
        )

    async def _store_keys(
        self, planned: list[_Planned], accepted: list[Accepted], firsts: dict[str, int]
    ) -> None:
        held = set(firsts) - {key for key, first in firsts.items() if first < 0}
        fresh: dict[str, tuple[int, datetime]] = {}
        for plan, outcome in zip(planned, accepted, strict=True):
            if plan.digest is None or outcome.duplicate or plan.digest in held:
                continue
            fresh[plan.digest] = (outcome.event_id, self._now + self._window(plan))
        if not fresh:
            return
        # An expired key of the same digest is replaced: the window starts again.
        await self._session.execute(
            delete(EventKey).where(EventKey.project_id == self._project_id, EventKey.key.in_(fresh))
        )
        await self._session.execute(
            insert(EventKey),
            [
                {
                    "project_id": self._project_id,
                    "key": key,
                    "event_id": event_id,
                    "hits": 0,
                    "expires_at": expires,
                }
                for key, (event_id, expires) in fresh.items()
            ],
        )

    async def _store_marks(self, marks: dict[tuple[int, str], list[Any]]) -> None:
        for (rule_id, key), (sent, held, opened_by) in marks.items():
            if opened_by == "old":
                if held:
                    await self._session.execute(
                        update(ThrottleMark)
                        .where(ThrottleMark.rule_id == rule_id, ThrottleMark.group_key == key)
                        .values(held_back=ThrottleMark.held_back + held)
                    )
                continue
            updated = await self._session.execute(
                update(ThrottleMark)
                .where(ThrottleMark.rule_id == rule_id, ThrottleMark.group_key == key)
                .values(last_sent_at=sent, held_back=held)
            )
            if not getattr(updated, "rowcount", 0):
                await self._session.execute(
                    insert(ThrottleMark).values(
                        project_id=self._project_id,
                        rule_id=rule_id,
                        group_key=key,
                        last_sent_at=sent,
                        held_back=held,
                    )
                )


def _delivery_json(row: Claimed) -> dict[str, Any]:
    return {
        "id": row.id,
        "idempotencyId": row.public_id,
        "channelId": row.channel_id,
        "channelType": row.channel_type,
        "recipient": row.recipient,
        "status": "SUPPRESSED" if row.suppressed else "QUEUED",
    }


async def answer_for(session: AsyncSession, event_id: int, *, duplicate: bool) -> Accepted:
    """The answer for a stored event, as its producer was first given it."""
    event = await session.get(Event, event_id)
    rows = await session.execute(
        select(
            Delivery.id,
            Delivery.public_id,
            Delivery.channel_id,
            Delivery.channel_type,
            Delivery.recipient,
            Delivery.suppressed_by,
        )
        .where(Delivery.event_id == event_id)
        .order_by(Delivery.id)
    )
    deliveries = [
        {
            "id": row[0],
            "idempotencyId": row[1],
            "channelId": row[2],
            "channelType": row[3],
            "recipient": row[4],
            "status": "SUPPRESSED" if row[5] else "QUEUED",
        }
        for row in rows
    ]
    notes = list(event.notes) if event is not None else []
    return Accepted(event_id=event_id, duplicate=duplicate, deliveries=deliveries, notes=notes)
