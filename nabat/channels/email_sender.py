"""EMAIL delivery: one SMTP transaction over a pooled connection (CONTRACTS.md section 5).

The transaction is driven step by step (MAIL FROM, RCPT TO for each recipient, DATA)
rather than through ``sendmail``, so a failure names the step it happened at, a refused
recipient is known before DATA, and a connection lost during DATA is told apart from one
lost earlier (only the former may have delivered the message).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiosmtplib import (
    SMTP,
    SMTPException,
    SMTPNotSupported,
    SMTPRecipientRefused,
    SMTPRecipientsRefused,
    SMTPResponse,
    SMTPResponseException,
)

from nabat.channels.contract import DeliveryError, FailureClass, OutgoingMessage, Receipt
from nabat.channels.email_message import mailbox
from nabat.channels.email_wire import build_wire
from nabat.channels.redact import scrubbed
from nabat.channels.smtp_errors import classify_smtp_failure, recipient_reason, reply_text
from nabat.channels.smtp_pool import SmtpPools
from nabat.clock import Clock, SystemClock

if TYPE_CHECKING:
    from nabat.channels.email import EmailConfig

_DETAIL_LIMIT = 200


@dataclass
class _Progress:
    stage: str = "connect"


@dataclass(frozen=True)
class _Outcome:
    response: SMTPResponse
    refused: dict[str, SMTPRecipientRefused]


class EmailSender:
    """Sends one e-mail per call over a connection borrowed from ``pools``.

    Recipients are the message's own recipient when it has one, else the channel's
    ``to`` list; the envelope sender is ``fromEmail``.
    """

    def __init__(self, pools: SmtpPools, *, clock: Clock | None = None) -> None:
        self._pools = pools
        self._clock: Clock = clock or SystemClock()

    async def send(self, config: EmailConfig, message: OutgoingMessage) -> Receipt:
        """One SMTP transaction. Returns a :class:`Receipt` whose ``provider_id`` is the
        Message-ID and whose ``refused`` names recipients the server turned down while
        taking the message for others; raises :class:`DeliveryError` otherwise (classified
        per :mod:`nabat.channels.smtp_errors`). No reason ever holds the password."""
        password = config.password.get_secret_value() if config.password else ""
        try:
            return await self._send(config, message)
        except DeliveryError as exc:
            raise scrubbed(exc, password) from None

    async def check(self, config: EmailConfig) -> Receipt:
        """Connect, STARTTLS and log in as configured, and ``NOOP``: the server takes
        Nabat's mail, with no message sent. A pool of its own, so the check opens its own
        connection instead of borrowing one that logged in long ago."""
        password = config.password.get_secret_value() if config.password else ""
        try:
            async with self._pools.connection(
                self._pools.key_for(config, "check"), config
            ) as client:
                response = await client.noop()
        except (SMTPException, OSError, TimeoutError) as exc:
            error = classify_smtp_failure(exc, stage="connect", config=config, message_id="")
            if error is None:
                raise
            raise scrubbed(error, password) from None
        logged_in = " and took the login" if config.username else ""
        return Receipt(
            status=response.code,
            detail=f"the SMTP server answered{logged_in}: "
            + reply_text(response.code, response.message)[:_DETAIL_LIMIT],
        )

    async def _send(self, config: EmailConfig, message: OutgoingMessage) -> Receipt:
        sender, recipients = _envelope(config, message)
        needs_utf8 = not all(address.isascii() for address in (sender, *recipients))
        try:
            wire = build_wire(
                delivery_id=message.delivery_id,
                from_email=sender,
                from_name=config.from_name,
                to=tuple(recipients),
                subject=message.subject,
                text=message.text,
                html=message.html,
                reply_to=config.reply_to,
                now=self._clock.now(),
                utf8=needs_utf8,
            )
        except ValueError as exc:
            raise DeliveryError(
                FailureClass.CONFIG, f"the e-mail could not be built: {exc}"
            ) from None
        message_id, raw = wire.message_id, wire.raw
        progress = _Progress()
        try:
            async with self._pools.connection(self._pools.key_for(config), config) as client:
                outcome = await _transfer(client, sender, recipients, raw, needs_utf8, progress)
        except (SMTPException, OSError, TimeoutError) as exc:
            error = classify_smtp_failure(
                exc, stage=progress.stage, config=config, message_id=message_id
            )
            if error is None:
                raise
            raise error from None
        code, text = outcome.response.code, outcome.response.message
        refused = {
            address: recipient_reason(refusal) for address, refusal in outcome.refused.items()
        }
        accepted = len(recipients) - len(refused)
        detail = f"accepted for {accepted} of {len(recipients)} recipients: "
        detail += reply_text(code, text)[:_DETAIL_LIMIT]
        return Receipt(status=code, provider_id=message_id, detail=detail, refused=refused)


def _envelope(config: EmailConfig, message: OutgoingMessage) -> tuple[str, list[str]]:
    """The envelope sender and recipients, or a failure naming what is missing or wrong:
    ``config`` for the channel's settings, ``rejected`` for the message's own recipient."""
    if not config.from_email:
        raise DeliveryError(
            FailureClass.CONFIG,
            "no sender address: set fromEmail on the channel or the project's mail settings",
        )
    if message.recipient is not None and message.recipient.strip():
        try:
            recipients = [mailbox(message.recipient).addr_spec]
        except ValueError as exc:
            raise DeliveryError(
                FailureClass.REJECTED, f"the recipient cannot be mailed: {exc}"
            ) from None
    elif config.to:
        recipients = [str(address) for address in config.to]
    else:
        raise DeliveryError(
            FailureClass.CONFIG,
            "no recipient: the message names none and the channel has no default "
            "recipients; set 'to' on the channel or give the message a recipient",
        )
    try:
        sender = mailbox(str(config.from_email)).addr_spec
        # The same address twice would get the alert twice.
        recipients = list(dict.fromkeys(mailbox(address).addr_spec for address in recipients))
    except ValueError as exc:
        raise DeliveryError(
            FailureClass.CONFIG, f"the channel's mail settings are not usable: {exc}"
        ) from None
    return sender, recipients


async def _transfer(
    client: SMTP,
    sender: str,
    recipients: list[str],
    raw: bytes,
    needs_utf8: bool,
    progress: _Progress,
) -> _Outcome:
    """MAIL FROM, RCPT TO each recipient, DATA. On a refusal the envelope is reset (RSET)
    so the connection can go back to the pool; if even that fails it is closed."""
    encoding = "utf-8" if needs_utf8 else "ascii"
    options: list[str] = []
    if needs_utf8:
        if not client.supports_extension("smtputf8"):
            raise SMTPNotSupported(
                "a non-ASCII address needs the SMTPUTF8 extension, which the server lacks"
            )
        options.append("SMTPUTF8")
    if client.supports_extension("size"):
        # RFC 1870: a server that cannot take the size says so before we send the body.
        options.insert(0, f"SIZE={len(raw)}")
    try:
        progress.stage = "MAIL FROM"
        await client.mail(sender, options=options, encoding=encoding)
        progress.stage = "RCPT TO"
        refused: dict[str, SMTPRecipientRefused] = {}
        for recipient in recipients:
            try:
                await client.rcpt(recipient, encoding=encoding)
            except SMTPRecipientRefused as exc:
                refused[recipient] = exc
        if len(refused) == len(recipients):
            raise SMTPRecipientsRefused(list(refused.values()))
        progress.stage = "DATA"
        response = await client.data(raw)
    except (SMTPResponseException, SMTPRecipientsRefused):
        await _reset(client)
        raise
    return _Outcome(response, refused)


async def _reset(client: SMTP) -> None:
    if not client.is_connected:
        return
    try:
        await client.rset()
    except (SMTPException, OSError, TimeoutError):
        client.close()
