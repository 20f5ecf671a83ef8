"""The project's members and invitations, and the signed-in user's own invitations.

The same services as ``/api/v1/members`` and ``/api/v1/invitations``
(:mod:`nabat.services.members`, :mod:`nabat.services.invitations`). An invitation's
answer says the same whether or not an account answers to the name given.
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response

from nabat.api.deps import SessionDep, StateDep
from nabat.errors import NabatError
from nabat.models.account import Role
from nabat.models.invitation import Invitation
from nabat.services import invitations, members
from nabat.services.access import Scope
from nabat.web.pages.settings import GENERAL, form_errors
from nabat.web.render import page
from nabat.web.session import FormDep, SignedIn, Visitor

router = APIRouter(include_in_schema=False)

_ROLES = [role.value for role in Role]
# What the page says after a change, by the ``done`` query parameter.
_DONE = ("role", "added", "invited", "removed", "withdrawn", "joined", "declined")


async def _members_page(
    visitor: Visitor,
    session: SessionDep,
    state: StateDep,
    *,
    typed: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    done: str = "",
    status: int = 200,
) -> Response:
    principal = visitor.require(Scope.CHANNELS_READ)
    assert visitor.user is not None
    may_manage = visitor.can(Scope.MEMBERS_MANAGE)
    pending = (
        await invitations.pending_in_project(session, state.clock, principal.project_id)
        if may_manage
        else []
    )
    return page(
        visitor,
        "members/members.html",
        section="members",
        status=status,
        members=await members.list_members(session, principal.project_id),
        pending=pending,
        offers=await invitations.offers_to(session, state.clock, visitor.user.id),
        may_manage=may_manage,
        roles=_ROLES,
        typed=typed or {},
        errors=errors or {},
        general=GENERAL,
        done=done if done in _DONE else "",
    )


@router.get("/members")
async def members_page(
    visitor: SignedIn, session: SessionDep, state: StateDep, done: str = ""
) -> Response:
    """Who is in the project with which role; for managers, the forms to change that."""
    return await _members_page(visitor, session, state, done=done)


async def _refused(
    visitor: Visitor,
    session: SessionDep,
    state: StateDep,
    exc: NabatError,
    form: Mapping[str, str],
    fields: tuple[str, ...] = (),
) -> Response:
    """The page again with the service's refusal as a sentence (never a JSON body)."""
    await session.rollback()
    errors = form_errors(visitor, exc, fields)
    return await _members_page(
        visitor, session, state, typed=form, errors=errors, status=exc.status_code
    )


async def _set_role(
    visitor: Visitor, form: FormDep, state: StateDep, session: SessionDep
) -> Response:
    principal = visitor.require(Scope.MEMBERS_MANAGE)
    try:
        role = members.parse_role(form.get("role", ""))
        outcome = await members.set_role(
            session, state.clock, principal, form.get("user", ""), role
        )
    except NabatError as exc:
        # A refusal of a role change in the list names no field of the invitation form.
        fields = ("user", "role") if form.get("form") == "invite" else ()
        return await _refused(visitor, session, state, exc, form, fields)
    await session.commit()
    if isinstance(outcome, Invitation):
        # The same answer whether or not an account answers to the name.
        return RedirectResponse("/members?done=invited", status_code=303)
    # After the commit: the new role applies to the member's next request.
    state.principals.clear()
    done = "added" if form.get("form") == "invite" else "role"
    return RedirectResponse(f"/members?done={done}", status_code=303)


@router.post("/members")
async def invite_member(
    visitor: SignedIn, form: FormDep, state: StateDep, session: SessionDep
) -> Response:
    """Invite someone by username or e-mail with a role (or change a member's role, as
    ``PUT /api/v1/members`` does when the name is a member's)."""
    return await _set_role(visitor, {**form, "form": "invite"}, state, session)


@router.post("/members/{user_id:int}/role")
async def change_role(
    user_id: int, visitor: SignedIn, form: FormDep, state: StateDep, session: SessionDep
) -> Response:
    """Give a member another role."""
    return await _set_role(visitor, {**form, "user": str(user_id), "form": "role"}, state, session)


@router.post("/members/{user_id:int}/remove")
async def remove_member(
    user_id: int, visitor: SignedIn, form: FormDep, state: StateDep, session: SessionDep
) -> Response:
    """Take a member out of the project."""
    principal = visitor.require(Scope.MEMBERS_MANAGE)
    try:
        await members.remove(session, principal, user_id)
    except NabatError as exc:
        return await _refused(visitor, session, state, exc, {})
    await session.commit()
    state.principals.clear()
    return RedirectResponse("/members?done=removed", status_code=303)


@router.post("/members/invitations/{invitation_id:int}/revoke")
async def revoke_invitation(
    invitation_id: int, visitor: SignedIn, form: FormDep, state: StateDep, session: SessionDep
) -> Response:
    """Withdraw an invitation not answered yet."""
    principal = visitor.require(Scope.MEMBERS_MANAGE)
    try:
        await invitations.revoke(session, state.clock, principal.project_id, invitation_id)
    except NabatError as exc:
        return await _refused(visitor, session, state, exc, {})
    await session.commit()
    return RedirectResponse("/members?done=withdrawn", status_code=303)


@router.post("/me/invitations/{invitation_id:int}/{answer}")
async def answer_invitation(
    invitation_id: int,
    answer: str,
    visitor: SignedIn,
    form: FormDep,
    state: StateDep,
    session: SessionDep,
) -> Response:
    """Accept or decline one of your own invitations."""
    assert visitor.user is not None
    try:
        if answer == "accept":
            await invitations.accept(session, state.clock, visitor.user, invitation_id)
        elif answer == "decline":
            await invitations.decline(session, state.clock, visitor.user, invitation_id)
        else:
            return RedirectResponse("/members", status_code=303)
    except NabatError as exc:
        return await _refused(visitor, session, state, exc, {})
    await session.commit()
    # After the commit: the next request may already name the project joined.
    state.principals.clear()
    done = "joined" if answer == "accept" else "declined"
    return RedirectResponse(f"/members?done={done}", status_code=303)
