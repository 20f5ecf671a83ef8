"""Telegram's error table: reading a Bot API answer and classifying a failed send.

Telegram's ``description`` strings are the stable part of an error (the ``error_code`` "is
subject to change"), so they are matched first; the HTTP status decides the rest
(CONTRACTS.md section 1).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from nabat.channels.contract import DeliveryError, FailureClass
from nabat.channels.http_status import classify_status, parse_retry_after, snippet
from nabat.channels.outbound import HttpAnswer
from nabat.channels.telegram_text import TEXT_LIMIT

WHAT = "the Telegram Bot API"

NUMERIC_CHAT = re.compile(r"-?\d+")
_RETRY_AFTER_TEXT = re.compile(r"retry after (\d+)", re.IGNORECASE)

_GONE = FailureClass.GONE
_REJECTED = FailureClass.REJECTED


@dataclass(frozen=True)
class Rule:
    """One row of the error table: a fragment of Telegram's ``description``, its class
    and what a person has to do about it (``{chat}`` is replaced by the chat id)."""

    fragment: str
    failure_class: FailureClass
    advice: str


# Matched on Telegram's description, case-insensitively, first match wins. The exact
# strings are in CONTRACTS.md section 1; the error_code is documented as unstable.
RULES: tuple[Rule, ...] = (
    Rule(
        "chat not found",
        _GONE,
        "Telegram does not know chat {chat} or the bot is not in it: check the chat id; "
        "a person must open the bot and press Start, a group or channel must add the bot",
    ),
    Rule(
        "bot was blocked by the user",
        _REJECTED,
        "user {chat} blocked the bot; they must unblock it (open the bot and press Restart) "
        "before it can message them",
    ),
    Rule(
        "user is deactivated",
        _GONE,
        "the Telegram account {chat} was deleted; remove this recipient",
    ),
    Rule(
        "group chat was deleted",
        _GONE,
        "the group {chat} was deleted; point the channel at another chat",
    ),
    Rule(
        "bot was kicked from",
        _REJECTED,
        "the bot was removed from chat {chat}; add the bot to the chat again",
    ),
    Rule(
        "bot is not a member",
        _REJECTED,
        "the bot is not a member of chat {chat}; add the bot to the chat",
    ),
    Rule(
        "can't initiate conversation",
        _REJECTED,
        "the bot may not write first to user {chat}; they must open the bot in Telegram "
        "and press Start",
    ),
    Rule(
        "can't send messages to bots",
        _REJECTED,
        "chat {chat} is another bot, and bots cannot message bots; use a person's or a group's id",
    ),
    Rule(
        "not enough rights",
        _REJECTED,
        "the bot may not post in chat {chat}; give it permission to send messages "
        "(in a channel, make it an administrator)",
    ),
    Rule(
        "have no rights to send",
        _REJECTED,
        "the bot may not post in chat {chat}; give it permission to send messages "
        "(in a channel, make it an administrator)",
    ),
    Rule(
        "need administrator rights",
        _REJECTED,
        "the bot must be an administrator of chat {chat} to post there; promote it",
    ),
    Rule(
        "message thread not found",
        _REJECTED,
        "the topic set as messageThreadId does not exist in chat {chat}; correct messageThreadId",
    ),
    Rule(
        "topic_closed",
        _REJECTED,
        "the topic set as messageThreadId is closed; reopen it or choose another topic",
    ),
    Rule(
        "message is too long",
        _REJECTED,
        f"Telegram found the message too long although Nabat cut it to {TEXT_LIMIT} "
        "characters; please report this",
    ),
    Rule(
        "upgraded to a supergroup",
        _REJECTED,
        "the group {chat} was upgraded to a supergroup with a new id, which Telegram did not "
        "say; find the new id (it starts with -100) and update the chat id",
    ),
    Rule("message text is empty", _REJECTED, "the message had no text"),
    Rule(
        "can't parse entities",
        _REJECTED,
        "Telegram refused the message's markup even when it was resent as plain text; "
        "please report this",
    ),
)


@dataclass(frozen=True)
class TelegramReply:
    """The parts of a Bot API answer that decide the outcome."""

    status: int
    ok: bool = False
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)
    message_id: str | None = None

    @classmethod
    def read(cls, answer: HttpAnswer) -> TelegramReply:
        """Parse an answer; a body that is not the Bot API's JSON leaves only the status."""
        data = answer.json()
        if not isinstance(data, dict):
            return cls(status=answer.status)
        status = answer.status
        code = data.get("error_code")
        if 200 <= status < 300 and isinstance(code, int) and not isinstance(code, bool):
            status = code  # ok:false behind an HTTP 200 (a proxy): trust the error_code
        parameters = data.get("parameters")
        result = data.get("result")
        message_id = result.get("message_id") if isinstance(result, dict) else None
        return cls(
            status=status,
            ok=data.get("ok") is True,
            description=str(data.get("description") or ""),
            parameters=parameters if isinstance(parameters, dict) else {},
            message_id=None if message_id is None else str(message_id),
        )

    @property
    def cannot_parse_markup(self) -> bool:
        """Whether Telegram refused the text's markup (``can't parse entities``)."""
        return self.status == 400 and "can't parse entities" in self.description.lower()


