"""The project's API keys: the list, a new key (shown once, on the answer to its form)
and revoking one; the services behind ``/api/v1/api-keys``."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response

from nabat.api.deps import SessionDep, StateDep
from nabat.errors import NabatError
from nabat.models.account import ApiKey
from nabat.services import apikeys
from nabat.services.access import DEFAULT_API_KEY_SCOPES, Scope
from nabat.web.pages.settings import GENERAL, form_errors
from nabat.web.render import page
from nabat.web.session import FormDep, SignedIn, Visitor

router = APIRouter(include_in_schema=False)

# Each scope is a checkbox of its own name: the posted form keeps one value per name.
_SCOPE_FIELD = "scope:"


async def _keys_page(
    visitor: Visitor,
    session: SessionDep,
    *,
    created: tuple[ApiKey, str] | None = None,
    typed: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    revoked: str = "",
    status: int = 200,
) -> Response:
    may_manage = visitor.can(Scope.APIKEYS_MANAGE)
    keys = (
        await apikeys.list_api_keys(session, visitor.principal.project_id)
        if (may_manage and visitor.principal is not None)
        else []
    )
    if typed is None:
        chosen = {scope.value for scope in DEFAULT_API_KEY_SCOPES}
        name = ""
    else:
        chosen = {scope.value for scope in Scope if typed.get(_SCOPE_FIELD + scope.value)}
        name = typed.get("name", "")
    answer = page(
        visitor,
        "apikeys/apikeys.html",
        section="apikeys",
        status=status,
        keys=keys,
        may_manage=may_manage,
        scopes=[scope.value for scope in Scope],
        scope_field=_SCOPE_FIELD,
        chosen=chosen,
        name=name,
        created=created,
        errors=errors or {},
        general=GENERAL,
        revoked=revoked,
    )
    if created is not None:
        # The key is in this answer only: no cache may keep it.
        answer.headers["Cache-Control"] = "no-store"
    return answer


@router.get("/api-keys")
async def keys_page(visitor: SignedIn, session: SessionDep, revoked: str = "") -> Response:
    """The project's keys (never the keys themselves) and the form for a new one.

    Listing keys needs ``apikeys:manage`` as in the API; others see a sentence saying so.
    """
    return await _keys_page(visitor, session, revoked=revoked)


@router.post("/api-keys")
async def create_key(
    visitor: SignedIn, form: FormDep, state: StateDep, session: SessionDep
) -> Response:
    """Mint a key; the answer is the only page that ever shows it."""
    principal = visitor.require(Scope.APIKEYS_MANAGE)
    scopes = [scope for scope in Scope if form.get(_SCOPE_FIELD + scope.value)]
    try:
        key, plaintext = await apikeys.create_api_key(
            session, state.clock, creator=principal, name=form.get("name", ""), scopes=scopes
        )
    except NabatError as exc:
        await session.rollback()
        errors = form_errors(visitor, exc, ("name", "scopes"))
        return await _keys_page(visitor, session, typed=form, errors=errors, status=exc.status_code)
    await session.commit()
    return await _keys_page(visitor, session, created=(key, plaintext), status=201)


@router.post("/api-keys/{key_id:int}/revoke")
async def revoke_key(
    key_id: int, visitor: SignedIn, form: FormDep, state: StateDep, session: SessionDep
) -> Response:
    """Revoke a key at once."""
    principal = visitor.require(Scope.APIKEYS_MANAGE)
    try:
        await apikeys.revoke_api_key(session, state.clock, principal.project_id, key_id)
    except NabatError as exc:
        await session.rollback()
        errors = form_errors(visitor, exc, ())
        return await _keys_page(visitor, session, errors=errors, status=exc.status_code)
    await session.commit()
    # After the commit: a request verifying the key meanwhile must not cache it again.
    state.principals.clear()
    return RedirectResponse(f"/api-keys?revoked={key_id}", status_code=303)
