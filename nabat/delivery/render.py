"""Wording a delivery at send time: the project's template (or the default), its
language and signature, and for e-mail its sender (From, sender name, Reply-To).

Event deliveries are stored with the event, not with text: the text is made here, just
before the send, from the templates as they are then. A template that cannot render is
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
from nabat.delivery.content import outgoing
from nabat.delivery.queue import Claimed
from nabat.errors import NabatError
from nabat.models.account import Project
from nabat.models.template import Template
from nabat.services.project_settings import MessageSettings, message_settings
from nabat.services.routing_cache import CONTEXTS, ProjectCache
from nabat.services.templates import choose_template
from nabat.templating import render_message


@dataclass(frozen=True)
class Wording:
    """One project's settings and templates, as the worker needs them."""

    settings: MessageSettings
    templates: Sequence[Template]
    project_name: str


async def load_wording(session: AsyncSession, items: Collection[Claimed]) -> dict[int, Wording]:
    """The wording of every project among ``items`` that are rendered or mailed."""
    return await project_wording(
        session,
        {
            item.project_id
            for item in items
            if "render" in item.content or _takes_project_sender(item.channel_type)
        },
    )


def _takes_project_sender(type_name: str) -> bool:
    kind = channel_type(type_name)
    return kind is not None and kind.with_project is not None


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


def render(item: Claimed, wording: Wording | None, *, worded: bool = True) -> OutgoingMessage:
    """The message for a stored delivery, rendered now when it carries an event and the
    channel shows worded text (``worded``; a webhook posts the payload and event as they
    are)."""
    content = item.content
    spec: dict[str, Any] | None = content.get("render")
    if spec is None or wording is None:
        return outgoing(item.public_id, item.recipient, content)
    if not worded:
        return OutgoingMessage(
            delivery_id=item.public_id,
            subject=str(content["event"].get("typeTitle", "")),
            text=str(content["event"].get("message", "")),
            recipient=item.recipient,
            severity=str(content["event"].get("severity", "INFO")),
            payload=dict(content.get("payload") or {}),
            event=content["event"],
        )
    event: dict[str, Any] = content["event"]
    language = wording.settings.language
    template = choose_template(
        wording.templates,
        type_key=event["type"],
        kind=spec["kind"],
        language=language,
        template_id=spec.get("templateId"),
    )
    recipient = {"name": spec.get("recipientName"), "address": item.recipient}
    try:
        rendered = render_message(
            event=event,
            kind=spec["kind"],
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
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        recipient=item.recipient,
        severity=str(event.get("severity", "INFO")),
        payload=dict(content.get("payload") or {}),
        event=event,
    )
