"""Message templates: the list, a form per template with a preview against a sample
event, and delete.

The Preview button posts the form to ``/templates/preview``, which shows the form again
with the rendered message below; ``static/preview.js`` posts the same form as you type
and asks for the preview part only (``fragment``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from nabat.api.deps import SessionDep, StateDep
from nabat.catalogue import CATALOGUE, LANGUAGES
from nabat.errors import Conflict, NabatError
from nabat.models.template import Template
from nabat.services.access import Scope
from nabat.services.templates import (
    PreviewRequest,
    TemplateFields,
    TemplateService,
    check_kind,
    check_language,
)
from nabat.state import AppState
from nabat.templating import KINDS, Rendered, default_template
from nabat.web.pages.silences import FormProblem, refusal
from nabat.web.render import page
from nabat.web.session import FormDep, SignedIn, Visitor

router = APIRouter(include_in_schema=False)

_FIELDS = {"channelKind": "channel_kind", "templateId": "form", "event": "sample"}
_FORM_FIELDS = frozenset({"name", "type", "language", "subject", "text", "html"})


def _values(row: Template) -> dict[str, str]:
    """A saved template as the form's fields."""
    return {
        "name": row.name,
        "type": row.type_key or "",
        "channel_kind": row.channel_kind,
        "language": row.language or "",
        "subject": row.subject or "",
        "text": row.text,
        "html": row.html or "",
    }


def _given(form: dict[str, str]) -> TemplateFields:
    """The posted form as the service's fields (empty optional fields: None)."""
    return TemplateFields(
        name=form.get("name", "").strip() or None,
        channel_kind=form.get("channel_kind", ""),
        type_key=form.get("type", "").strip() or None,
        language=form.get("language", "").strip() or None,
        subject=form.get("subject") or None,
        text=form.get("text", ""),
        html=form.get("html") or None,
    )


def _sample(visitor: Visitor, text: str) -> dict[str, Any]:
    """Changes to the sample event, one ``key = value`` per line; a dotted key reaches
    into an object (``labels.env = prod``, ``subject.status = Done``)."""
    event: dict[str, Any] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        key, equals, value = line.partition("=")
        path = [part.strip() for part in key.split(".")]
        if not equals or not all(path):
            raise FormProblem("sample", visitor.t("templates.error.sample_line", line=number))
        place = event
        for part in path[:-1]:
            if not isinstance(place.get(part), dict):
                place[part] = {}
            place = place[part]
        place[path[-1]] = value.strip()
    return event


def _error(visitor: Visitor, exc: NabatError) -> dict[str, str]:
    """A refused save or preview as the error next to its field."""
    path, message = refusal(visitor, exc)
    if isinstance(exc, Conflict):
        return {"type": message}
    return {_FIELDS.get(path, path if path in _FORM_FIELDS else "form"): message}


async def _form(
    visitor: Visitor,
    *,
    values: dict[str, str],
    errors: dict[str, str],
    template: Template | None,
    preview: Rendered | None = None,
    status: int = 200,
) -> Response:
    return page(
        visitor,
        "message_templates/form.html",
        section="templates",
        status=status,
        values=values,
        errors=errors,
        saved=template,
        preview=preview,
        kinds=KINDS,
        languages_of=LANGUAGES,
        type_keys=[info.key for info in CATALOGUE],
    )


async def _template(
    visitor: Visitor, state: AppState, session: AsyncSession, template_id: int
) -> Template:
    principal = visitor.require(Scope.ROUTING_READ)
    return await TemplateService(session, state.clock).get(principal.project_id, template_id)


async def _save(
    visitor: Visitor, state: AppState, session: AsyncSession, form: dict[str, str], ref: int
) -> Response:
    """Create (``ref`` 0) or change a template; a broken one is shown again, unsaved."""
    principal = visitor.require(Scope.ROUTING_WRITE)
    service = TemplateService(session, state.clock)
    template = await _template(visitor, state, session, ref) if ref else None
    given = _given(form)
    try:
        if template is None:
            await service.create(principal.project_id, given)
        else:
            changes = {name: getattr(given, name) for name in TemplateFields.__dataclass_fields__}
            await service.update(principal.project_id, template.id, changes)
    except NabatError as exc:
        errors = _error(visitor, exc)
        return await _form(
            visitor, values=form, errors=errors, template=template, status=exc.status_code
        )
    await session.commit()
    return RedirectResponse("/templates", status_code=303)


