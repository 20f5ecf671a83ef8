"""Silences: matchers and a time window; matching deliveries are recorded, not sent.

A silence is never deleted by the API: ending it sets ``endsAt`` to now, so the record of
who silenced what, and when, stays.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import partial
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from nabat.clock import Clock
from nabat.db.ids import as_id
from nabat.db.unit import after_commit
from nabat.errors import Conflict, NotFound, ValidationFailed
from nabat.models.account import User
from nabat.models.routing import Silence
from nabat.routing.matchers import Matcher, parse_matchers
from nabat.routing.snapshot import iso
from nabat.sentences import Sentence
from nabat.services.access import Principal
from nabat.services.routing_cache import ProjectCache

MAX_MATCHERS = 50
COMMENT_MAX = 2000
AUTHOR_MAX = 200


class SilenceState(StrEnum):
    """Where a silence stands at a given moment."""

    PENDING = "pending"
    ACTIVE = "active"
    EXPIRED = "expired"


def state_of(row: Silence, now: datetime) -> SilenceState:
    """``pending`` before ``startsAt``, ``active`` until ``endsAt``, then ``expired``."""
    if row.ends_at <= now:
        return SilenceState.EXPIRED
    if now < row.starts_at:
        return SilenceState.PENDING
    return SilenceState.ACTIVE


@dataclass(frozen=True)
class ActiveSilence:
    """A silence in force, as routing tests deliveries against it."""

    id: int
    matchers: tuple[Matcher, ...]


@dataclass(frozen=True)
class SilenceFields:
    """A new silence as a client gives it (``matchers`` raw; ``starts_at`` None: now)."""

    matchers: Any
    ends_at: datetime
    comment: str
    author: str
    starts_at: datetime | None = None


@dataclass(frozen=True)
class SilenceChanges:
    """A partial update: ``None`` means "leave as is"."""

    matchers: Any = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    comment: str | None = None
    author: str | None = None


def _field_error(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(
        Sentence("{field}: {message}", field=field, message=message),
        details=[{"field": field, "message": message}],
    )


def _check_matchers(raw: Any) -> list[dict[str, str]]:
    """The stored form of a silence's matchers; at least one must be able to fail."""
    if not isinstance(raw, list):
        raise _field_error("matchers", 'give a list of matchers {"name", "op", "value"}')
    matchers = parse_matchers(raw, "matchers")
    if not matchers:
        raise _field_error(
            "matchers", "give at least one matcher; a silence without one would silence everything"
        )
    if len(matchers) > MAX_MATCHERS:
        raise _field_error(
            "matchers", Sentence("at most {most} matchers per silence", most=MAX_MATCHERS)
        )
    # Alertmanager's safeguard: matchers that all hold for an event with no values at all
    # (env=~".*", env!="x") would silence every event of the project.
    if all(matcher.holds({}) for matcher in matchers):
        raise _field_error(
            "matchers",
            "these matchers hold for every event; make at least one of them require a value "
            '(e.g. {"name": "env", "op": "=", "value": "prod"})',
        )
    return [matcher.to_json() for matcher in matchers]


def _check_comment(comment: str) -> str:
    comment = comment.strip()
    if not comment or len(comment) > COMMENT_MAX:
        raise _field_error(
            "comment",
            Sentence("give a comment saying why, of 1-{most} characters", most=COMMENT_MAX),
        )
    return comment


def _check_author(author: str) -> str:
    author = author.strip()
    if not author or len(author) > AUTHOR_MAX:
        raise _field_error(
            "author", Sentence("give an author of 1-{most} characters", most=AUTHOR_MAX)
        )
    return author


def _utc(moment: datetime) -> datetime:
    # Stored and answered in UTC whatever offset the client wrote.
    return moment.astimezone(UTC)


def _check_window(starts_at: datetime, ends_at: datetime) -> None:
    if ends_at <= starts_at:
        raise _field_error(
            "endsAt",
            Sentence(
                "must be after startsAt ({starts}); give the end of the window",
                starts=iso(starts_at),
            ),
        )


def _check_future_end(ends_at: datetime, now: datetime, hint: str) -> None:
    if ends_at <= now:
        raise _field_error(
            "endsAt",
            Sentence(
                "{ends} is not in the future (now: {now}); {hint}",
                ends=iso(ends_at),
                now=iso(now),
                hint=hint,
            ),
        )


async def author_of(session: AsyncSession, caller: Principal) -> str:
    """Who a silence is by when the client does not say: the username or the API key."""
    if caller.user_id is not None:
        user = await session.get(User, caller.user_id)
        if user is not None:
            return user.username
    return f"api-key:{caller.api_key_id}"


@dataclass(frozen=True)
class _Window:
    starts_at: datetime
    ends_at: datetime
    silence: ActiveSilence


@dataclass(frozen=True)
class _Loaded:
    """The silences not yet expired at ``at``."""

    at: datetime
    windows: tuple[_Window, ...]


_cache: ProjectCache[_Loaded] = ProjectCache()


