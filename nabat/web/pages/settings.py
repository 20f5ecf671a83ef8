"""The project's settings (seed 003): the outgoing-mail connection, the "Sending mail"
card, the language and signature of messages, and whether people outside the project
may be sent to.

Each card is a form of its own and calls the services behind ``/api/v1/settings/mail``
and ``/api/v1/settings/general``; the form inputs carry the API's field names, so a
service's error lands next to the input it names.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from nabat.api.deps import SessionDep, StateDep
from nabat.catalogue import LANGUAGES
from nabat.db.ids import as_id
from nabat.errors import NabatError
from nabat.services import project_settings
from nabat.services.access import Scope
from nabat.services.mail_connection import FIELD as CONNECTION_FIELD
from nabat.services.mail_connection import offered
from nabat.services.project_settings import MailChanges, MessageSettings, invalid
from nabat.web.pages.channels import type_title
from nabat.web.render import page
from nabat.web.session import FormDep, SignedIn, Visitor

router = APIRouter(include_in_schema=False)

GENERAL = ""
"""The key of an error that names no field of the form (shown above the form)."""

_CONNECTION_FIELDS = (CONNECTION_FIELD,)
_MAIL_FIELDS = ("fromAddress", "fromName", "replyTo")
_MESSAGE_FIELDS = ("language", "signature")
_RECIPIENT_FIELDS = ("allowUnregisteredRecipients",)
_CARDS = {
    "connection": _CONNECTION_FIELDS,
    "mail": _MAIL_FIELDS,
    "messages": _MESSAGE_FIELDS,
    "recipients": _RECIPIENT_FIELDS,
}


def form_errors(visitor: Visitor, exc: NabatError, fields: Collection[str]) -> dict[str, str]:
    """A service's refusal as sentences by form field, in the visitor's language.

    Each detail naming one of ``fields`` goes next to that field; anything else (a
    refusal naming no field of the form) is kept under :data:`GENERAL`.
    """
    errors: dict[str, str] = {}
    for detail in exc.details:
        field = str(detail.get("field", ""))
        if field in fields and field not in errors:
            message = visitor.say(detail.get("message", ""))
            errors[field] = visitor.t("settings.not_accepted", message=message)
    if not errors:
        errors[GENERAL] = visitor.t("settings.not_accepted", message=visitor.say(exc.message))
    return errors


@dataclass(frozen=True)
class Offer:
    """A channel the connection card offers: its id (the option's value) and wording."""

    value: str
    text: str
    enabled: bool


async def _offers(
    visitor: Visitor, session: AsyncSession, project_id: int, current: int | None
) -> list[Offer]:
    return [
        Offer(str(row.id), f"{row.name} · {type_title(visitor.language, row.type)}", row.enabled)
        for row in await offered(session, project_id, current)
    ]


def _shown(settings: MessageSettings) -> dict[str, str]:
    return {
        CONNECTION_FIELD: "" if settings.mail_channel_id is None else str(settings.mail_channel_id),
        "fromAddress": settings.from_address or "",
        "fromName": settings.from_name or "",
        "replyTo": settings.reply_to or "",
        "language": settings.language,
        "signature": settings.signature or "",
        "allowUnregisteredRecipients": "on" if settings.allow_unregistered_recipients else "",
    }


def _settings_page(
    visitor: Visitor,
    settings: MessageSettings,
    offers: list[Offer],
    *,
    card: str = "",
    typed: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    saved: str = "",
    status: int = 200,
) -> Response:
    values = _shown(settings)
    if typed is not None:
        # The failed card shows what was typed; the other cards what is stored.
        values.update({name: typed.get(name, "") for name in _CARDS[card]})
    return page(
        visitor,
        "settings/settings.html",
        section="settings",
        status=status,
        values=values,
        offers=offers,
        connection_field=CONNECTION_FIELD,
        card=card,
        errors=errors or {},
        saved=saved if saved in _CARDS else "",
        languages_of_messages=LANGUAGES,
        may_change=visitor.can(Scope.ROUTING_WRITE),
        general=GENERAL,
    )


@router.get("/settings")
async def settings_page(visitor: SignedIn, session: SessionDep, saved: str = "") -> Response:
    """The cards, each with what is stored."""
    principal = visitor.require(Scope.ROUTING_READ)
    settings = await project_settings.settings_of(session, principal.project_id)
    offers = await _offers(visitor, session, principal.project_id, settings.mail_channel_id)
    return _settings_page(visitor, settings, offers, saved=saved)


def _connection(form: Mapping[str, str]) -> int | None:
    chosen = form.get(CONNECTION_FIELD, "").strip()
    if not chosen:
        return None
    channel_id = as_id(chosen)
    if channel_id is None:
        # Only a hand-made post gets here: the select offers channel ids.
        raise invalid(CONNECTION_FIELD, "choose one of the channels offered")
    return channel_id


def _changes(card: str, form: Mapping[str, str]) -> MailChanges:
    if card == "connection":
        return MailChanges(mail_channel_id=_connection(form))
    if card == "mail":
        return MailChanges(
            from_address=form.get("fromAddress", ""),
            from_name=form.get("fromName", ""),
            reply_to=form.get("replyTo", ""),
        )
    if card == "messages":
        return MailChanges(signature=form.get("signature", ""))
    # An unticked checkbox is not posted at all: absent means "no".
    return MailChanges(allow_unregistered_recipients=bool(form.get("allowUnregisteredRecipients")))


@router.post("/settings/{card}")
async def save_card(
    card: str, visitor: SignedIn, form: FormDep, state: StateDep, session: SessionDep
) -> Response:
    """Save one card; on a refusal show the page again with the error by its field."""
    principal = visitor.require(Scope.ROUTING_WRITE)
    if card not in _CARDS:
        return RedirectResponse("/settings", status_code=303)
    try:
        if card == "messages":
            await project_settings.update_language(
                session, state.clock, principal.project_id, form.get("language") or None
            )
        await project_settings.update_mail(
            session, state.clock, principal.project_id, _changes(card, form)
        )
    except NabatError as exc:
        await session.rollback()
        settings = await project_settings.settings_of(session, principal.project_id)
        errors = form_errors(visitor, exc, _CARDS[card])
        offers = await _offers(visitor, session, principal.project_id, settings.mail_channel_id)
        return _settings_page(
            visitor,
            settings,
            offers,
            card=card,
            typed=form,
            errors=errors,
            status=exc.status_code,
        )
    await session.commit()
    return RedirectResponse(f"/settings?saved={card}", status_code=303)
