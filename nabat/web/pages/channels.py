"""Channels: the list with each channel's state and the edit form generated from the
type's configuration model (:mod:`nabat.web.forms`); the helpers the other channel pages
share."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from nabat.api.deps import SessionDep, StateDep
from nabat.channels.registry import channel_type, channel_types, config_model
from nabat.errors import NabatError
from nabat.models.delivery import DeliveryKind, DeliveryStatus
from nabat.services import deliveries as record
from nabat.services.access import Scope
from nabat.services.channels import ChannelChanges, ChannelService, ChannelView
from nabat.services.deliveries import channel_status as channel_health
from nabat.state import AppState
from nabat.web.forms import FormField, FormState, form_fields, place_errors, posted, shown
from nabat.web.i18n import catalogue, translate
from nabat.web.render import page
from nabat.web.session import FormDep, SignedIn, Visitor

router = APIRouter(include_in_schema=False)

_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


@dataclass(frozen=True)
class Head:
    """What a page shows of a stored channel besides its configuration (read before a
    change is tried, so a failed change leaves nothing half-applied on screen)."""

    id: int
    name: str
    type: str
    enabled: bool
    is_default: bool


@dataclass
class TestPanel:
    """The Test form as typed, and what the last test answered."""

    __test__ = False

    recipient: str = ""
    subject: str = ""
    message: str = ""
    ok: str | None = None
    failed: str | None = None


@dataclass
class Draft:
    """The channel form as shown: name, switches, configuration inputs, errors."""

    name: str = ""
    enabled: bool = True
    is_default: bool = False
    check_interval: int = 0
    config: FormState = field(default_factory=FormState)
    general: list[str] = field(default_factory=list)


def service(state: AppState, session: AsyncSession) -> ChannelService:
    """The channel use-cases, as the API builds them."""
    return ChannelService(session, state.box, state.clock)


def head_of(view: ChannelView) -> Head:
    """The plain facts of a stored channel."""
    row = view.row
    return Head(row.id, row.name, row.type, row.enabled, row.is_default)


def _label(language: str, key: str) -> str:
    # Keys without wording of their own read as words: smtpHost → "Smtp host".
    worded = catalogue(language).get(f"channels.field.{key}")
    if worded:
        return worded
    words = _WORD.findall(key) or [key]
    text = " ".join(word if word.isupper() else word.lower() for word in words)
    return text[:1].upper() + text[1:]


def _help(language: str, spec: FormField) -> str | None:
    return catalogue(language).get(f"channels.help.{spec.key}") or spec.description


def type_title(language: str, type_name: str) -> str:
    """A type's name for people, else its registry name."""
    return catalogue(language).get(f"channels.type.{type_name}") or type_name


def _when(moment: datetime | None) -> str:
    return "—" if moment is None else moment.strftime("%Y-%m-%d %H:%M UTC")


# The scheduled-check intervals the form offers (seconds; 0: none). A stored interval
# set otherwise through the API is offered too, so saving the form keeps it.
CHECK_CHOICES = (0, 300, 900, 3600, 6 * 3600, 24 * 3600)


def _check_choices(current: int) -> list[int]:
    return sorted({*CHECK_CHOICES, current})


