"""SMS delivery: the numbers, the text cut to its parts, and the chosen provider.

The recipient is the person's phone (or, without one, the channel's default recipients),
normalised to E.164. The text is the rendered ``sms`` template with typographic
look-alikes made plain, shortened to ``maxSegments`` parts. Numbers the provider refuses
while it takes others are recorded as refused; secrets are scrubbed from every reason.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from nabat.channels import sms_gateway, sms_smsc, sms_smsru, sms_twilio
from nabat.channels.contract import DeliveryError, FailureClass, OutgoingMessage, Receipt
from nabat.channels.outbound import Outbound
from nabat.channels.redact import redact, scrubbed
from nabat.channels.sms_numbers import to_e164
from nabat.channels.sms_result import Outcomes, Sent
from nabat.channels.sms_segments import plain, segments, shorten

if TYPE_CHECKING:
    from nabat.channels.sms import SmsConfig

DEFAULT_TEXT = "Notification from Nabat"
"""Sent when a message has neither text nor subject: providers refuse empty texts."""

ProviderSend = Callable[[Outbound, "SmsConfig", list[str], str, str], Awaitable[Outcomes]]

PROVIDERS: dict[str, tuple[str, ProviderSend]] = {
    "TWILIO": ("Twilio", sms_twilio.send),
    "SMSRU": ("SMS.ru", sms_smsru.send),
    "SMSC": ("SMSC.ru", sms_smsc.send),
    "GATEWAY": ("the SMS gateway", sms_gateway.send),
}
"""Each provider's name for people and its send function."""


def recipients(config: SmsConfig, message: OutgoingMessage) -> list[str]:
    """The numbers to send to, in E.164: the message's recipient, else the channel's
    default recipients. Raises ``rejected`` for a recipient that is not a phone number
    and ``config`` when there is no one to send to."""
    raw = (message.recipient or "").strip()
    if raw:
        try:
            return [to_e164(raw, config.default_region)]
        except ValueError as exc:
            raise DeliveryError(
                FailureClass.REJECTED, f"cannot send an SMS to this recipient: {exc}"
            ) from None
    if config.default_recipients:
        return list(config.default_recipients)
    raise DeliveryError(
        FailureClass.CONFIG,
        "no one to send to: the message names no phone number and the channel has no "
        "defaultRecipients; add some, or give a recipient",
    )


def sms_text(message: OutgoingMessage, max_parts: int) -> tuple[str, bool]:
    """The text sent: the rendered text (else the subject) made plain, shortened to
    ``max_parts`` parts; and whether it had to be shortened."""
    text = plain(message.text).strip() or plain(message.subject).strip() or DEFAULT_TEXT
    short = shorten(text, max_parts)
    return short, short != text


class SmsSender:
    """Sends a text message through the provider the channel names."""

    def __init__(self, outbound: Outbound) -> None:
        self._outbound = outbound

    async def send(self, config: SmsConfig, message: OutgoingMessage) -> Receipt:
        """One attempt to every number. Returns a receipt when the provider took the
        message for at least one number (the others in ``refused``); its detail says the
        parts and encoding, its ``provider_id`` the provider's message id(s). Raises
        :class:`DeliveryError` when it took it for none: the first transient failure
        when there is one (so that a retry may help), else the first."""
        secrets = config.secret_texts()
        numbers = recipients(config, message)
        text, shortened = sms_text(message, config.max_segments)
        name, send = PROVIDERS[config.provider]
        try:
            outcomes = await send(self._outbound, config, numbers, text, message.delivery_id)
        except DeliveryError as exc:
            raise scrubbed(exc, *secrets) from None
        sent = [outcome for outcome in outcomes.values() if isinstance(outcome, Sent)]
        failed = {n: o for n, o in outcomes.items() if isinstance(o, DeliveryError)}
        if not sent:
            errors = list(failed.values())
            first = next((error for error in errors if error.transient), errors[0])
            raise scrubbed(first, *secrets)
        return Receipt(
            status=sent[0].status,
            provider_id=",".join(s.provider_id for s in sent if s.provider_id) or None,
            detail=_detail(name, sent, text, shortened=shortened),
            refused={n: redact(error.reason, *secrets) for n, error in failed.items()},
        )


def _detail(name: str, sent: list[Sent], text: str, *, shortened: bool) -> str:
    counted = segments(text)
    notes = [
        f"sent via {name} to {', '.join(s.number for s in sent)}",
        f"{counted.parts} SMS part{'s' if counted.parts != 1 else ''} ({counted.encoding})",
    ]
    if shortened:
        notes.append(f"text shortened to {len(text)} characters to fit")
    notes += [s.note for s in sent if s.note]
    return "; ".join(notes)
