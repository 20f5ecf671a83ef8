"""What every mail-sending type (EMAIL, EWS, GRAPH_MAIL) shares: who a message comes from
(the channel's sender completed from the project's mail settings) and whom it goes to (the
message's own recipient, else the channel's default recipients)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, Self, TypeVar

from nabat.channels.contract import DeliveryError, FailureClass, OutgoingMessage
from nabat.channels.descriptor import Phrase, ProjectSender
from nabat.channels.email_message import mailbox

TEST_MAIL_SENT = Phrase("Тестовое письмо успешно отправлено", "Test e-mail sent successfully")
"""Seed 001's words for a test e-mail that went out."""
TEST_MAIL_FAILED = Phrase(
    "Тестовое письмо не отправлено: {reason}", "Test e-mail not sent: {reason}"
)
"""Seed 001's words for a test e-mail that did not."""


def split_addresses(value: object) -> object:
    """Addresses written as one string ("a@x, b@y; c@z") as a list; a list as it is."""
    if isinstance(value, str):
        return [part.strip() for part in value.replace(";", ",").split(",") if part.strip()]
    return value


class MailSenderConfig(Protocol):
    """A configuration naming its own sender, each part optional."""

    @property
    def from_email(self) -> str | None:
        """The From address."""

    @property
    def from_name(self) -> str | None:
        """The sender name shown with the From address."""

    @property
    def reply_to(self) -> str | None:
        """The Reply-To address."""

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy with ``update`` applied (pydantic's)."""


M = TypeVar("M", bound=MailSenderConfig)


def with_project(config: M, project: ProjectSender) -> M:
    """The channel's sender completed from the project.

    From is the channel's ``fromEmail``, else the project's From address; the sender name
    is the channel's, else the project's, else the project's name; Reply-To is the
    channel's, else the project's, else the From address. Only a missing From address
    is an error: a ``config`` DeliveryError naming both places to set one.
    """
    from_email = config.from_email or project.from_address
    if not from_email:
        raise DeliveryError(
            FailureClass.CONFIG,
            "no sender address: set fromEmail on the channel or fromAddress with PUT "
            "/api/v1/settings/mail",
        )
    return config.model_copy(
        update={
            "from_email": from_email,
            "from_name": config.from_name or project.from_name or project.project_name or None,
            "reply_to": config.reply_to or project.reply_to or from_email,
        }
    )


def recipients(message: OutgoingMessage, default: Sequence[str]) -> list[str]:
    """Whom one message goes to: its own recipient (a person on a personal channel), else
    the channel's default recipients, each once.

    Raises a ``rejected`` DeliveryError when the message's recipient is no address, and a
    ``config`` one when there is no recipient at all or a default one is no address.
    """
    if message.recipient is not None and message.recipient.strip():
        try:
            return [mailbox(message.recipient).addr_spec]
        except ValueError as exc:
            raise DeliveryError(
                FailureClass.REJECTED, f"the recipient cannot be mailed: {exc}"
            ) from None
    if not default:
        raise DeliveryError(
            FailureClass.CONFIG,
            "no recipient: the message names none and the channel has no default "
            "recipients; set 'to' on the channel or give the message a recipient",
        )
    try:
        # The same address twice would get the alert twice.
        return list(dict.fromkeys(mailbox(address).addr_spec for address in default))
    except ValueError as exc:
        raise DeliveryError(
            FailureClass.CONFIG, f"the channel's default recipients are not usable: {exc}"
        ) from None


def sender_address(config: MailSenderConfig) -> str:
    """The From address of a configuration completed by :func:`with_project`, checked."""
    if not config.from_email:
        raise DeliveryError(
            FailureClass.CONFIG,
            "no sender address: set fromEmail on the channel or the project's mail settings",
        )
    try:
        return mailbox(config.from_email).addr_spec
    except ValueError as exc:
        raise DeliveryError(
            FailureClass.CONFIG, f"the channel's mail settings are not usable: {exc}"
        ) from None
