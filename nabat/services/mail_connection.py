"""The project's outgoing-mail connection (seed 003: SMTP or EWS): the one channel its
mail goes through, chosen in the mail settings.

A channel may be the connection while it is the project's, enabled, and of a type whose
wording is e-mail (the descriptor's ``template_kind``, never the type's name): EMAIL
(SMTP), and the Exchange types once registered. Used today by the send API: a
notification that asks for an e-mail ``channelType`` without a ``channelId`` goes
through the connection (docs/decisions.md, "The mail connection").
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from nabat.channels.registry import channel_type, channel_types
from nabat.db.ids import as_id
from nabat.errors import ChannelDisabled, ValidationFailed
from nabat.models.channel import Channel
from nabat.sentences import Sentence, either

FIELD = "mailChannelId"


class ChannelLike(Protocol):
    """What deciding about a channel needs (a stored row or routing's ``ChannelRef``)."""

    @property
    def id(self) -> int:
        """The channel's id."""

    @property
    def name(self) -> str:
        """Its name."""

    @property
    def type(self) -> str:
        """Its type's name."""

    @property
    def enabled(self) -> bool:
        """Whether it sends."""


C = TypeVar("C", bound=ChannelLike)


def words_mail(type_name: str) -> bool:
    """Whether channels of ``type_name`` send e-mail (an unknown type does not)."""
    kind = channel_type(type_name.upper())
    return kind is not None and kind.template_kind == "email"


def mail_types() -> list[str]:
    """The registered types that send e-mail, in registry order."""
    return [name for name in channel_types() if words_mail(name)]


def eligible(channels: Iterable[C]) -> list[C]:
    """The channels that may be chosen as the connection, in the order given."""
    return [channel for channel in channels if channel.enabled and words_mail(channel.type)]


async def offered(session: AsyncSession, project_id: int, current: int | None) -> list[Channel]:
    """The channels a form may offer as the connection: the eligible ones, and the
    current one even when it no longer is (so the form shows what is stored), by id."""
    rows = list(
        await session.scalars(
            select(Channel).where(Channel.project_id == project_id).order_by(Channel.id)
        )
    )
    usable = {row.id for row in eligible(rows)}
    return [row for row in rows if row.id in usable or row.id == current]


def _refused(message: str) -> ValidationFailed:
    return ValidationFailed(
        Sentence("{field}: {message}", field=FIELD, message=message),
        details=[{"field": FIELD, "message": message, "type": "value_error"}],
    )


async def checked_connection(session: AsyncSession, project_id: int, channel_id: int) -> int:
    """``channel_id``, if that channel may be the project's mail connection.

    Raises :class:`ValidationFailed` naming ``mailChannelId`` for a channel of another
    project or none, one that does not send e-mail, or one that is disabled.
    """
    row = await session.get(Channel, channel_id) if as_id(channel_id) else None
    if row is None or row.project_id != project_id:
        raise _refused(Sentence("channel {id} is not a channel of this project", id=channel_id))
    if not words_mail(row.type):
        raise _refused(
            Sentence(
                "channel {id} ({name}) is a {type} channel, which does not send e-mail; "
                "choose a channel of type {types}",
                id=row.id,
                name=row.name,
                type=row.type,
                types=either(mail_types(), commas=False),
            )
        )
    if not row.enabled:
        raise _refused(
            Sentence("channel {id} ({name}) is disabled; enable it first", id=row.id, name=row.name)
        )
    return row.id


def mail_route(channels: Iterable[C], connection_id: int | None) -> C | None:
    """The channel the project's mail goes through now, or ``None`` without one.

    A connection that no longer sends e-mail (its type was changed) or no longer exists
    counts as none. Raises :class:`ChannelDisabled` while it is disabled: switching the
    project's mail channel off stops its mail rather than sending it another way.
    """
    if connection_id is None:
        return None
    found = next((channel for channel in channels if channel.id == connection_id), None)
    if found is None or not words_mail(found.type):
        return None
    if not found.enabled:
        raise ChannelDisabled(
            Sentence(
                "the project's mail connection, channel {id} ({name}), is disabled; enable "
                "it, choose another one with PUT /api/v1/settings/mail "
                '{{"mailChannelId": ...}}, or name a channelId',
                id=found.id,
                name=found.name,
            )
        )
    return found
