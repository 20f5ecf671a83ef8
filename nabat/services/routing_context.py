"""What routing a project's events needs: its types, channels, settings and preference
defaults (cached per project, see :mod:`nabat.services.routing_cache`), rules and active
silences."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from nabat.models.account import Membership, User
from nabat.models.channel import Channel
from nabat.routing.plan import ChannelRef
from nabat.routing.rules import CompiledRule
from nabat.services.notification_types import TypeState, type_states
from nabat.services.preference_store import ProjectPreferences, project_preferences
from nabat.services.project_settings import message_settings
from nabat.services.routing_cache import CONTEXTS
from nabat.services.rules import active_rules
from nabat.services.silences import ActiveSilence, active_silences


@dataclass
class Context:
    """What routing one project's events needs, loaded once per request."""

    types: dict[str, TypeState]
    channels: dict[int, ChannelRef]
    rules: list[CompiledRule]
    silences: list[ActiveSilence]
    language: str
    allow_unregistered: bool
    # How the project's active members may be named (ids, usernames, e-mails, lowercased):
    # a recipient named otherwise is nobody here, and costs no query.
    member_refs: frozenset[str] = frozenset()
    # The project's preference defaults, and whether anyone has settings of their own.
    preferences: ProjectPreferences = field(default_factory=lambda: ProjectPreferences({}, False))


@dataclass(frozen=True)
class _Base:
    """The cached part of a context: types, channels, message settings, the names its
    members go by, and the preference defaults."""

    types: dict[str, TypeState]
    channels: dict[int, ChannelRef]
    language: str
    allow_unregistered: bool
    member_refs: frozenset[str]
    mail_channel_id: int | None
    preferences: ProjectPreferences


async def _load_base(session: AsyncSession, project_id: int) -> _Base:
    settings = (await message_settings(session, [project_id]))[project_id]
    rows = await session.execute(
        select(Channel.id, Channel.name, Channel.type, Channel.enabled, Channel.is_default).where(
            Channel.project_id == project_id
        )
    )
    channels = {row[0]: ChannelRef(*row) for row in rows}
    members = await session.execute(
        select(User.id, User.username, User.email)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.project_id == project_id, User.is_active)
    )
    refs = {name.lower() for row in members for name in (str(row[0]), row[1], row[2])}
    return _Base(
        types=await type_states(session, project_id, settings.language),
        channels=channels,
        language=settings.language,
        allow_unregistered=settings.allow_unregistered_recipients,
        member_refs=frozenset(refs),
        mail_channel_id=settings.mail_channel_id,
        preferences=await project_preferences(session, project_id),
    )


async def known(
    session: AsyncSession, project_id: int
) -> tuple[dict[str, TypeState], dict[int, ChannelRef]]:
    """The project's notification types and channels (cached), to check events against."""
    base: _Base = await CONTEXTS.get(session, project_id, lambda: _load_base(session, project_id))
    return base.types, base.channels


async def mail_connection_id(session: AsyncSession, project_id: int) -> int | None:
    """The id of the project's mail connection (cached with its channels), if it has one."""
    base: _Base = await CONTEXTS.get(session, project_id, lambda: _load_base(session, project_id))
    return base.mail_channel_id


async def load_context(session: AsyncSession, project_id: int, now: datetime) -> Context:
    base: _Base = await CONTEXTS.get(session, project_id, lambda: _load_base(session, project_id))
    return Context(
        types=base.types,
        channels=base.channels,
        rules=await active_rules(session, project_id),
        silences=await active_silences(session, project_id, now),
        language=base.language,
        allow_unregistered=base.allow_unregistered,
        member_refs=base.member_refs,
        preferences=base.preferences,
    )
