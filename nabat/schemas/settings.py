"""Project settings shapes: mail settings (seed 003) and general settings."""

from __future__ import annotations

from pydantic import Field

from nabat.schemas.base import ApiModel, StrictApiModel
from nabat.schemas.inputs import RowId


class MailSettingsOut(ApiModel):
    """``GET /api/v1/settings/mail``: ``null`` where a setting was never given."""

    from_address: str | None = Field(description='The "From" address of the mail sent.')
    from_name: str | None = Field(description='The sender name shown in "From".')
    reply_to: str | None = Field(description='The "Reply-To" address (the support desk).')
    signature: str | None = Field(description="Appended to every message.")
    allow_unregistered_recipients: bool = Field(
        description="Whether notifications may go to addresses that belong to no user."
    )
    mail_channel_id: int | None = Field(
        description="The mail connection: the channel (SMTP or Exchange) the project's mail "
        "goes through; a notification sent with an e-mail channelType and no channelId "
        "goes through it."
    )


class MailSettingsUpdate(StrictApiModel):
    """``PUT /api/v1/settings/mail``: the keys given are set, ``null`` clears one."""

    from_address: str | None = None
    from_name: str | None = None
    reply_to: str | None = None
    signature: str | None = Field(default=None, description="At most 2000 characters.")
    allow_unregistered_recipients: bool | None = Field(
        default=None, description="``null`` goes back to false."
    )
    mail_channel_id: RowId | None = Field(
        default=None,
        description="An enabled channel of this project that sends e-mail; ``null`` clears it.",
    )


class GeneralSettingsOut(ApiModel):
    """``GET /api/v1/settings/general``."""

    language: str = Field(description='The language of default message templates: "ru" or "en".')


class GeneralSettingsUpdate(StrictApiModel):
    """``PUT /api/v1/settings/general``: the keys given are set, ``null`` resets one."""

    language: str | None = Field(default=None, description='"ru" (the default) or "en".')
