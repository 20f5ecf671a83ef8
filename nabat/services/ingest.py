"""Events in: check, deduplicate, route, and store each event with its deliveries.

Everything an accepted event becomes (the event row, its deliveries — suppressed ones
included — its keys and throttle marks) is written in the caller's one transaction, so
an answer given means all of it is durable, and nothing of a refused batch is kept. The
same routing serves batched events stored earlier (:mod:`nabat.services.intake`) when the
router takes them (:meth:`Ingest.route_stored`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from nabat.delivery.content import DeliveryContent
from nabat.delivery.queue import Claimed, Lease, NewDelivery, enqueue
from nabat.errors import ChannelDisabled, ErrorCode, NabatError, NotFound
from nabat.ids import ordered_id
from nabat.routing.matchers import event_values
from nabat.routing.personal import (
    GOES,
    Personal,
    Verdict,
    held_note,
    left_out_note,
    preference_kind,
)
from nabat.routing.plan import ChannelRef, Route, group_key, routes_for, silenced_by
from nabat.routing.recipients import Target, expand
from nabat.routing.snapshot import event_snapshot, iso
from nabat.services.contacts import Person, find_people
from nabat.services.event_input import EventInput, checked, dedup_digest, forced_channels
from nabat.services.ingest_store import (
    Accepted,
    Mark,
    count_repeat,
    delivery_json,
    event_row,
    held_keys,
    insert_events,
    load_marks,
    mark_routed,
    store_keys,
    store_marks,
)
from nabat.services.notification_types import TypeState
from nabat.services.preference_store import personal_for
from nabat.services.routing_context import Context, load_context


@dataclass(frozen=True)
class Limits:
    """Engine settings ingest needs."""

    max_attempts: int
    dedup_window_seconds: int


@dataclass
class IngestResult:
    """Every event's outcome in order, and the deliveries to hand to a worker."""

    accepted: list[Accepted]
    queued: list[Claimed]


def _unroutable(notes: list[dict[str, Any]], where: str) -> NabatError:
    """Seed 002's answer when nothing can take a notification: 409 or 404."""
    for note in notes:
        if note["code"] == "NO_ROUTE" and "disabled" in note["message"]:
            return ChannelDisabled(f"{where}{note['message']}")
    return NotFound(
        f"{where}no channel given and no rule or default channel takes this notification; "
        "pass channelId or channelType, add a rule, or set a default channel",
        code=ErrorCode.CHANNEL_NOT_FOUND,
    )


@dataclass(slots=True)
class StoredEvent:
    """A batched event as it was stored unrouted: its row, and its input read back."""

    id: int
    public_id: str
    received_at: datetime
    item: EventInput


@dataclass
class Planned:
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
    fallback: list[dict[str, Any]]
    not_before: datetime | None = None


