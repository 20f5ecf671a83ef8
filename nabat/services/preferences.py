"""People's switches per notification type and channel kind, and the project's defaults
for them (seed 003: e-mail and in-app notifications switched separately).

A switch is on unless someone turned it off: a person's own switch wins over the
project's default, which wins over "on". A type the project's admins made mandatory is
on for everyone whatever the switches say, and nobody can switch it off; the project-wide
switch of a type (``/api/v1/notification-types``) stays the master switch above all this.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from nabat.channels.registry import CHANNEL_TYPES
from nabat.db.unit import after_commit
from nabat.errors import Conflict
from nabat.models.channel import Channel
from nabat.models.preferences import PreferenceDefault, UserPreference
from nabat.sentences import Sentence, either
from nabat.services.notification_types import TypeView, list_types
from nabat.services.project_settings import invalid
from nabat.services.routing_cache import CONTEXTS

Source = Literal["own", "default", "builtin", "mandatory"]
"""Where a switch's value comes from: the person's own switch, the project's default,
Nabat's (everything on), or the type being mandatory."""

_TYPES_PATH = "/api/v1/notification-types"


def preference_kinds() -> list[str]:
    """Every kind of switch the registered channel types answer to, sorted."""
    return sorted({kind.preference_kind for kind in CHANNEL_TYPES.values() if kind.preference_kind})


@dataclass(frozen=True)
class Switch:
    """One cell of the grid: a type over a channel kind, its value and where it is from."""

    kind: str
    enabled: bool
    source: Source


@dataclass(frozen=True)
class TypeSwitches:
    """One row of the grid: a notification type and its switch per kind.

    ``type_enabled`` is the project-wide switch: off, nothing of the type is sent, whatever
    the row says.
    """

    key: str
    title: str
    type_enabled: bool
    mandatory: bool
    switches: list[Switch]


@dataclass(frozen=True)
class Grid:
    """Every notification type of a project × every kind its channels answer to."""

    kinds: list[str]
    types: list[TypeSwitches]


@dataclass(frozen=True)
class SwitchChange:
    """Set one switch (``enabled``), or drop it (``None``): back to the default."""

    type_key: str
    kind: str
    enabled: bool | None


async def kinds_in_use(session: AsyncSession, project_id: int) -> list[str]:
    """The kinds the project's channels (on or off) answer to, sorted."""
    types = await session.scalars(
        select(Channel.type).where(Channel.project_id == project_id).distinct()
    )
    kinds = {
        descriptor.preference_kind
        for name in types
        if (descriptor := CHANNEL_TYPES.get(name)) is not None and descriptor.preference_kind
    }
    return sorted(kinds)


async def _defaults(session: AsyncSession, project_id: int) -> dict[tuple[str, str], bool]:
    rows = await session.execute(
        select(
            PreferenceDefault.type_key, PreferenceDefault.channel_kind, PreferenceDefault.enabled
        ).where(PreferenceDefault.project_id == project_id)
    )
    return {(row[0], row[1]): row[2] for row in rows}


async def _own(session: AsyncSession, project_id: int, user_id: int) -> dict[tuple[str, str], bool]:
    rows = await session.execute(
        select(UserPreference.type_key, UserPreference.channel_kind, UserPreference.enabled).where(
            UserPreference.project_id == project_id, UserPreference.user_id == user_id
        )
    )
    return {(row[0], row[1]): row[2] for row in rows}


def _switch(
    view: TypeView,
    kind: str,
    defaults: Mapping[tuple[str, str], bool],
    own: Mapping[tuple[str, str], bool],
) -> Switch:
    key = (view.key, kind)
    if view.mandatory:
        return Switch(kind, True, "mandatory")
    if key in own:
        return Switch(kind, own[key], "own")
    if key in defaults:
        return Switch(kind, defaults[key], "default")
    return Switch(kind, True, "builtin")


async def _grid(
    session: AsyncSession, project_id: int, own: Mapping[tuple[str, str], bool]
) -> Grid:
    kinds = await kinds_in_use(session, project_id)
    defaults = await _defaults(session, project_id)
    rows = [
        TypeSwitches(
            key=view.key,
            title=view.title,
            type_enabled=view.enabled,
            mandatory=view.mandatory,
            switches=[_switch(view, kind, defaults, own) for kind in kinds],
        )
        for view in await list_types(session, project_id)
    ]
    return Grid(kinds, rows)


