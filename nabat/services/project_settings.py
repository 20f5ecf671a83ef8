"""A project's message settings: the language of default templates and seed 003's mail
settings (From address, sender name, Reply-To, signature, unregistered recipients, and
the mail connection: the channel its mail goes through)."""

from __future__ import annotations

import unicodedata
from collections.abc import Collection
from dataclasses import dataclass, replace
from enum import Enum
from functools import partial

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from nabat.catalogue import LANGUAGES
from nabat.clock import Clock
from nabat.db.unit import after_commit
from nabat.errors import Conflict, ValidationFailed
from nabat.models.template import ProjectSettings
from nabat.sentences import Sentence, either
from nabat.services.contacts import normalise_email
from nabat.services.mail_connection import checked_connection
from nabat.services.routing_cache import CONTEXTS

DEFAULT_LANGUAGE = "ru"
FROM_NAME_MAX = 200
SIGNATURE_MAX = 2000
# Characters that end a line: a header value holding one could smuggle in another header.
_LINE_BREAKING = frozenset({"Cc", "Zl", "Zp"})


class Unset(Enum):
    """The marker for "not given" in a partial update, where ``None`` means "clear"."""

    UNSET = "unset"


UNSET = Unset.UNSET


@dataclass(frozen=True)
class MessageSettings:
    """What a project's messages are written and sent with; defaults when never set."""

    language: str
    from_address: str | None
    from_name: str | None
    reply_to: str | None
    signature: str | None
    allow_unregistered_recipients: bool
    mail_channel_id: int | None = None


DEFAULT_SETTINGS = MessageSettings(
    language=DEFAULT_LANGUAGE,
    from_address=None,
    from_name=None,
    reply_to=None,
    signature=None,
    allow_unregistered_recipients=False,
)


@dataclass(frozen=True)
class MailChanges:
    """A partial update of the mail settings: :data:`UNSET` leaves a field, ``None`` clears
    it (``allow_unregistered_recipients`` goes back to false)."""

    from_address: str | Unset | None = UNSET
    from_name: str | Unset | None = UNSET
    reply_to: str | Unset | None = UNSET
    signature: str | Unset | None = UNSET
    allow_unregistered_recipients: bool | Unset | None = UNSET
    mail_channel_id: int | Unset | None = UNSET


def invalid(field: str, message: str) -> ValidationFailed:
    """The 422 for one field: ``"<field>: <message>"`` and the field in ``details``."""
    return ValidationFailed(
        Sentence("{field}: {message}", field=field, message=message),
        details=[{"field": field, "message": message, "type": "value_error"}],
    )


def clean_line(field: str, value: str | None, limit: int) -> str | None:
    """One line of text, trimmed; blank becomes ``None``.

    Raises :class:`ValidationFailed` naming ``field`` for a line break or other control
    character, or for more than ``limit`` characters.
    """
    if value is None or not value.strip():
        return None
    value = value.strip()
    if any(unicodedata.category(char) in _LINE_BREAKING for char in value):
        raise invalid(field, "must be one line of text without line breaks or control characters")
    if len(value) > limit:
        raise _too_long(field, value, limit)
    return value


def clean_text(field: str, value: str | None, limit: int) -> str | None:
    """Free text that may span lines, trailing space trimmed; blank becomes ``None``.

    Raises :class:`ValidationFailed` naming ``field`` for more than ``limit`` characters
    (control characters are refused for every field by the input policy,
    ``nabat/api/input_policy.py``).
    """
    if value is None or not value.strip():
        return None
    value = value.rstrip()
    if len(value) > limit:
        raise _too_long(field, value, limit)
    return value


def _too_long(field: str, value: str, limit: int) -> ValidationFailed:
    return invalid(
        field,
        Sentence(
            "must be at most {most} characters (it has {length})", most=limit, length=len(value)
        ),
    )