class SilenceService:
    """Silence use-cases for one project at a time.

    Changes are flushed to the session, never committed: the caller commits.
    """

    def __init__(self, session: AsyncSession, clock: Clock) -> None:
        self._session = session
        self._clock = clock

    async def create(self, project_id: int, fields: SilenceFields) -> Silence:
        """Check and store a silence; it must end in the future and after it starts."""
        now = self._clock.now()
        matchers = _check_matchers(fields.matchers)
        starts_at = _utc(fields.starts_at) if fields.starts_at else now
        ends_at = _utc(fields.ends_at)
        _check_future_end(ends_at, now, Sentence("a silence must end in the future"))
        _check_window(starts_at, ends_at)
        row = Silence(
            project_id=project_id,
            matchers=matchers,
            starts_at=starts_at,
            ends_at=ends_at,
            comment=_check_comment(fields.comment),
            author=_check_author(fields.author),
            created_at=now,
            updated_at=now,
        )
        self._session.add(row)
        await self._store(project_id)
        return row

    async def list(
        self, project_id: int, now: datetime, state: SilenceState | None = None
    ) -> list[Silence]:
        """The project's silences in creation order; with ``state``, those in it at ``now``."""
        conditions: list[ColumnElement[bool]] = [Silence.project_id == project_id]
        if state is SilenceState.ACTIVE:
            conditions += [Silence.starts_at <= now, Silence.ends_at > now]
        elif state is SilenceState.PENDING:
            conditions += [Silence.starts_at > now, Silence.ends_at > now]
        elif state is SilenceState.EXPIRED:
            conditions.append(Silence.ends_at <= now)
        rows = await self._session.scalars(select(Silence).where(*conditions).order_by(Silence.id))
        return list(rows)

    async def get(self, project_id: int, silence_id: int) -> Silence:
        """One silence of the project; another project's silence is reported missing."""
        row = await self._session.get(Silence, silence_id) if as_id(silence_id) else None
        if row is None or row.project_id != project_id:
            raise NotFound(
                Sentence(
                    "silence {id} not found in this project; "
                    "list silences with GET /api/v1/silences",
                    id=silence_id,
                )
            )
        return row

    async def update(self, project_id: int, silence_id: int, changes: SilenceChanges) -> Silence:
        """Change a silence that has not expired; the window is checked as on create."""
        row = await self.get(project_id, silence_id)
        now = self._clock.now()
        if state_of(row, now) is SilenceState.EXPIRED:
            raise Conflict(
                Sentence(
                    "silence {id} has expired and cannot be changed; "
                    "create a new silence with POST /api/v1/silences",
                    id=silence_id,
                )
            )
        matchers = _check_matchers(changes.matchers) if changes.matchers is not None else None
        starts_at = _utc(changes.starts_at) if changes.starts_at else row.starts_at
        ends_at = _utc(changes.ends_at) if changes.ends_at else row.ends_at
        if changes.ends_at is not None:
            _check_future_end(ends_at, now, Sentence("to end a silence now, DELETE it"))
        _check_window(starts_at, ends_at)
        comment = _check_comment(changes.comment) if changes.comment is not None else None
        author = _check_author(changes.author) if changes.author is not None else None
        # Everything is checked before anything changes: a refused update leaves no trace.
        row.matchers = matchers if matchers is not None else row.matchers
        row.starts_at, row.ends_at = starts_at, ends_at
        row.comment = comment if comment is not None else row.comment
        row.author = author if author is not None else row.author
        row.updated_at = now
        await self._store(project_id)
        return row

    async def expire(self, project_id: int, silence_id: int) -> Silence:
        """End a silence now, keeping its record; an expired one is left as it is."""
        row = await self.get(project_id, silence_id)
        now = self._clock.now()
        state = state_of(row, now)
        if state is SilenceState.EXPIRED:
            return row
        if state is SilenceState.PENDING:
            # It never took effect: its window closes before it opens, at this moment.
            row.starts_at = now
        row.ends_at = now
        row.updated_at = now
        await self._store(project_id)
        return row

    async def _store(self, project_id: int) -> None:
        await self._session.flush()
        # Routing caches the project's silences; the next event must see this change once it
        # is committed.
        after_commit(self._session, partial(_cache.forget, self._session, project_id))


async def _load(session: AsyncSession, project_id: int, now: datetime) -> _Loaded:
    rows = await session.scalars(
        select(Silence)
        .where(Silence.project_id == project_id, Silence.ends_at > now)
        .order_by(Silence.id)
    )
    return _Loaded(
        now,
        tuple(
            _Window(
                row.starts_at,
                row.ends_at,
                ActiveSilence(id=row.id, matchers=tuple(parse_matchers(row.matchers, "matchers"))),
            )
            for row in rows
        ),
    )


async def active_silences(
    session: AsyncSession, project_id: int, now: datetime
) -> list[ActiveSilence]:
    """The project's silences in force at ``now`` (startsAt <= now < endsAt), cached.

    The cache holds every silence not yet expired when it was loaded, so one that starts or
    ends between loads is still judged by ``now``. A change made through
    :class:`SilenceService` in this process is seen at once; one made by another process
    within ``routing_cache.DEFAULT_TTL`` (one second).
    """
    loaded = await _cache.get(
        session,
        project_id,
        lambda: _load(session, project_id, now),
        # Loaded for a later moment, it may lack silences that had not yet ended at ``now``.
        usable=lambda entry: entry.at <= now,
    )
    return [w.silence for w in loaded.windows if w.starts_at <= now < w.ends_at]