async def my_grid(session: AsyncSession, project_id: int, user_id: int) -> Grid:
    """A person's switches in a project: every type × every kind in use, effective."""
    return await _grid(session, project_id, await _own(session, project_id, user_id))


async def defaults_grid(session: AsyncSession, project_id: int) -> Grid:
    """The project's defaults: every type × every kind in use (``own`` never appears)."""
    return await _grid(session, project_id, {})


async def _checked(
    session: AsyncSession, project_id: int, changes: Sequence[SwitchChange]
) -> list[SwitchChange]:
    """``changes`` as given, or :class:`ValidationFailed` naming the first bad one."""
    types = {view.key: view for view in await list_types(session, project_id)}
    kinds = preference_kinds()
    seen: set[tuple[str, str]] = set()
    for index, change in enumerate(changes):
        where = f"switches[{index}]"
        view = types.get(change.type_key)
        if view is None:
            raise invalid(
                f"{where}.type",
                Sentence(
                    "{key!r} is not a notification type of this project; list them with GET {path}",
                    key=change.type_key,
                    path=_TYPES_PATH,
                ),
            )
        if change.kind not in kinds:
            raise invalid(
                f"{where}.kind",
                Sentence(
                    "{kind!r} is not a kind of channel people switch; use {kinds}",
                    kind=change.kind,
                    kinds=either(kinds),
                ),
            )
        if change.enabled is False and view.mandatory:
            raise invalid(
                f"{where}.enabled",
                Sentence(
                    "the notification type {key!r} is mandatory in this project: its "
                    "notifications cannot be switched off",
                    key=view.key,
                ),
            )
        if (change.type_key, change.kind) in seen:
            raise invalid(
                where,
                Sentence(
                    "{key!r} over {kind} is given twice; give each switch once",
                    key=change.type_key,
                    kind=change.kind,
                ),
            )
        seen.add((change.type_key, change.kind))
    return list(changes)


async def set_mine(
    session: AsyncSession, project_id: int, user_id: int, changes: Sequence[SwitchChange]
) -> Grid:
    """Set (or drop) some of a person's switches and return their grid; the caller
    commits. Raises :class:`ValidationFailed` for an unknown type or kind, a mandatory
    type switched off, or a switch given twice, and :class:`Conflict` when another
    request changed the same switch at the same moment."""
    checked = await _checked(session, project_id, changes)
    rows = {
        (row.type_key, row.channel_kind): row
        for row in await session.scalars(
            select(UserPreference).where(
                UserPreference.project_id == project_id, UserPreference.user_id == user_id
            )
        )
    }
    for change in checked:
        row = rows.get((change.type_key, change.kind))
        if change.enabled is None:
            if row is not None:
                await session.delete(row)
        elif row is None:
            session.add(
                UserPreference(
                    project_id=project_id,
                    user_id=user_id,
                    type_key=change.type_key,
                    channel_kind=change.kind,
                    enabled=change.enabled,
                )
            )
        else:
            row.enabled = change.enabled
    await _store(session, project_id)
    return await my_grid(session, project_id, user_id)


async def set_defaults(
    session: AsyncSession, project_id: int, changes: Sequence[SwitchChange]
) -> Grid:
    """Set (or drop) some of the project's defaults and return them; the caller commits.
    Raises as :func:`set_mine` does."""
    checked = await _checked(session, project_id, changes)
    rows = {
        (row.type_key, row.channel_kind): row
        for row in await session.scalars(
            select(PreferenceDefault).where(PreferenceDefault.project_id == project_id)
        )
    }
    for change in checked:
        row = rows.get((change.type_key, change.kind))
        if change.enabled is None:
            if row is not None:
                await session.delete(row)
        elif row is None:
            session.add(
                PreferenceDefault(
                    project_id=project_id,
                    type_key=change.type_key,
                    channel_kind=change.kind,
                    enabled=change.enabled,
                )
            )
        else:
            row.enabled = change.enabled
    await _store(session, project_id)
    return await defaults_grid(session, project_id)


async def _store(session: AsyncSession, project_id: int) -> None:
    # Flushed here so that the primary key is checked while this use-case can still answer
    # with a Conflict (two requests adding the same switch at once).
    try:
        await session.flush()
    except IntegrityError as exc:
        await session.rollback()
        raise Conflict(
            "another request changed these switches at the same moment; read them and "
            "send your change again"
        ) from exc
    # Routing caches the defaults and whether anyone in the project has switches.
    after_commit(session, partial(CONTEXTS.forget, session, project_id))
