"""What routing a project's events needs: its types, channels, settings (cached per
project, see :mod:`nabat.services.routing_cache`), rules and active silences."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from nabat.models.channel import Channel
from nabat.routing.plan import ChannelRef
from nabat.routing.rules import CompiledRule
from nabat.services.notification_types import TypeState, type_states
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


@dataclass(frozen=True)
class _Base:
    """The cached part of a context: types, channels and message settings."""

    types: dict[str, TypeState]
    channels: dict[int, ChannelRef]
    language: str
    allow_unregistered: bool


async def _load_base(session: AsyncSession, project_id: int) -> _Base:
    settings = (await message_settings(session, [project_id]))[project_id]
    rows = await session.execute(
        select(Channel.id, Channel.name, Channel.type, Channel.enabled, Channel.is_default).where(
            Channel.project_id == project_id
        )
    )
    return _Base(
        types=await type_states(session, project_id, settings.language),
        channels={row[0]: ChannelRef(*row) for row in rows},
        language=settings.language,
        allow_unregistered=settings.allow_unregistered_recipients,
    )


async def known(
    session: AsyncSession, project_id: int
) -> tuple[dict[str, TypeState], dict[int, ChannelRef]]:
    """The project's notification types and channels (cached), to check events against."""
    base: _Base = await CONTEXTS.get(session, project_id, lambda: _load_base(session, project_id))
    return base.types, base.channels


async def load_context(session: AsyncSession, project_id: int, now: datetime) -> Context:
    base: _Base = await CONTEXTS.get(session, project_id, lambda: _load_base(session, project_id))
    return Context(
        types=base.types,
        channels=base.channels,
        rules=await active_rules(session, project_id),
        silences=await active_silences(session, project_id, now),
        language=base.language,
        allow_unregistered=base.allow_unregistered,
    )
