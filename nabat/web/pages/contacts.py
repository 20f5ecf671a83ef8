"""The signed-in user's own contact points (``/api/v1/users/me/contact-points``).

A user's addresses are theirs, not the project's: every signed-in user, a viewer too,
manages their own here, and nobody else's.
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response

from nabat.api.deps import SessionDep, StateDep
from nabat.errors import Conflict, NabatError
from nabat.models.contact import ContactKind
from nabat.services import contacts
from nabat.web.pages.settings import GENERAL, form_errors
from nabat.web.render import page
from nabat.web.session import FormDep, SignedIn, Visitor

router = APIRouter(include_in_schema=False)

_FIELDS = ("kind", "value", "label")
_DONE = ("added", "deleted")


async def _contacts_page(
    visitor: Visitor,
    session: SessionDep,
    *,
    typed: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    done: str = "",
    status: int = 200,
) -> Response:
    assert visitor.user is not None
    return page(
        visitor,
        "contacts/contacts.html",
        section="contacts",
        status=status,
        points=await contacts.list_contacts(session, visitor.user.id),
        kinds=[kind.value for kind in ContactKind],
        typed=typed or {},
        errors=errors or {},
        general=GENERAL,
        done=done if done in _DONE else "",
    )


@router.get("/me/contact-points")
async def contacts_page(visitor: SignedIn, session: SessionDep, done: str = "") -> Response:
    """Where you are reached besides your account's e-mail address."""
    return await _contacts_page(visitor, session, done=done)


@router.post("/me/contact-points")
async def add_contact_point(
    visitor: SignedIn, form: FormDep, state: StateDep, session: SessionDep
) -> Response:
    """Add an e-mail address, Telegram chat or phone number of yours."""
    assert visitor.user is not None
    try:
        await contacts.add_contact(
            session,
            state.clock,
            visitor.user,
            kind=form.get("kind", ""),
            value=form.get("value", ""),
            label=form.get("label") or None,
        )
    except NabatError as exc:
        await session.rollback()
        errors = form_errors(visitor, exc, _FIELDS)
        if isinstance(exc, Conflict):
            # The one conflict here is an address the user already has: it is the value's.
            errors = {"value": errors.pop(GENERAL, "")}
        return await _contacts_page(
            visitor, session, typed=form, errors=errors, status=exc.status_code
        )
    await session.commit()
    return RedirectResponse("/me/contact-points?done=added", status_code=303)


@router.post("/me/contact-points/{contact_id:int}/delete")
async def delete_contact_point(
    contact_id: int, visitor: SignedIn, form: FormDep, session: SessionDep
) -> Response:
    """Remove one of your contact points."""
    assert visitor.user is not None
    try:
        await contacts.remove_contact(session, visitor.user.id, contact_id)
    except NabatError as exc:
        await session.rollback()
        errors = form_errors(visitor, exc, ())
        return await _contacts_page(visitor, session, errors=errors, status=exc.status_code)
    await session.commit()
    return RedirectResponse("/me/contact-points?done=deleted", status_code=303)
