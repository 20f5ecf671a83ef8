"""Notification types per project: the built-in catalogue (every type on unless switched
off, seed 003) merged with the project's switches and its own custom types."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import partial

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from nabat.catalogue import BY_KEY, CATALOGUE, LANGUAGES
from nabat.clock import Clock
from nabat.db.unit import after_commit
from nabat.errors import Conflict, NotFound
from nabat.models.preferences import PreferenceDefault, UserPreference
from nabat.models.routing import NotificationTypeRow
from nabat.sentences import Sentence
from nabat.services.project_settings import (
    UNSET,
    Unset,
    clean_line,
    clean_text,
    invalid,
    settings_of,
)
from nabat.services.routing_cache import CONTEXTS

KEY_MAX = 100
TITLE_MAX = 200
DESCRIPTION_MAX = 2000
_KEY = re.compile(r"^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*$")
_TYPES_PATH = "/api/v1/notification-types"


@dataclass(frozen=True)
class TypeState:
    """What ingest needs of a type: its key, title (in the project's language), whether
    it is switched on, whether the project made it, and whether people may switch it
    off for themselves."""

    key: str
    title: str
    enabled: bool
    custom: bool
    mandatory: bool = False


@dataclass(frozen=True)
class TypeView:
    """A type as the API lists it: ``title`` and ``description`` in the project's
    language, ``titles`` in every language."""

    key: str
    title: str
    description: str
    titles: dict[str, str]
    enabled: bool
    custom: bool
    mandatory: bool = False


@dataclass(frozen=True)
class TypeChanges:
    """A partial update of a type; ``None`` (or :data:`UNSET`) leaves a field as it is.

    Only custom types take ``title`` and ``description``; a ``None`` description clears it.
    ``mandatory``: people cannot switch the type's notifications off for themselves.
    """

    enabled: bool | None = None
    mandatory: bool | None = None
    title: str | None = None
    description: str | Unset | None = UNSET


def _view(key: str, row: NotificationTypeRow | None, language: str) -> TypeView:
    """``row`` is the project's own type or its switch for the built-in ``key``, if any."""
    if row is not None and row.custom:
        title = row.title or key
        return TypeView(
            key=key,
            title=title,
            description=row.description or "",
            titles=dict.fromkeys(LANGUAGES, title),
            enabled=row.enabled,
            custom=True,
            mandatory=row.mandatory,
        )
    info = BY_KEY[key]
    return TypeView(
        key=key,
        title=info.title(language),
        description=info.description(language),
        titles={code: info.title(code) for code in LANGUAGES},
        enabled=row.enabled if row is not None else True,
        custom=False,
        mandatory=row.mandatory if row is not None else False,
    )


async def _rows(session: AsyncSession, project_id: int) -> dict[str, NotificationTypeRow]:
    rows = await session.scalars(
        select(NotificationTypeRow).where(NotificationTypeRow.project_id == project_id)
    )
    # A switch left behind by a built-in type that is no longer in the catalogue is ignored.
    return {row.key: row for row in rows if row.custom or row.key in BY_KEY}


def _merged(rows: dict[str, NotificationTypeRow], language: str) -> list[TypeView]:
    builtin = [_view(info.key, rows.get(info.key), language) for info in CATALOGUE]
    custom = [
        _view(key, row, language)
        for key, row in sorted(rows.items())
        if row.custom and key not in BY_KEY
    ]
    return builtin + custom


async def list_types(session: AsyncSession, project_id: int) -> list[TypeView]:
    """Every built-in type (catalogue order), then the project's own (by key)."""
    language = (await settings_of(session, project_id)).language
    return _merged(await _rows(session, project_id), language)


async def type_states(
    session: AsyncSession, project_id: int, language: str
) -> dict[str, TypeState]:
    """Every built-in and custom type of the project by key, titled in ``language``.

    One query; built-ins the project never touched are enabled.
    """
    return {
        view.key: TypeState(
            key=view.key,
            title=view.title,
            enabled=view.enabled,
            custom=view.custom,
            mandatory=view.mandatory,
        )
        for view in _merged(await _rows(session, project_id), language)
    }


def _not_found(key: str) -> NotFound:
    return NotFound(
        Sentence(
            "notification type {key!r} not found: it is neither built in nor made by this "
            'project; create it with POST {path} {{"key": "{key}", "title": "..."}}',
            key=key,
            path=_TYPES_PATH,
        )
    )


async def update_type(
    session: AsyncSession, clock: Clock, project_id: int, key: str, changes: TypeChanges
) -> TypeView:
    """Switch a type on or off, make it mandatory or not (and rename a custom one) and
    return it; the caller commits.

    Raises :class:`NotFound` for an unknown key and :class:`ValidationFailed` for a title
    or description given to a built-in type, or a bad one.
    """
    rows = await _rows(session, project_id)
    row = rows.get(key)
    if key not in BY_KEY and row is None:
        raise _not_found(key)
    custom = row is not None and row.custom
    if not custom and changes.title is not None:
        raise invalid(
            "title", "a built-in type's title cannot be changed; only enabled and mandatory can"
        )
    if not custom and not isinstance(changes.description, Unset):
        raise invalid(
            "description",
            "a built-in type's description cannot be changed; only enabled and mandatory can",
        )
    if row is None:
        row = NotificationTypeRow(
            project_id=project_id, key=key, enabled=True, custom=False, mandatory=False
        )
        session.add(row)
    if changes.title is not None:
        row.title = _title(changes.title)
    if not isinstance(changes.description, Unset):
        row.description = clean_text("description", changes.description, DESCRIPTION_MAX)
    if changes.enabled is not None:
        row.enabled = changes.enabled
    if changes.mandatory is not None:
        row.mandatory = changes.mandatory
    row.updated_at = clock.now()
    await _store(session, project_id, key)
    language = (await settings_of(session, project_id)).language
    return _view(key, row, language)


def _title(title: str) -> str:
    checked = clean_line("title", title, TITLE_MAX)
    if checked is None:
        raise invalid("title", "must not be empty")
    return checked


def _check_key(key: str) -> str:
    key = key.strip()
    if len(key) > KEY_MAX:
        raise invalid("key", Sentence("must be at most {most} characters", most=KEY_MAX))
    if not _KEY.match(key):
        raise invalid(
            "key",
            Sentence(
                "{key!r} is not a type key: use lowercase letters, digits, _ and -, in "
                "dot-separated parts starting with a letter (e.g. backup.failed)",
                key=key,
            ),
        )
    return key


async def create_type(
    session: AsyncSession,
    clock: Clock,
    project_id: int,
    *,
    key: str,
    title: str,
    description: str | None = None,
    enabled: bool = True,
) -> TypeView:
    """Create a project's own type; the caller commits.

    Raises :class:`ValidationFailed` for a bad key, title or description and
    :class:`Conflict` when the key is built in or the project already has it.
    """
    key = _check_key(key)
    if key in BY_KEY:
        raise Conflict(
            Sentence(
                "{key!r} is a built-in notification type; switch it on or off with "
                "PUT {path}/{key}, or choose another key",
                key=key,
                path=_TYPES_PATH,
            )
        )
    row = NotificationTypeRow(
        project_id=project_id,
        key=key,
        title=_title(title),
        description=clean_text("description", description, DESCRIPTION_MAX),
        enabled=enabled,
        custom=True,
        updated_at=clock.now(),
    )
    if key in await _rows(session, project_id):
        raise Conflict(
            Sentence(
                "this project already has a notification type {key!r}; change it with "
                "PUT {path}/{key}",
                key=key,
                path=_TYPES_PATH,
            )
        )
    session.add(row)
    await _store(session, project_id, key)
    language = (await settings_of(session, project_id)).language
    return _view(key, row, language)


async def delete_type(session: AsyncSession, project_id: int, key: str) -> None:
    """Delete a project's own type; the caller commits.

    Raises :class:`Conflict` for a built-in type (it can only be switched off) and
    :class:`NotFound` for an unknown key.
    """
    if key in BY_KEY:
        raise Conflict(
            Sentence(
                "{key!r} is a built-in notification type and cannot be deleted; switch it off "
                'instead with PUT {path}/{key} {{"enabled": false}}',
                key=key,
                path=_TYPES_PATH,
            )
        )
    row = (await _rows(session, project_id)).get(key)
    if row is None:
        raise _not_found(key)
    await session.delete(row)
    # People's switches for it go too: a type made later with this key starts afresh.
    for table in (UserPreference, PreferenceDefault):
        await session.execute(
            delete(table).where(table.project_id == project_id, table.type_key == key)
        )
    await _store(session, project_id, key)


async def _store(session: AsyncSession, project_id: int, key: str) -> None:
    # Flushed here, not at the caller's commit, so that the (project, key) constraint is
    # checked while this use-case can still answer with a Conflict.
    try:
        await session.flush()
    except IntegrityError as exc:
        # The (project, key) unique constraint: another request wrote this type first.
        await session.rollback()
        raise Conflict(
            Sentence(
                "another request changed notification type {key!r} at the same moment; "
                "read it and send your change again",
                key=key,
            )
        ) from exc
    # Ingest caches the project's types; the next event must see this change once it is
    # committed.
    after_commit(session, partial(CONTEXTS.forget, session, project_id))
