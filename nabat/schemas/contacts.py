"""Contact point shapes: where a user is reached."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from nabat.schemas.base import ApiModel, StrictApiModel


class ContactPointCreate(StrictApiModel):
    """A new address for a user."""

    kind: str = Field(description="EMAIL, TELEGRAM or PHONE.")
    value: str = Field(
        description="An e-mail address; a Telegram chat id or @channelusername; "
        "a phone number in E.164 form (+79255070602; spaces, dashes and parentheses are "
        "dropped)."
    )
    label: str | None = Field(default=None, description="A name for it, e.g. work.")


class ContactPointOut(ApiModel):
    """A stored contact point, value normalised."""

    id: int
    kind: str
    value: str
    label: str | None
    created_at: datetime