def classify_reply(
    reply: TelegramReply, answer: HttpAnswer, *, chat: str, migratable: bool = True
) -> DeliveryError:
    """The :class:`DeliveryError` for a failed ``sendMessage``.

    ``migratable`` says whether ``chat`` is the channel's configured chat, so that a
    ``migrate_to_chat_id`` can update the configuration rather than a one-off recipient.
    """
    status = reply.status
    said = f' (Telegram said "{snippet(reply.description)}")' if reply.description else ""
    new_chat = _chat_param(reply.parameters.get("migrate_to_chat_id"))
    if new_chat is not None:
        moved = f"the group {chat} was upgraded to a supergroup, whose id is {new_chat}"
        if not migratable:
            return DeliveryError(
                _REJECTED, f"{moved}; send to {new_chat} instead{said}", status=status
            )
        return DeliveryError(
            FailureClass.CONFIG,
            f"{moved}; the channel's chat id is changed to it and the message sent again{said}",
            status=status,
            config_update={"chatId": new_chat},
        )
    lower = reply.description.lower()
    if status == 429 or "too many requests" in lower:
        wait = _retry_after(reply, answer)
        asked = f"; it asked to wait {wait:g} s" if wait is not None else ""
        return DeliveryError(
            FailureClass.THROTTLED,
            f"Telegram is rate limiting the bot{asked}{said}",
            status=status,
            retry_after=wait,
        )
    if status == 401:
        return DeliveryError(
            FailureClass.AUTH,
            f"the bot token was revoked or is wrong; get a new one from @BotFather{said}",
            status=status,
        )
    for rule in RULES:
        if rule.fragment in lower:
            return DeliveryError(
                rule.failure_class, rule.advice.format(chat=chat) + said, status=status
            )
    if status == 404:
        # The Bot API answers 404 for a token that is not even shaped right.
        return DeliveryError(
            FailureClass.AUTH,
            "the Bot API does not know this bot: the bot token is wrong (get it again from "
            f"@BotFather) or the API base URL is not a Bot API server{said}",
            status=status,
        )
    if status == 403:
        # Telegram's 403s are about the chat, not about the token (that is 401).
        return DeliveryError(
            _REJECTED, f"Telegram does not let the bot post in chat {chat}{said}", status=status
        )
    if 200 <= status < 300:
        return DeliveryError(
            FailureClass.UPSTREAM,
            f"Telegram answered HTTP {status} without confirming the message{said}",
            status=status,
        )
    generic = classify_status(
        status,
        body=reply.description or answer.text,
        retry_after=_retry_after(reply, answer),
        what="Telegram Bot API",
    )
    assert generic is not None  # 2xx was handled above
    return generic


def _chat_param(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) or (isinstance(value, str) and NUMERIC_CHAT.fullmatch(value)):
        return str(value)
    return None


def _retry_after(reply: TelegramReply, answer: HttpAnswer) -> float | None:
    value = reply.parameters.get("retry_after")
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    header = parse_retry_after(answer.headers.get("Retry-After"))
    if header is not None:
        return header
    found = _RETRY_AFTER_TEXT.search(reply.description)
    return float(found.group(1)) if found else None