def _address(field: str, value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    try:
        return normalise_email(value)
    except ValueError as exc:
        raise invalid(field, exc.args[0]) from None


def check_language(language: str | None) -> str:
    """The language code ("ru" or "en", any case); ``None`` means the default, "ru".

    Raises :class:`ValidationFailed` naming ``language`` otherwise.
    """
    if language is None:
        return DEFAULT_LANGUAGE
    code = language.strip().lower()
    if code not in LANGUAGES:
        raise invalid(
            "language",
            Sentence(
                "{language!r} is not a language of the default templates; use {languages}",
                language=language,
                languages=either([repr(code) for code in LANGUAGES]),
            ),
        )
    return code


def _view(row: ProjectSettings | None) -> MessageSettings:
    if row is None:
        return DEFAULT_SETTINGS
    return MessageSettings(
        language=row.language,
        from_address=row.from_address,
        from_name=row.from_name,
        reply_to=row.reply_to,
        signature=row.signature,
        allow_unregistered_recipients=row.allow_unregistered_recipients,
        mail_channel_id=row.mail_channel_id,
    )


async def message_settings(
    session: AsyncSession, project_ids: Collection[int]
) -> dict[int, MessageSettings]:
    """The settings of each project asked for, in one query.

    Every id is in the result; a project that never saved settings gets the defaults.
    """
    if not project_ids:
        return {}
    rows = await session.scalars(
        select(ProjectSettings).where(ProjectSettings.project_id.in_(set(project_ids)))
    )
    found = {row.project_id: _view(row) for row in rows}
    return {project_id: found.get(project_id, DEFAULT_SETTINGS) for project_id in project_ids}


async def settings_of(session: AsyncSession, project_id: int) -> MessageSettings:
    """One project's settings (the defaults when it never saved any)."""
    return _view(await session.get(ProjectSettings, project_id))


# The mail settings form's mandatory fields (seed 003), by API name.
_MAIL_FORM = ("fromAddress", "fromName", "replyTo")


def incomplete_mail_form(s: MessageSettings) -> list[str]:
    """The form's mandatory fields left empty while another of them is set.

    Seed 003 makes From, sender name and Reply-To mandatory on the project's mail settings
    form; a project that sets none of them has no mail settings, which is allowed (a
    channel's own ``fromEmail`` is then used). Returns their API names in form order.
    """
    values = dict(zip(_MAIL_FORM, (s.from_address, s.from_name, s.reply_to), strict=True))
    if not any(values.values()):
        return []
    return [name for name, value in values.items() if not value]


_INCOMPLETE = {
    "ru": "адрес отправителя (From), имя отправителя и обратный адрес (Reply-To) "
    "заполняются вместе; не заполнено: {fields}",
    "en": "the From address, sender name and Reply-To are set together; missing: {fields}",
}


def _refuse_incomplete(s: MessageSettings) -> None:
    missing = incomplete_mail_form(s)
    if not missing:
        return
    fields = ", ".join(missing)
    # Worded in the project's language for the API, as it always was; the console says it
    # in its visitor's language from the English template.
    worded = _INCOMPLETE.get(s.language, _INCOMPLETE["en"]).format(fields=fields)
    message = Sentence.worded(worded, _INCOMPLETE["en"], {"fields": fields})
    raise ValidationFailed(
        message,
        details=[{"field": name, "message": message, "type": "missing"} for name in missing],
    )


def _checked(changes: MailChanges, current: MessageSettings) -> MessageSettings:
    updated = current
    if not isinstance(changes.from_address, Unset):
        updated = replace(updated, from_address=_address("fromAddress", changes.from_address))
    if not isinstance(changes.from_name, Unset):
        updated = replace(
            updated, from_name=clean_line("fromName", changes.from_name, FROM_NAME_MAX)
        )
    if not isinstance(changes.reply_to, Unset):
        updated = replace(updated, reply_to=_address("replyTo", changes.reply_to))
    if not isinstance(changes.signature, Unset):
        updated = replace(
            updated, signature=clean_text("signature", changes.signature, SIGNATURE_MAX)
        )
    if not isinstance(changes.allow_unregistered_recipients, Unset):
        updated = replace(
            updated, allow_unregistered_recipients=bool(changes.allow_unregistered_recipients)
        )
    return updated


async def update_mail(
    session: AsyncSession, clock: Clock, project_id: int, changes: MailChanges
) -> MessageSettings:
    """Apply a partial update of the mail settings and return them all; the caller commits.

    Raises :class:`ValidationFailed` naming the first bad field, or every mandatory
    field (From, sender name, Reply-To) the update would leave empty beside one that is
    set (seed 003), or a mail connection that is not an enabled e-mail channel of the
    project; nothing is saved then.
    """
    row = await session.get(ProjectSettings, project_id)
    updated = _checked(changes, _view(row))
    _refuse_incomplete(updated)
    if not isinstance(changes.mail_channel_id, Unset):
        connection = changes.mail_channel_id
        if connection is not None:
            connection = await checked_connection(session, project_id, connection)
        updated = replace(updated, mail_channel_id=connection)
    return await _save(session, clock, project_id, row, updated)


async def update_language(
    session: AsyncSession, clock: Clock, project_id: int, language: str | None
) -> MessageSettings:
    """Set the language of the project's default templates; the caller commits.

    ``None`` goes back to the default ("ru"). Raises :class:`ValidationFailed` for any
    language but "ru" or "en".
    """
    row = await session.get(ProjectSettings, project_id)
    updated = replace(_view(row), language=check_language(language))
    return await _save(session, clock, project_id, row, updated)


async def _save(
    session: AsyncSession,
    clock: Clock,
    project_id: int,
    row: ProjectSettings | None,
    settings: MessageSettings,
) -> MessageSettings:
    if row is None:
        row = ProjectSettings(project_id=project_id)
        session.add(row)
    row.language = settings.language
    row.from_address = settings.from_address
    row.from_name = settings.from_name
    row.reply_to = settings.reply_to
    row.signature = settings.signature
    row.allow_unregistered_recipients = settings.allow_unregistered_recipients
    row.mail_channel_id = settings.mail_channel_id
    row.updated_at = clock.now()
    try:
        # Flushed here, not at the caller's commit, so that a racing first save is
        # refused while this use-case can still answer with a Conflict.
        await session.flush()
    except IntegrityError as exc:
        # A project's first save racing another: both insert the row, the primary key
        # lets one through. Saving again would silently drop one caller's change.
        await session.rollback()
        raise Conflict(
            "another request saved this project's settings at the same moment; "
            "read them and send your change again"
        ) from exc
    # Ingest caches the language and recipient policy; the next event must see this once
    # it is committed.
    after_commit(session, partial(CONTEXTS.forget, session, project_id))
    return settings
