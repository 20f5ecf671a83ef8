"""Routing rules: create, read, update (partially), delete; and the compiled rules ingest uses.

The shape of ``match``, ``actions`` and ``throttle`` is checked by ``nabat.routing.rules``;
this module adds what needs the database: every action's channel and template must belong
to the rule's project, and a template must suit its channel's kind.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from nabat.clock import Clock
from nabat.db.ids import as_id
from nabat.db.unit import after_commit
from nabat.errors import NotFound, ValidationFailed
from nabat.models.channel import Channel
from nabat.models.routing import Rule
from nabat.models.template import Template
from nabat.routing.rules import (
    CompiledRule,
    compile_rule,
    normalise_actions,
    normalise_match,
    normalise_throttle,
)
from nabat.routing.snapshot import channel_kind
from nabat.sentences import Sentence
from nabat.services.routing_cache import ProjectCache

_NAME_MAX = 200
# How many existing ids an error lists before pointing at the list endpoint instead.
_LISTED = 20

_cache: ProjectCache[tuple[CompiledRule, ...]] = ProjectCache()


@dataclass(frozen=True)
class RuleFields:
    """A whole rule as a client gives it (``match``, ``actions``, ``throttle`` raw)."""

    name: str
    actions: Any
    match: Any = None
    throttle: Any = None
    position: int | None = None
    enabled: bool = True
    continue_matching: bool = False


@dataclass(frozen=True)
class RuleChanges:
    """A partial update: ``None`` means "leave as is".

    ``throttle`` is applied only when ``set_throttle`` is true, so that ``None`` there can
    mean "no throttle".
    """

    name: str | None = None
    position: int | None = None
    enabled: bool | None = None
    match: Any = None
    actions: Any = None
    throttle: Any = None
    set_throttle: bool = False
    continue_matching: bool | None = None


def _field_error(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(
        Sentence("{field}: {message}", field=field, message=message),
        details=[{"field": field, "message": message}],
    )


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > _NAME_MAX:
        raise _field_error(
            "name", Sentence("give the rule a name of 1-{most} characters", most=_NAME_MAX)
        )
    return name


def _listing(items: Sequence[str], endpoint: str) -> str:
    shown = ", ".join(items[:_LISTED])
    if len(items) > _LISTED:
        return Sentence(
            "{shown} and {more} more (GET {endpoint})",
            shown=shown,
            more=len(items) - _LISTED,
            endpoint=endpoint,
        )
    return shown


async def _check_references(
    session: AsyncSession, project_id: int, actions: list[dict[str, Any]]
) -> None:
    """Refuse actions naming another project's (or no) channel or template."""
    channels = {
        row.id: row
        for row in await session.execute(
            select(Channel.id, Channel.name, Channel.type)
            .where(Channel.project_id == project_id)
            .order_by(Channel.id)
        )
    }
    wanted = {a["templateId"] for a in actions if a["templateId"] is not None}
    templates = (
        {
            row.id: row
            for row in await session.execute(
                select(Template.id, Template.name, Template.channel_kind)
                .where(Template.project_id == project_id)
                .order_by(Template.id)
            )
        }
        if wanted
        else {}
    )
    problems: list[dict[str, str]] = []
    for index, action in enumerate(actions):
        at = f"actions[{index}]"
        channel = channels.get(action["channelId"])
        if channel is None:
            endpoint = "/api/v1/notifications/channels"
            known = [f"{c.id} ({c.name}, {c.type})" for c in channels.values()]
            if known:
                message = Sentence(
                    "channel {id} is not a channel of this project; its channels are {channels}",
                    id=action["channelId"],
                    channels=_listing(known, endpoint),
                )
            else:
                message = Sentence(
                    "channel {id} is not a channel of this project, which has no channels "
                    "yet; create one with POST {endpoint}",
                    id=action["channelId"],
                    endpoint=endpoint,
                )
            problems.append({"field": f"{at}.channelId", "message": message})
            continue
        template_id = action["templateId"]
        if template_id is None:
            continue
        template = templates.get(template_id)
        kind = channel_kind(channel.type)
        if template is None:
            suitable = [f"{t.id} ({t.name})" for t in templates.values() if t.channel_kind == kind]
            if suitable:
                message = Sentence(
                    "template {id} is not a template of this project; its {kind} templates "
                    "are {templates}",
                    id=template_id,
                    kind=kind,
                    templates=_listing(suitable, "/api/v1/templates"),
                )
            else:
                message = Sentence(
                    "template {id} is not a template of this project; it has no {kind} "
                    "templates; leave templateId null to use the default wording",
                    id=template_id,
                    kind=kind,
                )
            problems.append({"field": f"{at}.templateId", "message": message})
        elif template.channel_kind != kind:
            message = Sentence(
                "template {id} ({name}) is written for {written} channels, but channel "
                "{channel} is {type}; choose a template written for {kind} channels",
                id=template_id,
                name=template.name,
                written=template.channel_kind,
                channel=channel.id,
                type=channel.type,
                kind=kind,
            )
            problems.append({"field": f"{at}.templateId", "message": message})
    problems += _unknown_fallbacks(actions, channels)
    if problems:
        first = problems[0]
        raise ValidationFailed(
            Sentence("{field}: {message}", field=first["field"], message=first["message"]),
            details=problems,
        )


