"""The instance's accounts, for instance administrators: the list, and a new account
(the service behind ``POST /api/v1/users``)."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response

from nabat.api.deps import SessionDep, StateDep
from nabat.errors import NabatError
from nabat.services import accounts
from nabat.web.pages.settings import form_errors
from nabat.web.render import page
from nabat.web.session import FormDep, Refused, SignedIn, Visitor

router = APIRouter(include_in_schema=False)

FIELDS = ("username", "email", "displayName", "password")


def _administrator(visitor: Visitor) -> None:
    if visitor.user is None or not visitor.user.is_superuser:
        raise Refused("users.only_administrators")


async def _users_page(
    visitor: Visitor,
    session: SessionDep,
    *,
    typed: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    created: str = "",
    status: int = 200,
) -> Response:
    return page(
        visitor,
        "users/users.html",
        section="users",
        status=status,
        users=await accounts.list_users(session),
        typed=typed or {},
        errors=errors or {},
        created=created,
    )


@router.get("/users")
async def users_page(visitor: SignedIn, session: SessionDep, created: str = "") -> Response:
    """Every account, and the form for a new one."""
    _administrator(visitor)
    return await _users_page(visitor, session, created=created)


@router.post("/users")
async def create_user(
    visitor: SignedIn, form: FormDep, state: StateDep, session: SessionDep
) -> Response:
    """Make an account; the page again with the errors next to their fields."""
    _administrator(visitor)
    try:
        user = await accounts.create_user(
            session,
            state.clock,
            username=form.get("username", ""),
            email=form.get("email", ""),
            password=form.get("password", ""),
            display_name=form.get("displayName", ""),
            is_superuser=form.get("isSuperuser") == "on",
        )
    except NabatError as exc:
        await session.rollback()
        typed = {name: value for name, value in form.items() if name != "password"}
        errors = form_errors(visitor, exc, FIELDS)
        return await _users_page(visitor, session, typed=typed, errors=errors, status=422)
    await session.commit()
    return RedirectResponse(f"/users?created={user.username}", status_code=303)
