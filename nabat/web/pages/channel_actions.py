"""A channel's actions: the Test panel, making it the default, switching it on or off,
and deleting it."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response

from nabat.api.deps import SessionDep, StateDep
from nabat.errors import NabatError
from nabat.services.access import Scope
from nabat.services.channels import ChannelChanges
from nabat.services.deliveries import channel_status as channel_health
from nabat.services.test_send import TestRequest, send_test
from nabat.web.pages.channels import (
    TestPanel,
    draft_of,
    edit_page,
    fields_of,
    head_of,
    load,
    service,
)
from nabat.web.session import FormDep, SignedIn

router = APIRouter(include_in_schema=False)

# What the Test form shows again after the redirect, as typed.
TYPED = ("recipient", "subject", "message")


@router.post("/channels/{channel_id:int}/test")
async def test_channel(
    channel_id: int, visitor: SignedIn, form: FormDep, state: StateDep, session: SessionDep
) -> Response:
    """Send a test message now, then show the channel's page with the success sentence or
    the provider's reason (a refusal before sending: the page at once, form kept)."""
    principal = visitor.require(Scope.CHANNELS_TEST)
    view = await load(state, session, principal.project_id, channel_id)
    head, draft = head_of(view), draft_of(view, fields_of(view.row.type))
    panel = TestPanel(
        recipient=form.get("recipient", ""),
        subject=form.get("subject", ""),
        message=form.get("message", ""),
    )
    try:
        result = await send_test(
            session,
            state.test_parts(),
            view=view,
            request=TestRequest(
                message=panel.message.strip() or None,
                recipient=panel.recipient.strip() or None,
                subject=panel.subject.strip() or None,
            ),
            sender=state.senders[head.type],
            commit=session.commit,
            user_id=principal.user_id,
            language=visitor.language,
        )
    except NabatError as exc:
        await session.rollback()
        panel.failed = visitor.t("channels.test.refused", message=visitor.say(exc.message))
    else:
        # Post/redirect/get: the outcome is read back from the test delivery, so a reload
        # or a language switch shows it again instead of sending another test.
        typed = {k: v for k, v in vars(panel).items() if k in TYPED and v}
        query = urlencode({"tested": result.delivery_id, **typed})
        return RedirectResponse(f"/channels/{channel_id}?{query}#test", status_code=303)
    health = await channel_health(session, channel_id, now=state.clock.now())
    return edit_page(visitor, head, draft, health=health, test=panel)


async def _change(
    channel_id: int,
    visitor: SignedIn,
    state: StateDep,
    session: SessionDep,
    changes: ChannelChanges,
) -> Response:
    principal = visitor.require(Scope.CHANNELS_WRITE)
    await load(state, session, principal.project_id, channel_id)
    await service(state, session).update(principal.project_id, channel_id, changes)
    await session.commit()
    return RedirectResponse(f"/channels/{channel_id}?saved=1", status_code=303)


@router.post("/channels/{channel_id:int}/default")
async def make_default(
    channel_id: int, visitor: SignedIn, form: FormDep, state: StateDep, session: SessionDep
) -> Response:
    """Make the channel the project's default (the one a notification without a channel
    goes to)."""
    return await _change(channel_id, visitor, state, session, ChannelChanges(is_default=True))


@router.post("/channels/{channel_id:int}/enabled")
async def switch(
    channel_id: int, visitor: SignedIn, form: FormDep, state: StateDep, session: SessionDep
) -> Response:
    """Switch the channel on (``enabled=true``) or off (anything else)."""
    changes = ChannelChanges(enabled=form.get("enabled") == "true")
    return await _change(channel_id, visitor, state, session, changes)


@router.post("/channels/{channel_id:int}/delete")
async def delete_channel(
    channel_id: int, visitor: SignedIn, form: FormDep, state: StateDep, session: SessionDep
) -> Response:
    """Delete the channel (the page asked for confirmation first)."""
    principal = visitor.require(Scope.CHANNELS_WRITE)
    await load(state, session, principal.project_id, channel_id)
    await service(state, session).delete(principal.project_id, channel_id)
    await session.commit()
    return RedirectResponse("/channels?deleted=1", status_code=303)
