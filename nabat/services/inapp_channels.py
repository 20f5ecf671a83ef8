"""Every project has its in-app channel: made with the project, and at start-up for any
project that lacks one (projects made before the channel existed, or by a path that does
not make it).

Not a migration: a channel's configuration is stored encrypted with the instance's key
(``config_sealed``), which a migration does not have. The channel is made enabled and
never the default; the project's admins may switch it off, not delete it
(``ChannelType.builtin``), so a restart never brings back one they removed.
"""

from __future__ import annotations

from collections.abc import Collection
from functools import partial

from sqlalchemy import case, exists, func, insert, literal, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from nabat.channels.inapp import INAPP, InappConfig
from nabat.clock import Clock
from nabat.db.types import UTCDateTime
from nabat.db.unit import after_commit
from nabat.models.account import Project
from nabat.models.channel import Channel
from nabat.models.template import ProjectSettings
from nabat.security.crypto import SecretBox
from nabat.services.routing_cache import CONTEXTS

# The channel's name in the project's message language (people may rename it).
NAMES = {"ru": "Входящие", "en": "Inbox"}
# Any fixed number: processes starting together on PostgreSQL make the channels one by one.
_PG_LOCK = 7_031_996


async def add_inapp_channels(
    session: AsyncSession, box: SecretBox, clock: Clock, projects: Collection[int] | None = None
) -> int:
    """Make the in-app channel of each project among ``projects`` (every project when
    None) that has none, in the caller's transaction (the caller commits); how many were
    made.

    Idempotent, and safe when processes run it at once: one statement decides and writes
    (SQLite runs it under its write lock), and on PostgreSQL a transaction lock makes the
    others wait and then find the channels made.
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})
    now = clock.now()
    language = func.coalesce(
        select(ProjectSettings.language)
        .where(ProjectSettings.project_id == Project.id)
        .scalar_subquery(),
        "ru",
    )
    has_one = exists().where(Channel.project_id == Project.id, Channel.type == INAPP.name)
    missing = select(
        Project.id,
        case((language == "en", NAMES["en"]), else_=NAMES["ru"]),
        literal(INAPP.name),
        literal(box.encrypt_json(InappConfig().to_storage())),
        literal(True),
        literal(False),
        literal(now, UTCDateTime()),
        literal(now, UTCDateTime()),
    ).where(~has_one)
    if projects is not None:
        if not projects:
            return 0
        missing = missing.where(Project.id.in_(list(projects)))
    columns = [
        "project_id",
        "name",
        "type",
        "config_sealed",
        "enabled",
        "is_default",
        "created_at",
        "updated_at",
    ]
    result = await session.execute(insert(Channel).from_select(columns, missing))
    made = int(getattr(result, "rowcount", 0) or 0)
    for project in projects or ():
        # Routing caches a project's channels; the next event must see this one.
        after_commit(session, partial(CONTEXTS.forget, session, project))
    return made