def _unknown_fallbacks(
    actions: list[dict[str, Any]], channels: dict[int, Any]
) -> list[dict[str, str]]:
    """A problem for each fallback channel that is not one of the project's."""
    return [
        {
            "field": f"actions[{index}].fallbackChannelIds[{position}]",
            "message": Sentence("channel {id} is not a channel of this project", id=channel_id),
        }
        for index, action in enumerate(actions)
        for position, channel_id in enumerate(action.get("fallbackChannelIds") or ())
        if channel_id not in channels
    ]


class RuleService:
    """Rule use-cases for one project at a time.

    Changes are flushed to the session, never committed: the caller commits.
    """

    def __init__(self, session: AsyncSession, clock: Clock) -> None:
        self._session = session
        self._clock = clock

    async def create(self, project_id: int, fields: RuleFields) -> Rule:
        """Check, normalise and store a rule; ``position`` defaults to after the last."""
        name = _check_name(fields.name)
        match = normalise_match(fields.match)
        actions = normalise_actions(fields.actions)
        throttle = normalise_throttle(fields.throttle)
        await _check_references(self._session, project_id, actions)
        position = fields.position
        if position is None:
            last = await self._session.scalar(
                select(func.max(Rule.position)).where(Rule.project_id == project_id)
            )
            position = 1 if last is None else last + 1
        now = self._clock.now()
        row = Rule(
            project_id=project_id,
            name=name,
            position=position,
            enabled=fields.enabled,
            match=match,
            actions=actions,
            throttle=throttle,
            continue_matching=fields.continue_matching,
            created_at=now,
            updated_at=now,
        )
        self._session.add(row)
        await self._store(project_id)
        return row

    async def list(self, project_id: int) -> list[Rule]:
        """The project's rules in evaluation order (position, then id)."""
        rows = await self._session.scalars(
            select(Rule).where(Rule.project_id == project_id).order_by(Rule.position, Rule.id)
        )
        return list(rows)

    async def get(self, project_id: int, rule_id: int) -> Rule:
        """One rule of the project; another project's rule is reported missing."""
        row = await self._session.get(Rule, rule_id) if as_id(rule_id) else None
        if row is None or row.project_id != project_id:
            raise NotFound(
                Sentence(
                    "rule {id} not found in this project; list rules with GET /api/v1/rules",
                    id=rule_id,
                )
            )
        return row

    async def update(self, project_id: int, rule_id: int, changes: RuleChanges) -> Rule:
        """Apply a partial update; the parts given are checked as on create."""
        row = await self.get(project_id, rule_id)
        name = _check_name(changes.name) if changes.name is not None else row.name
        match = normalise_match(changes.match) if changes.match is not None else row.match
        actions = row.actions
        if changes.actions is not None:
            actions = normalise_actions(changes.actions)
            await _check_references(self._session, project_id, actions)
        throttle = normalise_throttle(changes.throttle) if changes.set_throttle else row.throttle
        # Everything is checked before anything changes: a refused update leaves no trace.
        row.name, row.match, row.actions, row.throttle = name, match, actions, throttle
        if changes.position is not None:
            row.position = changes.position
        if changes.enabled is not None:
            row.enabled = changes.enabled
        if changes.continue_matching is not None:
            row.continue_matching = changes.continue_matching
        row.updated_at = self._clock.now()
        await self._store(project_id)
        return row

    async def delete(self, project_id: int, rule_id: int) -> None:
        """Delete a rule of the project (its throttle marks go with it)."""
        await self._session.delete(await self.get(project_id, rule_id))
        await self._store(project_id)

    async def _store(self, project_id: int) -> None:
        await self._session.flush()
        # Routing caches the project's rules; the next event must see this change once it
        # is committed.
        after_commit(self._session, partial(_cache.forget, self._session, project_id))


async def load_rules(session: AsyncSession, project_id: int) -> tuple[CompiledRule, ...]:
    """The project's enabled rules in order (position, id), compiled; no cache."""
    rows = await session.scalars(
        select(Rule)
        .where(Rule.project_id == project_id, Rule.enabled)
        .order_by(Rule.position, Rule.id)
    )
    return tuple(
        compile_rule(
            rule_id=row.id,
            name=row.name,
            match=row.match,
            actions=row.actions,
            throttle=row.throttle,
            continue_matching=row.continue_matching,
        )
        for row in rows
    )


async def active_rules(session: AsyncSession, project_id: int) -> list[CompiledRule]:
    """The project's enabled rules in evaluation order, compiled, from a short cache.

    A change made through :class:`RuleService` in this process is seen at once; one made
    by another process within ``routing_cache.DEFAULT_TTL`` (one second).
    """
    return list(await _cache.get(session, project_id, lambda: load_rules(session, project_id)))
