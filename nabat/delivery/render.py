"""Wording a delivery at send time: the project's template (or the default), its
language and signature, and for e-mail its sender (From, sender name, Reply-To).

Event deliveries are stored with the event, not with text: the text is made here, just
before the send, from the templates as they are then. A template that cannot render is
a ``config`` failure naming the template, never a crash.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from nabat.channels.base import ChannelConfig
from nabat.channels.contract import DeliveryError, FailureClass, OutgoingMessage
from nabat.channels.email import EmailConfig
from nabat.delivery.content import outgoing
from nabat.delivery.queue import Claimed
from nabat.errors import NabatError
from nabat.models.account import Project
from nabat.models.template import Template
from nabat.services.project_settings import MessageSettings, message_settings
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
            if "render" in item.content or item.channel_type == "EMAIL"
        },
    )


async def project_wording(session: AsyncSession, projects: Collection[int]) -> dict[int, Wording]:
    """The wording of each project asked for (every id is in the result), in three queries."""
    if not projects:
        return {}
    settings = await message_settings(session, projects)
    rows = await session.scalars(select(Template).where(Template.project_id.in_(projects)))
    templates: dict[int, list[Template]] = {project: [] for project in projects}
    for row in rows:
        templates[row.project_id].append(row)
    found = await session.execute(select(Project.id, Project.name).where(Project.id.in_(projects)))
    names = {project_id: name for project_id, name in found}
    return {
        project: Wording(settings[project], templates[project], names.get(project, ""))
        for project in projects
    }


def mail_config(config: ChannelConfig, wording: Wording) -> ChannelConfig:
    """An e-mail channel's sender completed from the project.

    From is the channel's ``fromEmail``, else the project's From address; the sender name
    is the channel's, else the project's, else the project's name; Reply-To is the
    channel's, else the project's, else the From address. Only a missing From address
    is an error: a ``config`` DeliveryError naming both places to set one.
    """
    if not isinstance(config, EmailConfig):
        return config
    settings = wording.settings
    from_email = config.from_email or settings.from_address
    if not from_email:
        raise DeliveryError(
            FailureClass.CONFIG,
            "no sender address: set fromEmail on the channel or fromAddress with PUT "
            "/api/v1/settings/mail",
        )
    return config.model_copy(
        update={
            "from_email": from_email,
            "from_name": config.from_name or settings.from_name or wording.project_name or None,
            "reply_to": config.reply_to or settings.reply_to or from_email,
        }
    )


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
