"""A project's message templates: create, read, change, delete, checked at save; preview;
and the choice of template the delivery worker makes for each message."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from nabat.catalogue import LANGUAGES
from nabat.clock import Clock
from nabat.db.ids import as_id
from nabat.db.unit import after_commit
from nabat.errors import Conflict, NotFound, ValidationFailed
from nabat.models.account import Project, User
from nabat.models.template import ProjectSettings, Template
from nabat.sentences import Sentence, either
from nabat.services.routing_cache import CONTEXTS
from nabat.templating import (
    KINDS,
    Rendered,
    TemplateSource,
    check_template,
    default_template,
    render_message,
    sample_event,
)

NAME_MAX = 200
TYPE_MAX = 100
# The longest template source a field may hold; a rendered field is capped separately.
SOURCE_MAX = 65_536
SUBJECT_SOURCE_MAX = 2_000
# What a preview shows when it is told neither a type nor a saved template with one.
PREVIEW_TYPE = "service.down"
DEFAULT_LANGUAGE = "ru"


@dataclass(frozen=True)
class TemplateFields:
    """Everything a template is made of, as saved.

    ``type_key`` None makes a template usable only by id (from a rule action);
    ``language`` None makes it serve both languages.
    """

    name: str | None
    channel_kind: str
    type_key: str | None
    language: str | None
    subject: str | None
    text: str
    html: str | None


# The names :meth:`TemplateService.update` accepts in its changes.
FIELD_NAMES = frozenset(field.name for field in fields(TemplateFields))


@dataclass(frozen=True)
class PreviewRequest:
    """What to preview: a saved template (``template_id``), an inline one (``text`` with
    optional ``subject`` and ``html``), or neither: the built-in default.

    ``None`` fields fall back to the saved template's own, then to the project's
    language and a ``service.down`` sample event; ``event`` is merged into the sample.
    """

    template_id: int | None = None
    subject: str | None = None
    text: str | None = None
    html: str | None = None
    channel_kind: str | None = None
    type_key: str | None = None
    language: str | None = None
    event: dict[str, Any] | None = None


@dataclass(frozen=True)
class Preview:
    """A rendered preview and what it was rendered with."""

    rendered: Rendered
    type_key: str
    channel_kind: str
    language: str


def invalid(field: str, message: str) -> ValidationFailed:
    """The 422 for one field of a template."""
    return ValidationFailed(
        Sentence("{field}: {message}", field=field, message=message),
        details=[{"field": field, "message": message, "type": "value_error"}],
    )


def source_of(row: Template) -> TemplateSource:
    """What a saved template says."""
    return TemplateSource(subject=row.subject, text=row.text, html=row.html)


def choose_template(
    rows: Sequence[Template],
    *,
    type_key: str,
    kind: str,
    language: str,
    template_id: int | None,
) -> TemplateSource | None:
    """The project's template for one message, or None for the built-in default.

    Precedence: the template ``template_id`` names (a rule action's override) when it is
    among ``rows`` and of the same ``kind``; then the template for (``type_key``,
    ``kind``, ``language``); then the one for (``type_key``, ``kind``) in any language.
    Among equals (saved concurrently) the oldest wins, so the choice is stable.
    """
    ordered = sorted(rows, key=lambda row: row.id)
    if template_id is not None:
        for row in ordered:
            if row.id == template_id and row.channel_kind == kind:
                return source_of(row)
    for wanted in (language, None):
        for row in ordered:
            if row.type_key == type_key and row.channel_kind == kind and row.language == wanted:
                return source_of(row)
    return None


def check_language(language: str | None, field: str = "language") -> str | None:
    """``language`` lower-cased when it is one of the catalogue's; None stays None."""
    if language is None or not language.strip():
        return None
    code = language.strip().lower()
    if code not in LANGUAGES:
        raise invalid(
            field,
            Sentence(
                "{language!r} is not supported; use {languages}",
                language=language,
                languages=either(LANGUAGES),
            ),
        )
    return code


def check_kind(kind: str | None, field: str = "channelKind") -> str:
    """``kind`` lower-cased when it is a channel kind; a 422 naming ``field`` otherwise."""
    code = (kind or "").strip().lower()
    if code not in KINDS:
        raise invalid(
            field,
            Sentence(
                "{kind!r} is not a channel kind; use one of: {kinds}",
                kind=kind,
                kinds=", ".join(KINDS),
            ),
        )
    return code


def _optional(field: str, value: str | None, limit: int) -> str | None:
    if value is None or not value.strip():
        return None
    if len(value) > limit:
        raise invalid(
            field,
            Sentence(
                "must be at most {most:,} characters (it has {length:,})",
                most=limit,
                length=len(value),
            ),
        )
    return value


def _checked(values: TemplateFields) -> TemplateFields:
    """The fields normalised, or a 422 naming the first problem; the sources are then
    compiled and trial-rendered (:func:`nabat.templating.check_template`)."""
    kind = check_kind(values.channel_kind)
    type_key = _optional("type", values.type_key, TYPE_MAX)
    if type_key is not None:
        type_key = type_key.strip()
        if any(char.isspace() for char in type_key):
            raise invalid("type", "a notification type key has no spaces (e.g. 'service.down')")
    language = check_language(values.language)
    subject = _optional("subject", values.subject, SUBJECT_SOURCE_MAX)
    text = _optional("text", values.text, SOURCE_MAX)
    html = _optional("html", values.html, SOURCE_MAX)
    if text is None:
        raise invalid("text", "must not be empty: every message has a text part")
    if kind == "email" and subject is None:
        raise invalid("subject", "an e-mail template needs a subject")
    if kind != "email" and html is not None:
        raise invalid(
            "html", Sentence("only e-mail templates have an HTML part, not {kind} ones", kind=kind)
        )
    name = (values.name or "").strip() or " · ".join(
        part for part in (type_key or "custom", kind, language) if part
    )
    if len(name) > NAME_MAX:
        raise invalid("name", Sentence("must be at most {most} characters", most=NAME_MAX))
    check_template(TemplateSource(subject=subject, text=text, html=html))
    return TemplateFields(name, kind, type_key, language, subject, text, html)


def _deep_merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        current = merged.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            merged[key] = _deep_merge(current, value)
        else:
            merged[key] = value
    return merged


def _inline(request: PreviewRequest) -> TemplateSource | None:
    if request.text is None and request.subject is None and request.html is None:
        return None
    if request.text is None or not request.text.strip():
        raise invalid("text", "an inline template needs a text part")
    return TemplateSource(subject=request.subject, text=request.text, html=request.html)


class TemplateService:
    """Template use-cases for one project at a time.

    Changes are flushed to the session, never committed: the caller commits.
    """

    def __init__(self, session: AsyncSession, clock: Clock) -> None:
        self._session = session
        self._clock = clock

    async def list(self, project_id: int) -> list[Template]:
        """The project's templates in creation order."""
        rows = await self._session.scalars(
            select(Template).where(Template.project_id == project_id).order_by(Template.id)
        )
        return list(rows)

    async def get(self, project_id: int, template_id: int) -> Template:
        """One template of the project; another project's is reported missing."""
        row = await self._session.get(Template, template_id) if as_id(template_id) else None
        if row is None or row.project_id != project_id:
            raise NotFound(
                Sentence(
                    "template {id} not found in this project; list templates with "
                    "GET /api/v1/templates",
                    id=template_id,
                )
            )
        return row

    async def create(self, project_id: int, values: TemplateFields) -> Template:
        """Check and save a new template.

        Raises :class:`ValidationFailed` for a bad field or a template that does not
        render (with its line and cause) and :class:`Conflict` when the project already
        has a template for the same type, kind and language.
        """
        values = _checked(values)
        await self._refuse_duplicate(project_id, values, None)
        now = self._clock.now()
        row = Template(project_id=project_id, created_at=now, updated_at=now)
        self._apply(row, values)
        self._session.add(row)
        await self._store(project_id)
        return row

    async def update(self, project_id: int, template_id: int, changes: dict[str, Any]) -> Template:
        """Change some fields (keys of :data:`FIELD_NAMES`) and check the result as a whole.

        Raises as :meth:`create` does, and :class:`NotFound` for another project's id.
        """
        row = await self.get(project_id, template_id)
        current = TemplateFields(
            row.name, row.channel_kind, row.type_key, row.language, row.subject, row.text, row.html
        )
        values = _checked(replace(current, **changes))
        await self._refuse_duplicate(project_id, values, row.id)
        self._apply(row, values)
        row.updated_at = self._clock.now()
        await self._store(project_id)
        return row

    async def delete(self, project_id: int, template_id: int) -> None:
        """Delete a template; messages it served get the default again."""
        await self._session.delete(await self.get(project_id, template_id))
        await self._store(project_id)

    async def _store(self, project_id: int) -> None:
        await self._session.flush()
        # The worker caches the project's templates; the next send must see this change
        # once it is committed.
        after_commit(self._session, partial(CONTEXTS.forget, self._session, project_id))

    async def language_of(self, project_id: int) -> str:
        """The project's message language ("ru" when it never chose one)."""
        settings = await self._session.get(ProjectSettings, project_id)
        return settings.language if settings else DEFAULT_LANGUAGE

    async def preview(
        self, project_id: int, request: PreviewRequest, user_id: int | None
    ) -> Preview:
        """Render a template against a sample event, as the worker would.

        An inline source is checked as a save would check it. The caller (when a user)
        is the recipient; the project's name and signature are used. Raises
        :class:`ValidationFailed` with the line and cause for a broken template and
        :class:`NotFound` for an unknown ``template_id``.
        """
        inline = _inline(request)
        row = None
        if request.template_id is not None:
            if inline is not None:
                raise invalid("templateId", "give either templateId or an inline template")
            row = await self.get(project_id, request.template_id)
        settings = await self._session.get(ProjectSettings, project_id)
        language = (
            check_language(request.language)
            or (row.language if row else None)
            or await self.language_of(project_id)
        )
        type_key = (request.type_key or "").strip() or (row.type_key if row else None)
        type_key = type_key or PREVIEW_TYPE
        if request.channel_kind is not None:
            kind = check_kind(request.channel_kind)
        elif row is not None:
            kind = row.channel_kind
        else:
            raise invalid("channelKind", "required with an inline template: email, chat or sms")
        if row is not None:
            source = source_of(row)
        elif inline is not None:
            source = inline
            check_template(source)
        else:
            source = default_template(type_key, kind, language)
        event = _deep_merge(sample_event(type_key, language), request.event or {})
        event["type"] = type_key
        project = await self._session.get(Project, project_id)
        user = await self._session.get(User, user_id) if user_id is not None else None
        rendered = render_message(
            event=event,
            kind=kind,
            language=language,
            template=source,
            signature=settings.signature if settings else None,
            recipient={"name": user.display_name or user.username, "address": user.email}
            if user
            else None,
            project={"name": project.name} if project else None,
        )
        return Preview(rendered, type_key, kind, language)

    async def _refuse_duplicate(
        self, project_id: int, values: TemplateFields, own_id: int | None
    ) -> None:
        # Checked here, not by a unique index: two templates for the same slot would make
        # the choice at delivery depend on which was saved first.
        if values.type_key is None:
            return
        language = (
            Template.language.is_(None)
            if values.language is None
            else Template.language == values.language
        )
        rows = await self._session.scalars(
            select(Template).where(
                Template.project_id == project_id,
                Template.type_key == values.type_key,
                Template.channel_kind == values.channel_kind,
                language,
            )
        )
        for row in rows:
            if row.id != own_id:
                if values.language:
                    clash = Sentence(
                        "template {id} ({name!r}) already serves {type} on {kind} in "
                        "{language}; change that one instead",
                        id=row.id,
                        name=row.name,
                        type=values.type_key,
                        kind=values.channel_kind,
                        language=values.language,
                    )
                else:
                    clash = Sentence(
                        "template {id} ({name!r}) already serves {type} on {kind} in any "
                        "language; change that one instead",
                        id=row.id,
                        name=row.name,
                        type=values.type_key,
                        kind=values.channel_kind,
                    )
                raise Conflict(clash)

    @staticmethod
    def _apply(row: Template, values: TemplateFields) -> None:
        row.name = values.name or ""
        row.channel_kind = values.channel_kind
        row.type_key = values.type_key
        row.language = values.language
        row.subject = values.subject
        row.text = values.text
        row.html = values.html
