"""``/api/v1/templates``: a project's message templates, the built-in defaults, previews."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from nabat.api.deps import CurrentPrincipal, SessionDep, StateDep
from nabat.models.template import Template
from nabat.schemas.channels import DeletedOut
from nabat.schemas.templates import (
    DefaultTemplateOut,
    PreviewIn,
    PreviewOut,
    TemplateCreate,
    TemplateOut,
    TemplateUpdate,
)
from nabat.services.access import Scope
from nabat.services.templates import (
    PreviewRequest,
    TemplateFields,
    TemplateService,
    check_kind,
    check_language,
)
from nabat.templating import default_template

router = APIRouter(prefix="/api/v1/templates", tags=["templates"])

# Wire names of the fields a PUT may change, to the service's names.
_CHANGEABLE = {
    "name": "name",
    "channel_kind": "channel_kind",
    "type": "type_key",
    "language": "language",
    "subject": "subject",
    "text": "text",
    "html": "html",
}


def _out(row: Template) -> TemplateOut:
    return TemplateOut(
        id=row.id,
        name=row.name,
        channel_kind=row.channel_kind,
        type=row.type_key,
        language=row.language,
        subject=row.subject,
        text=row.text,
        html=row.html,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _service(state: StateDep, session: SessionDep) -> TemplateService:
    return TemplateService(session, state.clock)


@router.get("", response_model=list[TemplateOut])
async def list_templates(
    caller: CurrentPrincipal, state: StateDep, session: SessionDep
) -> list[TemplateOut]:
    """The project's templates."""
    caller.require(Scope.ROUTING_READ)
    return [_out(row) for row in await _service(state, session).list(caller.project_id)]


@router.post("", status_code=201, response_model=TemplateOut)
async def create_template(
    body: TemplateCreate, caller: CurrentPrincipal, state: StateDep, session: SessionDep
) -> TemplateOut:
    """Save a template; a broken one is refused (422) with its field, line and cause."""
    caller.require(Scope.ROUTING_WRITE)
    values = TemplateFields(
        name=body.name,
        channel_kind=body.channel_kind,
        type_key=body.type,
        language=body.language,
        subject=body.subject,
        text=body.text,
        html=body.html,
    )
    row = await _service(state, session).create(caller.project_id, values)
    await session.commit()
    return _out(row)


@router.get("/defaults", response_model=DefaultTemplateOut)
async def default_source(
    caller: CurrentPrincipal,
    state: StateDep,
    session: SessionDep,
    type_key: Annotated[str, Query(alias="type", max_length=100)],
    channel_kind: Annotated[str, Query(alias="channelKind")],
    language: Annotated[str | None, Query()] = None,
) -> DefaultTemplateOut:
    """The built-in template for a type on a channel kind (language: the project's)."""
    caller.require(Scope.ROUTING_READ)
    kind = check_kind(channel_kind)
    code = check_language(language) or await _service(state, session).language_of(caller.project_id)
    source = default_template(type_key.strip(), kind, code)
    return DefaultTemplateOut(
        type=type_key.strip(),
        channel_kind=kind,
        language=code,
        subject=source.subject,
        text=source.text,
        html=source.html,
    )


@router.post("/preview", response_model=PreviewOut)
async def preview_template(
    body: PreviewIn, caller: CurrentPrincipal, state: StateDep, session: SessionDep
) -> PreviewOut:
    """Render a saved, inline or default template against a sample event."""
    caller.require(Scope.ROUTING_READ)
    request = PreviewRequest(
        template_id=body.template_id,
        subject=body.subject,
        text=body.text,
        html=body.html,
        channel_kind=body.channel_kind,
        type_key=body.type,
        language=body.language,
        event=body.event,
    )
    preview = await _service(state, session).preview(caller.project_id, request, caller.user_id)
    return PreviewOut(
        subject=preview.rendered.subject,
        text=preview.rendered.text,
        html=preview.rendered.html,
        type=preview.type_key,
        channel_kind=preview.channel_kind,
        language=preview.language,
    )


@router.get("/{template_id:int}", response_model=TemplateOut)
async def get_template(
    template_id: int, caller: CurrentPrincipal, state: StateDep, session: SessionDep
) -> TemplateOut:
    """One template."""
    caller.require(Scope.ROUTING_READ)
    return _out(await _service(state, session).get(caller.project_id, template_id))


@router.put("/{template_id:int}", response_model=TemplateOut)
async def update_template(
    template_id: int,
    body: TemplateUpdate,
    caller: CurrentPrincipal,
    state: StateDep,
    session: SessionDep,
) -> TemplateOut:
    """Change any subset of the fields; the result is checked as a new template would be."""
    caller.require(Scope.ROUTING_WRITE)
    given = body.model_dump(include=set(_CHANGEABLE) & body.model_fields_set)
    changes = {_CHANGEABLE[key]: value for key, value in given.items()}
    row = await _service(state, session).update(caller.project_id, template_id, changes)
    await session.commit()
    return _out(row)


@router.delete("/{template_id:int}", response_model=DeletedOut)
async def delete_template(
    template_id: int, caller: CurrentPrincipal, state: StateDep, session: SessionDep
) -> DeletedOut:
    """Delete a template; its messages get the default wording again."""
    caller.require(Scope.ROUTING_WRITE)
    await _service(state, session).delete(caller.project_id, template_id)
    await session.commit()
    return DeletedOut(message=f"template {template_id} deleted")
