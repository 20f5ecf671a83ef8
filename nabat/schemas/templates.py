"""Template shapes: a template, its changes, the defaults and previews."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from nabat.schemas.base import ApiModel, StrictApiModel
from nabat.schemas.inputs import RowId
from nabat.services.templates import NAME_MAX, SOURCE_MAX, SUBJECT_SOURCE_MAX, TYPE_MAX

_KIND = "email, chat (Telegram, Slack, Discord, bots, webhooks) or sms"
_TYPE = "Notification type key (e.g. service.down); null: usable only by id from a rule."
_LANGUAGE = "ru or en; null: any language."


class TemplateCreate(StrictApiModel):
    """``POST /api/v1/templates``."""

    name: str | None = Field(default=None, max_length=NAME_MAX)
    channel_kind: str = Field(description=_KIND)
    type: str | None = Field(default=None, max_length=TYPE_MAX, description=_TYPE)
    language: str | None = Field(default=None, description=_LANGUAGE)
    subject: str | None = Field(
        default=None, max_length=SUBJECT_SOURCE_MAX, description="Required for email."
    )
    text: str = Field(max_length=SOURCE_MAX)
    html: str | None = Field(default=None, max_length=SOURCE_MAX, description="email only.")


class TemplateUpdate(StrictApiModel):
    """``PUT /api/v1/templates/{id}``: any subset of the fields; ``null`` clears one.

    The read-only fields are accepted and ignored, so a client may send back what it read.
    """

    id: int | None = Field(default=None, description="Ignored.")
    created_at: datetime | None = Field(default=None, description="Ignored.")
    updated_at: datetime | None = Field(default=None, description="Ignored.")

    name: str | None = Field(default=None, max_length=NAME_MAX)
    channel_kind: str | None = Field(default=None, description=_KIND)
    type: str | None = Field(default=None, max_length=TYPE_MAX, description=_TYPE)
    language: str | None = Field(default=None, description=_LANGUAGE)
    subject: str | None = Field(default=None, max_length=SUBJECT_SOURCE_MAX)
    text: str | None = Field(default=None, max_length=SOURCE_MAX)
    html: str | None = Field(default=None, max_length=SOURCE_MAX)


class TemplateOut(ApiModel):
    """A saved template."""

    id: int
    name: str
    channel_kind: str
    type: str | None
    language: str | None
    subject: str | None
    text: str
    html: str | None
    created_at: datetime
    updated_at: datetime


class DefaultTemplateOut(ApiModel):
    """A built-in template, to start one's own from."""

    type: str
    channel_kind: str
    language: str
    subject: str | None
    text: str
    html: str | None


class PreviewIn(StrictApiModel):
    """``POST /api/v1/templates/preview``: a saved template (``templateId``), an inline
    one (``text`` with optional ``subject`` and ``html``), or neither (the built-in
    default of ``type``)."""

    template_id: RowId | None = None
    subject: str | None = Field(default=None, max_length=SUBJECT_SOURCE_MAX)
    text: str | None = Field(default=None, max_length=SOURCE_MAX)
    html: str | None = Field(default=None, max_length=SOURCE_MAX)
    channel_kind: str | None = Field(
        default=None, description=f"{_KIND}; defaults to the saved template's."
    )
    type: str | None = Field(
        default=None,
        max_length=TYPE_MAX,
        description="Sample event type; defaults to the saved template's, then service.down.",
    )
    language: str | None = Field(
        default=None, description="ru or en; defaults to the template's, then the project's."
    )
    event: dict[str, Any] | None = Field(
        default=None, description="Fields merged into the sample event (nested objects merge)."
    )


class PreviewOut(ApiModel):
    """The rendered message, and the type, kind and language it was rendered with."""

    subject: str
    text: str
    html: str | None
    type: str
    channel_kind: str
    language: str
