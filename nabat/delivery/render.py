"""Wording a delivery at send time: the project's template (or the default), its
language and signature, and for e-mail its sender (From, sender name, Reply-To).

Every delivery — routed, sent, test or health notice — is stored with its event
(:class:`nabat.delivery.content.DeliveryContent`), not with text: the text is made here,
just before the send, from the templates as they are then. A template that cannot render is
a ``config`` failure naming the template, never a crash.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from nabat.channels.base import ChannelConfig
from nabat.channels.contract import DeliveryError, FailureClass, OutgoingMessage
from nabat.channels.descriptor import ChannelType, ProjectSender
from nabat.channels.registry import channel_type
from nabat.delivery.content import DeliveryContent
from nabat.delivery.queue import Claimed
from nabat.errors import NabatError
from nabat.models.account import Project
from nabat.models.template import Template
from nabat.services.project_settings import MessageSettings, message_settings
from nabat.services.routing_cache import CONTEXTS, ProjectCache
from nabat.services.templates import choose_template
from nabat.templating import one_line, render_message


@dataclass(frozen=True)
class Wording:
    """One project's settings and templates, as the worker needs them."""

    settings: MessageSettings
    templates: Sequence[Template]
    project_name: str


async def load_wording(session: AsyncSession, items: Collection[Claimed]) -> dict[int, Wording]:
    """The wording of every project among ``items`` that go out worded or mailed."""
    return await project_wording(
        session, {item.project_id for item in items if _needs_wording(item.channel_type)}
    )


def _needs_wording(type_name: str) -> bool:
    kind = channel_type(type_name)
    return kind is not None and (kind.worded or kind.with_project is not None)


# A project's wording as the worker last read it: reused for a second (and dropped at
# once when this process changes the project's settings or templates), so that a
# steady stream of deliveries costs no query per claim.
_WORDING: ProjectCache[Wording] = ProjectCache(follows=CONTEXTS)


async def project_wording(session: AsyncSession, projects: Collection[int]) -> dict[int, Wording]:
    """The wording of each project asked for (every id is in the result): from the cache,
    or in three queries for a project not read in the last second."""
    return {
        project: await _WORDING.get(session, project, partial(_load_wording, session, project))
        for project in projects
    }


async def _load_wording(session: AsyncSession, project: int) -> Wording:
    settings = await message_settings(session, [project])
    templates = list(await session.scalars(select(Template).where(Template.project_id == project)))
    name = await session.scalar(select(Project.name).where(Project.id == project))
    return Wording(settings[project], templates, name or "")


def mail_config(kind: ChannelType[Any], config: ChannelConfig, wording: Wording) -> ChannelConfig:
    """``config`` completed from the project's sender where the type takes one (e-mail's
    From, sender name and Reply-To); raises the type's ``config`` DeliveryError if it
    cannot be."""
    if kind.with_project is None:
        return config
    settings = wording.settings
    project = ProjectSender(
        from_address=settings.from_address,
        from_name=settings.from_name,
        reply_to=settings.reply_to,
        project_name=wording.project_name,
    )
    completed: ChannelConfig = kind.with_project(config, project)
    return completed


def render(item: Claimed, wording: Wording | None, kind: ChannelType[Any]) -> OutgoingMessage:
    """The message for a stored delivery of any kind (routed, sent, test, health notice).

    A channel that shows worded text (``kind.worded``) gets the project's template for
    the event's type and the channel's template kind (or the default), in the project's
    language, with its signature; a subject fixed in the content (the test form's)
    replaces the rendered one. A webhook posts the payload and the event as they are.
    Raises :class:`DeliveryError` (``config``) when the template cannot render.
    """
    content = DeliveryContent.from_json(item.content)
    event = content.event
    if not kind.worded:
        return OutgoingMessage(
            delivery_id=item.public_id,
            subject=content.subject or str(event.get("typeTitle", "")),
            text=str(event.get("message", "")),
            recipient=item.recipient,
            severity=content.severity,
            payload=content.seed(),
            event=event,
        )
    if wording is None:
        # The worker loads the wording of every project whose deliveries it words.
        raise DeliveryError(FailureClass.INTERNAL, "the project's wording was not loaded")
    language = wording.settings.language
    template = choose_template(
        wording.templates,
        type_key=str(event.get("type") or ""),
        kind=kind.template_kind,
        language=language,
        template_id=content.template_id,
    )
    recipient = {"name": content.recipient_name, "address": item.recipient}
    try:
        rendered = render_message(
            event=event,
            kind=kind.template_kind,
            language=language,
            template=template,
            signature=wording.settings.signature,
            recipient=recipient,
            project={"name": wording.project_name},
        )
    except NabatError as exc:
        raise DeliveryError(
            FailureClass.CONFIG, f"the message template could not be rendered: {exc.message}"
        ) from exc
    return OutgoingMessage(
        delivery_id=item.public_id,
        subject=one_line(content.subject) if content.subject else rendered.subject,
        text=rendered.text,
        html=rendered.html,
        recipient=item.recipient,
        severity=content.severity,
        payload=content.seed(),
        event=event,
        link=rendered.link,
    )
