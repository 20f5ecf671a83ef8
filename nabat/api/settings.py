"""``/api/v1/settings``: the project's mail settings (seed 003) and general settings."""

from __future__ import annotations

from fastapi import APIRouter

from nabat.api.deps import CurrentPrincipal, SessionDep, StateDep
from nabat.schemas.settings import (
    GeneralSettingsOut,
    GeneralSettingsUpdate,
    MailSettingsOut,
    MailSettingsUpdate,
)
from nabat.services import project_settings
from nabat.services.access import Scope
from nabat.services.project_settings import MailChanges, MessageSettings

router = APIRouter(prefix="/api/v1/settings", tags=["settings"])


def _mail_out(settings: MessageSettings) -> MailSettingsOut:
    return MailSettingsOut(
        from_address=settings.from_address,
        from_name=settings.from_name,
        reply_to=settings.reply_to,
        signature=settings.signature,
        allow_unregistered_recipients=settings.allow_unregistered_recipients,
        mail_channel_id=settings.mail_channel_id,
    )


@router.get("/mail", response_model=MailSettingsOut)
async def get_mail_settings(caller: CurrentPrincipal, session: SessionDep) -> MailSettingsOut:
    """From address, sender name, Reply-To, signature and unregistered recipients."""
    caller.require(Scope.ROUTING_READ)
    return _mail_out(await project_settings.settings_of(session, caller.project_id))


@router.put("/mail", response_model=MailSettingsOut)
async def update_mail_settings(
    body: MailSettingsUpdate, caller: CurrentPrincipal, state: StateDep, session: SessionDep
) -> MailSettingsOut:
    """Set the keys given (``null`` clears one); answer with all the mail settings.

    From address, sender name and Reply-To are all needed before mail goes out (a
    channel's own ``fromEmail``, ``fromName`` and ``replyTo`` stand in for them).
    ``mailChannelId`` must name an enabled channel of the project that sends e-mail.
    """
    caller.require(Scope.ROUTING_WRITE)
    given = {name: getattr(body, name) for name in body.model_fields_set}
    updated = await project_settings.update_mail(
        session, state.clock, caller.project_id, MailChanges(**given)
    )
    await session.commit()
    return _mail_out(updated)


@router.get("/general", response_model=GeneralSettingsOut)
async def get_general_settings(caller: CurrentPrincipal, session: SessionDep) -> GeneralSettingsOut:
    """The language of default message templates."""
    caller.require(Scope.ROUTING_READ)
    settings = await project_settings.settings_of(session, caller.project_id)
    return GeneralSettingsOut(language=settings.language)


@router.put("/general", response_model=GeneralSettingsOut)
async def update_general_settings(
    body: GeneralSettingsUpdate, caller: CurrentPrincipal, state: StateDep, session: SessionDep
) -> GeneralSettingsOut:
    """Set the language of default message templates ("ru" or "en"; ``null`` resets it)."""
    caller.require(Scope.ROUTING_WRITE)
    if "language" in body.model_fields_set:
        settings = await project_settings.update_language(
            session, state.clock, caller.project_id, body.language
        )
        await session.commit()
    else:
        settings = await project_settings.settings_of(session, caller.project_id)
    return GeneralSettingsOut(language=settings.language)
