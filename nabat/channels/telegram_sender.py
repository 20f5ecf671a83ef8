"""TELEGRAM delivery: one ``sendMessage`` call (CONTRACTS.md section 1).

The bot token sits in the request path, so no URL ever goes into a reason or a log line:
the outbound client names the host only, and every reason is scrubbed of the token on the
way out in case a proxy in front of the Bot API echoes the URL back.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from nabat.channels.contract import DeliveryError, OutgoingMessage, Receipt
from nabat.channels.outbound import HttpAnswer, Outbound
from nabat.channels.redact import REDACTED, scrubbed
from nabat.channels.telegram_errors import NUMERIC_CHAT, WHAT, TelegramReply, classify_reply
from nabat.channels.telegram_text import TEXT_LIMIT, compose

if TYPE_CHECKING:
    from nabat.channels.telegram import TelegramConfig

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 15.0

# Anything shaped like a bot token (``123456:ABC…``), whoever's it is.
_TOKEN_SHAPE = re.compile(r"\d{3,}:[A-Za-z0-9_-]{20,}")


def chat_id_value(chat: str) -> int | str:
    """The ``chat_id`` as Telegram wants it: numeric ids as integers, ``@names`` as text."""
    return int(chat) if NUMERIC_CHAT.fullmatch(chat) else chat


def request_body(
    config: TelegramConfig, chat: str, text: str, *, parse_mode: str | None
) -> dict[str, Any]:
    """The ``sendMessage`` JSON body; optional fields only when they are set."""
    body: dict[str, Any] = {
        "chat_id": chat_id_value(chat),
        "text": text,
        "disable_notification": config.disable_notification,
        # Alerts carry URLs; a preview of the first one would only add noise.
        "link_preview_options": {"is_disabled": True},
    }
    if parse_mode:
        body["parse_mode"] = parse_mode
    if config.message_thread_id is not None:
        body["message_thread_id"] = config.message_thread_id
    return body


def scrub_token(error: DeliveryError, token: str) -> DeliveryError:
    """``error`` with the bot token, and anything shaped like a bot token, redacted."""
    error = scrubbed(error, token)
    if _TOKEN_SHAPE.search(error.reason) is None:
        return error
    return DeliveryError(
        error.failure_class,
        _TOKEN_SHAPE.sub(REDACTED, error.reason),
        status=error.status,
        retry_after=error.retry_after,
        config_update=error.config_update,
    )


class TelegramSender:
    """Posts a message to a chat with a bot's ``sendMessage``."""

    def __init__(self, outbound: Outbound, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self._outbound = outbound
        self._timeout_s = timeout_s

    async def send(self, config: TelegramConfig, message: OutgoingMessage) -> Receipt:
        """One delivery: ``sendMessage`` to the recipient (or the configured chat).

        When Telegram cannot parse the markup, the same text is sent again once as plain
        text without ``parse_mode``, within this attempt. Returns a receipt whose
        ``provider_id`` is Telegram's ``message_id``; raises :class:`DeliveryError`
        (never naming the token) otherwise.
        """
        token = config.bot_token.get_secret_value()
        try:
            return await self._send(config, message, token)
        except DeliveryError as exc:
            raise scrub_token(exc, token) from None

    async def _send(self, config: TelegramConfig, message: OutgoingMessage, token: str) -> Receipt:
        chat = (message.recipient or "").strip() or config.chat_id
        text = compose(message.subject, message.text, config.parse_mode)
        url = f"{config.api_base_url.rstrip('/')}/bot{token}/sendMessage"
        body = request_body(config, chat, text.formatted, parse_mode=config.parse_mode)
        answer = await self._post(url, body)
        reply = TelegramReply.read(answer)
        notes: list[str] = []
        if config.parse_mode and reply.cannot_parse_markup:
            log.warning(
                "Telegram could not parse the %s markup of delivery %s; resending as plain text",
                config.parse_mode,
                message.delivery_id,
            )
            notes.append(f"as plain text: Telegram could not parse the {config.parse_mode} markup")
            answer = await self._post(url, request_body(config, chat, text.plain, parse_mode=None))
            reply = TelegramReply.read(answer)
        if reply.ok and 200 <= reply.status < 300:
            if text.truncated:
                notes.append(f"cut to {TEXT_LIMIT} characters")
            detail = "; ".join([f"sent to chat {chat}", *notes])
            return Receipt(status=answer.status, provider_id=reply.message_id, detail=detail)
        raise classify_reply(reply, answer, chat=chat, migratable=chat == config.chat_id)

    async def check(self, config: TelegramConfig) -> Receipt:
        """``getMe``: the bot's token works and the Bot API answers, with no message sent."""
        token = config.bot_token.get_secret_value()
        url = f"{config.api_base_url.rstrip('/')}/bot{token}/getMe"
        try:
            answer = await self._post(url, {})
            reply = TelegramReply.read(answer)
            if not (reply.ok and 200 <= reply.status < 300):
                raise classify_reply(reply, answer, chat=config.chat_id, migratable=False)
        except DeliveryError as exc:
            raise scrub_token(exc, token) from None
        data = answer.json()
        result = data.get("result") if isinstance(data, dict) else None
        name = result.get("username") if isinstance(result, dict) else None
        return Receipt(status=answer.status, detail=f"the bot @{name or '?'} answers getMe")

    async def _post(self, url: str, body: dict[str, Any]) -> HttpAnswer:
        return await self._outbound.request(
            "POST", url, what=WHAT, timeout_s=self._timeout_s, json=body
        )