@router.get("/templates")
async def templates_page(visitor: SignedIn, state: StateDep, session: SessionDep) -> Response:
    """The project's templates; messages without one get the built-in wording."""
    principal = visitor.require(Scope.ROUTING_READ)
    rows = await TemplateService(session, state.clock).list(principal.project_id)
    return page(
        visitor,
        "message_templates/list.html",
        section="templates",
        rows=rows,
        can_write=visitor.can(Scope.ROUTING_WRITE),
    )


@router.get("/templates/new")
async def new_template_page(
    visitor: SignedIn,
    state: StateDep,
    session: SessionDep,
    type_key: Annotated[str, Query(alias="type", max_length=100)] = "service.down",
    kind: Annotated[str, Query(max_length=20)] = "chat",
    language: Annotated[str, Query(max_length=5)] = "",
) -> Response:
    """A new template, filled with the built-in one for the type, kind and language."""
    principal = visitor.require(Scope.ROUTING_WRITE)
    try:
        code = check_kind(kind)
        chosen = check_language(language)
    except NabatError:
        code, chosen = "chat", None
    shown = chosen or await TemplateService(session, state.clock).language_of(principal.project_id)
    source = default_template(type_key.strip() or "service.down", code, shown)
    values = {
        "type": type_key.strip(),
        "channel_kind": code,
        "language": chosen or "",
        "subject": source.subject or "",
        "text": source.text,
        "html": source.html or "",
    }
    return await _form(visitor, values=values, errors={}, template=None)


@router.post("/templates")
async def create_template(
    visitor: SignedIn, form: FormDep, state: StateDep, session: SessionDep
) -> Response:
    """Save a new template."""
    return await _save(visitor, state, session, form, 0)


@router.post("/templates/preview")
async def preview_template(
    visitor: SignedIn, form: FormDep, state: StateDep, session: SessionDep
) -> Response:
    """The form again with the message it renders for a sample event below it (or only
    that part, for ``fragment``); nothing is saved."""
    principal = visitor.require(Scope.ROUTING_WRITE)
    ref = form.get("template_id", "")
    template = await _template(visitor, state, session, int(ref)) if ref.isdigit() else None
    given = _given(form)
    rendered: Rendered | None = None
    errors: dict[str, str] = {}
    status = 200
    try:
        request = PreviewRequest(
            subject=given.subject,
            text=given.text,
            html=given.html,
            channel_kind=given.channel_kind,
            type_key=given.type_key,
            language=given.language,
            event=_sample(visitor, form.get("sample", "")),
        )
        service = TemplateService(session, state.clock)
        preview = await service.preview(principal.project_id, request, principal.user_id)
        rendered = preview.rendered
    except FormProblem as problem:
        errors, status = {problem.field: problem.message}, 422
    except NabatError as exc:
        errors, status = _error(visitor, exc), exc.status_code
    if form.get("fragment"):
        shown = "message_templates/preview.html"
        return page(visitor, shown, status=status, preview=rendered, errors=errors)
    return await _form(
        visitor, values=form, errors=errors, template=template, preview=rendered, status=status
    )


@router.get("/templates/{template_id:int}")
async def template_page(
    template_id: int, visitor: SignedIn, state: StateDep, session: SessionDep
) -> Response:
    """One template: its form for those who may change it; else its source and how it
    renders for a sample event."""
    row = await _template(visitor, state, session, template_id)
    if visitor.can(Scope.ROUTING_WRITE):
        return await _form(visitor, values=_values(row), errors={}, template=row)
    assert visitor.principal is not None
    service = TemplateService(session, state.clock)
    rendered: Rendered | None = None
    errors: dict[str, str] = {}
    try:
        request = PreviewRequest(template_id=row.id)
        rendered = (
            await service.preview(row.project_id, request, visitor.principal.user_id)
        ).rendered
    except NabatError as exc:
        # Saved before a stricter check came in: show why instead of failing the page.
        errors = _error(visitor, exc)
    return page(
        visitor,
        "message_templates/detail.html",
        section="templates",
        saved=row,
        preview=rendered,
        errors=errors,
    )


@router.post("/templates/{template_id:int}")
async def update_template(
    template_id: int, visitor: SignedIn, form: FormDep, state: StateDep, session: SessionDep
) -> Response:
    """Save changes to a template."""
    return await _save(visitor, state, session, form, template_id)


@router.post("/templates/{template_id:int}/delete")
async def delete_template(
    template_id: int, visitor: SignedIn, form: FormDep, state: StateDep, session: SessionDep
) -> Response:
    """Delete a template (the form asks first); its messages get the default wording."""
    principal = visitor.require(Scope.ROUTING_WRITE)
    await TemplateService(session, state.clock).delete(principal.project_id, template_id)
    await session.commit()
    return RedirectResponse("/templates", status_code=303)
