"""A new channel: the type picked from the registry, then that type's generated form."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response

from nabat.api.deps import SessionDep, StateDep
from nabat.channels.registry import channel_types
from nabat.errors import NabatError
from nabat.services.access import Scope
from nabat.web.forms import place_errors, posted, shown
from nabat.web.pages.channels import Draft, failed_draft, fields_of, service, wording
from nabat.web.render import page
from nabat.web.session import FormDep, Refused, SignedIn, Visitor

router = APIRouter(include_in_schema=False)


def new_page(visitor: Visitor, type_name: str, draft: Draft, status: int = 200) -> Response:
    return page(
        visitor,
        "channels/new.html",
        section="channels",
        status=status,
        type_name=type_name,
        draft=draft,
        fields=fields_of(type_name),
        **wording(visitor),
    )


@router.get("/channels/new")
async def new_channel(visitor: SignedIn, type: str | None = None) -> Response:
    """Pick a type (from the registry), then its generated form."""
    visitor.require(Scope.CHANNELS_WRITE)
    if type not in channel_types():
        return page(
            visitor,
            "channels/pick.html",
            section="channels",
            types=channel_types(),
            unknown=type,
            **wording(visitor),
        )
    assert type is not None
    return new_page(visitor, type, Draft(config=shown(fields_of(type), None)))


@router.post("/channels/new")
async def create_channel(
    visitor: SignedIn, form: FormDep, state: StateDep, session: SessionDep
) -> Response:
    """Create the channel from its form; on errors the form again, as typed."""
    principal = visitor.require(Scope.CHANNELS_WRITE)
    type_name = form.get("type", "")
    if type_name not in channel_types():
        raise Refused("error.not_found", 404)
    fields = fields_of(type_name)
    configuration, config = posted(fields, form, stored=None)
    draft = failed_draft(form, config)
    if not config.errors:
        try:
            view = await service(state, session).create(
                principal.project_id,
                name=draft.name,
                type_name=type_name,
                configuration=configuration,
                enabled=draft.enabled,
                is_default=draft.is_default,
                check_interval_seconds=draft.check_interval,
            )
        except NabatError as exc:
            await session.rollback()
            draft.general = place_errors(config, exc, fields)
        else:
            await session.commit()
            return RedirectResponse(f"/channels/{view.row.id}?saved=1", status_code=303)
    return new_page(visitor, type_name, draft, status=422)
