"""Seed 003's «Действия по событиям»: one switch per notification type, all on until a
project switches one off; the same service as ``PUT /api/v1/notification-types/{key}``."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response

from nabat.api.deps import SessionDep, StateDep
from nabat.errors import NabatError, NotFound
from nabat.services import notification_types
from nabat.services.access import Scope
from nabat.services.notification_types import TypeChanges
from nabat.web.render import page
from nabat.web.session import FormDep, Refused, SignedIn, Visitor

router = APIRouter(include_in_schema=False)


async def _types_page(
    visitor: Visitor,
    session: SessionDep,
    *,
    changed: str = "",
    error: str | None = None,
    status: int = 200,
) -> Response:
    principal = visitor.require(Scope.ROUTING_READ)
    types = await notification_types.list_types(session, principal.project_id)
    return page(
        visitor,
        "types/list.html",
        section="types",
        status=status,
        types=types,
        may_switch=visitor.can(Scope.ROUTING_WRITE),
        changed=changed,
        error=error,
    )


@router.get("/notification-types")
async def types_page(visitor: SignedIn, session: SessionDep, changed: str = "") -> Response:
    """Every type with its switch (a viewer sees whether each is on, without switches)."""
    return await _types_page(visitor, session, changed=changed[:100])


@router.post("/notification-types/{key}")
async def switch_type(
    key: str, visitor: SignedIn, form: FormDep, state: StateDep, session: SessionDep
) -> Response:
    """Switch one type on (``enabled=on``) or off (``enabled=off``), then back to the list."""
    principal = visitor.require(Scope.ROUTING_WRITE)
    wanted = form.get("enabled", "")
    if wanted not in ("on", "off"):
        error = visitor.t("types.bad_switch")
        return await _types_page(visitor, session, error=error, status=422)
    try:
        await notification_types.update_type(
            session, state.clock, principal.project_id, key, TypeChanges(enabled=wanted == "on")
        )
    except NotFound:
        raise Refused("error.not_found", 404) from None
    except NabatError as exc:
        await session.rollback()
        error = visitor.t("types.not_switched", reason=visitor.say(exc.message))
        return await _types_page(visitor, session, error=error, status=exc.status_code)
    await session.commit()
    return RedirectResponse(
        f"/notification-types?changed={quote(key)}#type-{quote(key)}", status_code=303
    )