def _every(language: str, seconds: int) -> str:
    if not seconds:
        return translate(language, "channels.check_off")
    if seconds % 3600 == 0:
        return translate(language, "channels.check_hours", count=seconds // 3600)
    if seconds % 60 == 0:
        return translate(language, "channels.check_minutes", count=seconds // 60)
    return translate(language, "channels.check_seconds", count=seconds)


def _posted_interval(form: dict[str, str]) -> int:
    text = form.get("checkIntervalSeconds", "").strip()
    # The select only sends its own numbers; anything else is the service's to refuse.
    return int(text) if text.isdigit() else -1 if text else 0


def wording(visitor: Visitor) -> dict[str, Any]:
    language = visitor.language
    return {
        "when": _when,
        "label": lambda key: _label(language, key),
        "help_of": lambda spec: _help(language, spec),
        "type_title": lambda name: type_title(language, name),
        "check_choices": _check_choices,
        "every": lambda seconds: _every(language, seconds),
    }


def fields_of(type_name: str) -> list[FormField]:
    """The form of a registered type (the caller checked the type exists)."""
    model = config_model(type_name)
    assert model is not None, type_name
    return form_fields(model)


def draft_of(view: ChannelView, fields: list[FormField]) -> Draft:
    """The edit form of a stored channel."""
    return Draft(
        name=view.row.name,
        enabled=view.row.enabled,
        is_default=view.row.is_default,
        check_interval=view.row.check_interval_seconds or 0,
        config=shown(fields, view.config.to_public()),
    )


def failed_draft(form: dict[str, str], config: FormState) -> Draft:
    """The form as typed (secrets excepted), for showing it again with its errors."""
    return Draft(
        name=form.get("name", ""),
        enabled="enabled" in form,
        is_default="isDefault" in form,
        check_interval=_posted_interval(form),
        config=config,
    )


def edit_page(
    visitor: Visitor,
    head: Head,
    draft: Draft,
    *,
    health: dict[str, Any] | None,
    test: TestPanel | None = None,
    saved: bool = False,
    status: int = 200,
) -> Response:
    """The edit page of a channel: its form, Test panel and actions."""
    return page(
        visitor,
        "channels/edit.html",
        section="channels",
        status=status,
        head=head,
        draft=draft,
        fields=fields_of(head.type),
        health=health,
        test=test or TestPanel(),
        saved=saved,
        can_write=visitor.can(Scope.CHANNELS_WRITE),
        can_test=visitor.can(Scope.CHANNELS_TEST),
        **wording(visitor),
    )


@router.get("/channels")
async def channel_list(
    visitor: SignedIn, state: StateDep, session: SessionDep, deleted: bool = False
) -> Response:
    """Every channel with its type and state: enabled, default, healthy or failing."""
    principal = visitor.require(Scope.CHANNELS_READ)
    now = state.clock.now()
    rows = []
    for view in await service(state, session).list(principal.project_id):
        rows.append((head_of(view), await channel_health(session, view.row.id, now=now)))
    return page(
        visitor,
        "channels/list.html",
        section="channels",
        rows=rows,
        deleted=deleted,
        types=channel_types(),
        can_write=visitor.can(Scope.CHANNELS_WRITE),
        **wording(visitor),
    )


@router.get("/channels/{channel_id:int}")
async def edit_channel(
    channel_id: int,
    visitor: SignedIn,
    state: StateDep,
    session: SessionDep,
    saved: bool = False,
    tested: int | None = None,
    recipient: str = "",
    subject: str = "",
    message: str = "",
) -> Response:
    """A channel's form, its health, the Test panel and its actions; ``tested`` names a
    test delivery of this channel whose outcome the Test panel says, beside the Test
    form's fields as they were typed."""
    principal = visitor.require(Scope.CHANNELS_READ)
    view = await load(state, session, principal.project_id, channel_id)
    health = await channel_health(session, channel_id, now=state.clock.now())
    draft = draft_of(view, fields_of(view.row.type))
    panel = TestPanel(recipient=recipient, subject=subject, message=message)
    if tested is not None:
        await said_outcome(session, visitor, view, tested, panel)
    return edit_page(visitor, head_of(view), draft, health=health, saved=saved, test=panel)


async def said_outcome(
    session: AsyncSession, visitor: Visitor, view: ChannelView, delivery_id: int, panel: TestPanel
) -> None:
    """Word the outcome of test delivery ``delivery_id`` into ``panel``, in the visitor's
    language (so it reads right after a reload or a language switch too). Anything but a
    test of this channel says nothing."""
    try:
        delivery, _ = await record.get_delivery(session, view.row.project_id, delivery_id)
    except NabatError:
        return
    kind = channel_type(view.row.type)
    if delivery.channel_id != view.row.id or delivery.kind != DeliveryKind.TEST or kind is None:
        return
    if delivery.status == DeliveryStatus.SENT:
        panel.ok = kind.test_sent.said(visitor.language)
    elif delivery.last_error:
        panel.failed = kind.test_failed.said(visitor.language, reason=delivery.last_error)


async def load(
    state: AppState, session: AsyncSession, project_id: int, channel_id: int
) -> ChannelView:
    """The channel of the project; a NotFound shows the console's not-found page."""
    return await service(state, session).get(project_id, channel_id)


@router.post("/channels/{channel_id:int}")
async def update_channel(
    channel_id: int, visitor: SignedIn, form: FormDep, state: StateDep, session: SessionDep
) -> Response:
    """Save the edit form: a secret left empty keeps its stored value."""
    principal = visitor.require(Scope.CHANNELS_WRITE)
    view = await load(state, session, principal.project_id, channel_id)
    head = head_of(view)
    fields = fields_of(head.type)
    configuration, config = posted(
        fields, form, stored=shown(fields, view.config.to_public()).stored
    )
    draft = failed_draft(form, config)
    if not config.errors:
        changes = ChannelChanges(
            name=draft.name,
            configuration=configuration,
            enabled=draft.enabled,
            is_default=draft.is_default,
            check_interval_seconds=draft.check_interval,
        )
        try:
            await service(state, session).update(principal.project_id, channel_id, changes)
        except NabatError as exc:
            await session.rollback()
            draft.general = place_errors(config, exc, fields)
        else:
            await session.commit()
            return RedirectResponse(f"/channels/{channel_id}?saved=1", status_code=303)
    health = await channel_health(session, channel_id, now=state.clock.now())
    return edit_page(visitor, head, draft, health=health, status=422)