class Ingest:
    """Routes and stores a batch of one project's events (one per request)."""

    def __init__(
        self, session: AsyncSession, *, project_id: int, now: datetime, limits: Limits
    ) -> None:
        self._session = session
        self._project_id = project_id
        self._now = now
        self._limits = limits

    async def load(self) -> None:
        """Read what routing needs (cached per project); call once before ``prepare``."""
        self._context = await load_context(self._session, self._project_id, self._now)

    def prepare(self, items: Sequence[EventInput], *, prefix: str = "events") -> list[Planned]:
        """Check and route ``items``; raises ValidationFailed / NotFound naming the bad one.

        Nothing is written: a caller can prepare several requests' items, drop the ones
        that fail, and store the rest in one transaction.
        """
        many = len(items) > 1
        planned: list[Planned] = []
        for index, raw in enumerate(items):
            where = f"{prefix}[{index}]." if many else ""
            item = checked(raw, where, self._context.types)
            plan = self._plan(
                item, self._context, forced_channels(item, self._context.channels, where)
            )
            if item.require_route and not plan.routes:
                raise _unroutable(plan.notes, where)
            planned.append(plan)
        return planned

    async def route_stored(
        self, events: Sequence[StoredEvent], *, lease: Lease | None = None
    ) -> IngestResult:
        """Route events stored unrouted, write what they become, and mark them routed.

        An event that can no longer be routed as it was accepted (its type or a channel it
        named was deleted meanwhile) is marked routed with a note saying why, never lost.
        The caller commits.
        """
        planned: list[Planned] = []
        for stored in events:
            try:
                item = checked(stored.item, "", self._context.types)
                forced = forced_channels(item, self._context.channels, "")
            except NabatError as exc:
                planned.append(self._unroutable(stored, exc.message))
                continue
            planned.append(self._plan(item, self._context, forced, stored))
        return await self.store(planned, lease=lease, stored=[event.id for event in events])

    async def run(self, items: Sequence[EventInput], *, lease: Lease | None = None) -> IngestResult:
        """Check every item (nothing is written unless all pass), route, and store.

        The caller commits. Raises ValidationFailed / NotFound naming the bad item.
        """
        await self.load()
        return await self.store(self.prepare(items), lease=lease)

    async def store(
        self,
        planned: list[Planned],
        *,
        lease: Lease | None = None,
        stored: list[int] | None = None,
    ) -> IngestResult:
        """Write prepared events, their deliveries, keys and marks in the caller's
        transaction (the caller commits); outcomes come back in order.

        ``stored``: the events' rows exist already (ids in order); they are updated to
        routed, a repeat marked as the duplicate of its first, instead of inserted.
        """
        context = self._context
        digests = {plan.digest for plan in planned if plan.digest is not None}
        firsts = await held_keys(self._session, self._project_id, digests, self._now)
        marks = await load_marks(
            self._session,
            {
                (route.rule.id, group_key(route.rule, plan.values))
                for plan in planned
                for route in plan.routes
                if route.rule is not None and route.rule.throttle is not None
            },
        )
        # Only names a member goes by are looked up; anyone else is nobody in this project.
        refs = {
            ref
            for plan in planned
            for route in plan.routes
            for ref in route.recipients
            if ref.strip().lower() in context.member_refs
        }
        people = await find_people(self._session, self._project_id, refs) if refs else {}
        # People's own settings are read only for those a route of this batch reaches
        # on a personal channel (and only if anyone in the project has some).
        reached = any(
            preference_kind(route.channel.type) for plan in planned for route in plan.routes
        )
        personal = await personal_for(
            self._session,
            self._project_id,
            {person.id for person in people.values()} if reached else (),
            context.preferences,
        )
        accepted: list[Accepted] = []
        deliveries: list[tuple[int, NewDelivery]] = []
        fresh_events: list[tuple[int, Planned]] = []
        targets: dict[int, list[_Target]] = {}
        for position, plan in enumerate(planned):
            if plan.digest is not None and plan.digest in firsts:
                accepted.append(await self._repeat(firsts[plan.digest], answer=stored is None))
                continue
            if plan.digest is not None:
                firsts[plan.digest] = -1 - position  # later repeats in this batch
            fresh_events.append((position, plan))
            targets[position] = self._targets(plan, context, people, marks, personal)
            accepted.append(Accepted(event_id=0, duplicate=False, notes=plan.notes))
        if stored is None:
            event_ids = await insert_events(
                self._session,
                [
                    event_row(
                        plan.item,
                        plan.snapshot["id"],
                        plan.notes,
                        project_id=self._project_id,
                        now=self._now,
                        routed=True,
                    )
                    for _, plan in fresh_events
                ],
            )
        else:
            event_ids = [stored[position] for position, _ in fresh_events]
        for (position, plan), event_id in zip(fresh_events, event_ids, strict=True):
            accepted[position].event_id = event_id
            deliveries.extend(
                (position, self._delivery(plan, event_id, target)) for target in targets[position]
            )
        await self._resolve_batch_repeats(accepted)
        await self._store_keys(planned, accepted, firsts)
        await store_marks(self._session, self._project_id, marks)
        rows = await enqueue(
            self._session,
            [delivery for _, delivery in deliveries],
            now=self._now,
            max_attempts=self._limits.max_attempts,
            lease=lease,
        )
        for (position, _), row in zip(deliveries, rows, strict=True):
            accepted[position].deliveries.append(delivery_json(row))
        if stored is not None:
            notes = [plan.notes for plan in planned]
            await mark_routed(self._session, stored, notes, accepted, self._now)
        # Deliveries held for quiet hours are due later: no worker takes them now.
        due = [
            row
            for (_, delivery), row in zip(deliveries, rows, strict=True)
            if not row.suppressed and delivery.not_before is None
        ]
        return IngestResult(accepted, due)

    def _plan(
        self,
        item: EventInput,
        context: Context,
        forced: list[ChannelRef] | None,
        stored: StoredEvent | None = None,
    ) -> Planned:
        snapshot = self._snapshot(
            item,
            stored.public_id if stored else ordered_id("evt_"),
            context.types[item.type].title,
            stored.received_at if stored else self._now,
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
        return Planned(item, snapshot, values, routes, notes, digest)

    def _window(self, plan: Planned) -> timedelta:
        for route in plan.routes:
            if route.rule is not None and route.rule.throttle is not None:
                return timedelta(seconds=route.rule.throttle.repeat_interval)
        return timedelta(seconds=self._limits.dedup_window_seconds)

    def _snapshot(
        self, item: EventInput, public_id: str, type_title: str, received_at: datetime
    ) -> dict[str, Any]:
        return event_snapshot(
            public_id=public_id,
            type_key=item.type,
            type_title=type_title,
            severity=item.severity,
            message=item.message,
            source=dict(item.source),
            subject=dict(item.subject),
            labels=dict(item.labels),
            data=dict(item.data),
            occurred_at=item.occurred_at or received_at,
            received_at=received_at,
        )

    def _unroutable(self, stored: StoredEvent, why: str) -> Planned:
        item = stored.item
        snapshot = self._snapshot(item, stored.public_id, item.type, stored.received_at)
        note = {"code": "NO_ROUTE", "message": f"not routed: {why}"}
        return Planned(item, snapshot, event_values(snapshot), [], [note], None)

    async def _repeat(self, event_id: int, *, answer: bool) -> Accepted:
        """Count a repeat on the first event and, for a producer waiting on it, answer
        as the first was answered."""
        if event_id < 0:  # the first is earlier in this batch; resolved after insertion
            return Accepted(event_id=event_id, duplicate=True)
        return await count_repeat(self._session, event_id, self._now, answer=answer)

    async def _resolve_batch_repeats(self, accepted: list[Accepted]) -> None:
        """Point repeats of an event earlier in the batch at it, and count them on it."""
        repeats: Counter[int] = Counter()
        for outcome in accepted:
            if outcome.duplicate and outcome.event_id < 0:
                first = accepted[-1 - outcome.event_id]
                outcome.event_id = first.event_id
                outcome.deliveries = first.deliveries
                outcome.notes = first.notes
                repeats[first.event_id] += 1
        for event_id, count in repeats.items():
            await count_repeat(self._session, event_id, self._now, answer=False, count=count)

    def _targets(
        self,
        plan: Planned,
        context: Context,
        people: dict[str, Person],
        marks: dict[tuple[int, str], Mark],
        personal: Personal,
    ) -> list[_Target]:
        """Every delivery an event makes, with its suppression or the end of the quiet
        hours it waits for; notes go on ``plan``."""
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
                person = people.get(target.ref) if target.ref is not None else None
                verdict = self._verdict(route.channel.type, plan, type_state, person, personal)
                suppression = self._suppression(
                    route, plan, context, type_state, throttled, verdict
                )
                fallback = self._fallback(route, target, plan, context, people, personal)
                until = verdict.until if suppression is None else None
                if until is not None and person is not None:
                    plan.notes.append(held_note(route.channel.id, target.ref, person, until))
                made.append(_Target(route, target, suppression, fallback, until))
        return made

    def _verdict(
        self,
        channel_type: str,
        plan: Planned,
        type_state: TypeState,
        person: Person | None,
        personal: Personal,
    ) -> Verdict:
        """What the person's own settings make of a delivery to them (nothing for an
        address that is nobody's, or a channel's own destination)."""
        if person is None:
            return GOES
        return personal.verdict(
            user_id=person.id,
            name=person.username,
            channel_type=channel_type,
            type_key=type_state.key,
            mandatory=type_state.mandatory,
            severity=plan.item.severity,
            now=self._now,
        )

    def _fallback(
        self,
        route: Route,
        target: Target,
        plan: Planned,
        context: Context,
        people: dict[str, Person],
        personal: Personal,
    ) -> list[dict[str, Any]]:
        """The hops of a delivery's fallback chain: each next channel with the same
        recipient's address there (a person's contact point of that kind), or the
        channel's own destination when the delivery had none; a channel where the person
        has no address, or whose kind they switched off for this type, is left out of
        this delivery's chain, with a note."""
        hops: list[dict[str, Any]] = []
        for channel in route.fallback:
            address: str | None = None
            if target.ref is not None:
                expansion = expand(
                    refs=(target.ref,),
                    channel_type=channel.type,
                    people=people,
                    allow_unregistered=context.allow_unregistered,
                )
                plan.notes.extend(expansion.notes)
                if not expansion.targets:
                    continue
                address = expansion.targets[0].address
                type_state = context.types[plan.item.type]
                person = people.get(target.ref)
                off = self._verdict(channel.type, plan, type_state, person, personal).off
                if off is not None:
                    plan.notes.append(left_out_note(channel.id, target.ref, off))
                    continue
            hops.append(
                {"channelId": channel.id, "channelType": channel.type, "recipient": address}
            )
        return hops

    def _throttled(
        self, route: Route, plan: Planned, marks: dict[tuple[int, str], Mark]
    ) -> str | None:
        rule = route.rule
        if rule is None or rule.throttle is None:
            return None
        key = (rule.id, group_key(rule, plan.values))
        mark = marks.get(key)
        interval = timedelta(seconds=rule.throttle.repeat_interval)
        opening = plan.snapshot["id"]
        if mark is not None and mark.sent_at + interval > self._now and mark.opened_by != opening:
            mark.held += 1
            return (
                f"held back by rule {rule.id} ({rule.name}): this group last went out at "
                f"{iso(mark.sent_at)}; the next may go at {iso(mark.sent_at + interval)}"
            )
        # This event opens the window; its other routes under the same rule go too.
        marks[key] = Mark(self._now, 0, opening)
        return None

    def _suppression(
        self,
        route: Route,
        plan: Planned,
        context: Context,
        type_state: TypeState,
        throttled: str | None,
        verdict: Verdict,
    ) -> tuple[str, str, int | None] | None:
        if not type_state.enabled:
            return (
                "TYPE_DISABLED",
                f"the notification type {type_state.key!r} is switched off in this project",
                None,
            )
        if verdict.off is not None:
            return ("PREFERENCE", str(verdict.off), None)
        values = {**plan.values, "channelId": str(route.channel.id)}
        values["channelType"] = route.channel.type
        silence = silenced_by(context.silences, values)
        if silence is not None:
            return ("SILENCED", f"silenced by silence {silence.id}", silence.id)
        if throttled is not None:
            return ("THROTTLED", throttled, None)
        return None

    def _delivery(self, plan: Planned, event_id: int, planned: _Target) -> NewDelivery:
        route, target, suppression = planned.route, planned.target, planned.suppression
        # The send API's payload is kept as it came (seed 002); any other event's is made
        # from the event at send time, addressed to the recipient.
        content = DeliveryContent(
            kind="event",
            event={**plan.snapshot, "eventId": event_id},
            payload=dict(plan.item.payload) if plan.item.payload is not None else None,
            template_id=route.template_id,
            recipient_name=target.name,
        )
        return NewDelivery(
            project_id=self._project_id,
            channel_id=route.channel.id,
            channel_type=route.channel.type,
            content=content.to_json(),
            recipient=target.address,
            event_id=event_id,
            rule_id=route.rule.id if route.rule else None,
            suppressed_by=suppression[0] if suppression else None,
            reason=suppression[1] if suppression else None,
            silence_id=suppression[2] if suppression else None,
            fallback=planned.fallback or None,
            not_before=planned.not_before,
        )

    async def _store_keys(
        self, planned: list[Planned], accepted: list[Accepted], firsts: dict[str, int]
    ) -> None:
        held = set(firsts) - {key for key, first in firsts.items() if first < 0}
        fresh: dict[str, tuple[int, datetime]] = {}
        for plan, outcome in zip(planned, accepted, strict=True):
            if plan.digest is None or outcome.duplicate or plan.digest in held:
                continue
            fresh[plan.digest] = (outcome.event_id, self._now + self._window(plan))
        await store_keys(self._session, self._project_id, fresh, self._now)
