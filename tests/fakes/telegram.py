"""A fake Telegram Bot API: ``POST /bot<token>/sendMessage`` with Telegram's own errors.

It parses ``HTML`` and ``MarkdownV2`` as strictly as Telegram documents (an unknown tag, an
unescaped reserved character or an unclosed entity is ``400 can't parse entities``) and
measures the parsed text in UTF-16 code units against the 4096 limit.
"""

from __future__ import annotations

import html
import re
import time
from dataclasses import dataclass
from typing import Any

from tests.fakes.provider import FakeProvider, Recorded, Reply

# The channel types this fake speaks for (tests/test_channel_registry.py checks them).
BOT_USERNAME = "nabat_test_bot"

SERVES = ("TELEGRAM",)

TOKEN = "123456789:AAH-test-token-0123456789abcdefXYZ"
"""A bot token the fake knows (shaped like a real one)."""

TEXT_LIMIT = 4096
HTML_TAGS = frozenset(
    {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre"}
    | {"tg-spoiler", "span", "blockquote", "tg-emoji"}
)
MARKDOWN_V2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")

_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)(?:\s[^<>]*)?>")
_ENTITY = re.compile(r"&(?:lt|gt|amp|quot|#\d+|#x[0-9A-Fa-f]+);")
_PATH = re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>[A-Za-z]+)$")


class MarkupError(ValueError):
    """Telegram's ``can't parse entities`` detail."""


def telegram_error(code: int, description: str, **parameters: Any) -> Reply:
    """An error exactly as the Bot API writes it."""
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return Reply.json(code, body)


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the way Telegram counts."""
    return len(text.encode("utf-16-le")) // 2


def _offset(text: str, index: int) -> int:
    return len(text[:index].encode())


def parse_html(text: str) -> str:
    """The visible text of Telegram HTML; raises :class:`MarkupError` like Telegram."""
    out: list[str] = []
    open_tags: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "<":
            tag = _TAG.match(text, i)
            if tag is None:
                raise MarkupError(f"Unexpected end of name token at byte offset {_offset(text, i)}")
            closing, name = tag.group(1), tag.group(2).lower()
            if name not in HTML_TAGS:
                kind = "end" if closing else "start"
                raise MarkupError(
                    f'Unsupported {kind} tag "{name}" at byte offset {_offset(text, i)}'
                )
            if closing:
                if not open_tags or open_tags[-1] != name:
                    raise MarkupError(
                        f'Can\'t find start tag corresponding to end tag "{name}" '
                        f"at byte offset {_offset(text, i)}"
                    )
                open_tags.pop()
            else:
                open_tags.append(name)
            i = tag.end()
        elif char == "&":
            entity = _ENTITY.match(text, i)
            if entity is None:
                raise MarkupError(f"Unsupported HTML entity at byte offset {_offset(text, i)}")
            out.append(html.unescape(entity.group(0)))
            i = entity.end()
        elif char == ">":
            raise MarkupError(f"Unexpected end tag at byte offset {_offset(text, i)}")
        else:
            out.append(char)
            i += 1
    if open_tags:
        raise MarkupError(f'Can\'t find end tag corresponding to start tag "{open_tags[-1]}"')
    return "".join(out)


_MARKERS = (
    ("||", "Spoiler"),
    ("__", "Underline"),
    ("*", "Bold"),
    ("_", "Italic"),
    ("~", "Strikethrough"),
)


def parse_markdown_v2(text: str) -> str:
    """The visible text of MarkdownV2 (styles and escapes; no links or code)."""
    out: list[str] = []
    open_entities: list[tuple[str, int]] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\":
            if i + 1 >= len(text) or not 1 <= ord(text[i + 1]) <= 126:
                raise MarkupError(f"Character '\\' is reserved at byte offset {_offset(text, i)}")
            out.append(text[i + 1])
            i += 2
            continue
        marker = next(((m, n) for m, n in _MARKERS if text.startswith(m, i)), None)
        if marker is not None:
            if open_entities and open_entities[-1][0] == marker[1]:
                open_entities.pop()
            else:
                open_entities.append((marker[1], _offset(text, i)))
            i += len(marker[0])
            continue
        if char in MARKDOWN_V2_RESERVED:
            raise MarkupError(
                f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
            )
        out.append(char)
        i += 1
    if open_entities:
        name, offset = open_entities[-1]
        raise MarkupError(f"Can't find end of {name} entity at byte offset {offset}")
    return "".join(out)


def parse_markdown(text: str) -> str:
    """The visible text of legacy Markdown (``*bold*``, ``_italic_``, escapes)."""
    out: list[str] = []
    open_marker: tuple[str, int] | None = None
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text) and text[i + 1] in "_*`[":
            out.append(text[i + 1])
            i += 2
            continue
        if char in "*_`":
            if open_marker is None:
                open_marker = (char, _offset(text, i))
            elif open_marker[0] == char:
                open_marker = None
            else:
                out.append(char)
            i += 1
            continue
        out.append(char)
        i += 1
    if open_marker is not None:
        raise MarkupError(f"Can't find end of the entity starting at byte offset {open_marker[1]}")
    return "".join(out)


PARSERS = {"HTML": parse_html, "MarkdownV2": parse_markdown_v2, "Markdown": parse_markdown}


@dataclass(frozen=True)
class Sent:
    """A message the fake accepted: where it went and the text as a chat shows it."""

    chat_id: int | str
    text: str
    parse_mode: str | None
    message_id: int


class TelegramFake(FakeProvider):
    """The Bot API for the bots in ``tokens``.

    ``migrated`` maps a group's chat id to its supergroup id (the group answers
    ``migrate_to_chat_id``); ``known_chats``, when set, is every chat that exists.
    """

    def __init__(self, tokens: tuple[str, ...] = (TOKEN,)) -> None:
        super().__init__()
        self.tokens = set(tokens)
        self.migrated: dict[int, int] = {}
        self.known_chats: set[int | str] | None = None
        self.sent: list[Sent] = []
        self._next_id = 1

    def api_base_url(self) -> str:
        """What to configure as ``apiBaseUrl``."""
        return self.base_url

    async def answer(self, request: Recorded) -> Reply:
        """Telegram's answer to ``request``."""
        route = _PATH.match(request.path)
        if route is None or request.method != "POST":
            return telegram_error(404, "Not Found")
        if route["token"] not in self.tokens:
            # The Bot API answers 401 for a well-formed but unknown token.
            if re.fullmatch(r"\d+:[A-Za-z0-9_-]+", route["token"]):
                return telegram_error(401, "Unauthorized")
            return telegram_error(404, "Not Found")
        if route["method"] == "getMe":
            bot_id = int(route["token"].split(":")[0]) if ":" in route["token"] else 1
            user = {"id": bot_id, "is_bot": True, "first_name": "Nabat", "username": BOT_USERNAME}
            return Reply.json(200, {"ok": True, "result": user})
        if route["method"] != "sendMessage":
            return telegram_error(404, "Not Found: method not found")
        return self._send_message(request.json())

    def _send_message(self, body: Any) -> Reply:
        if not isinstance(body, dict) or "chat_id" not in body:
            return telegram_error(400, "Bad Request: chat_id is empty")
        chat_id = body["chat_id"]
        if chat_id in self.migrated:
            return telegram_error(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                migrate_to_chat_id=self.migrated[chat_id],
            )
        if self.known_chats is not None and chat_id not in self.known_chats:
            return telegram_error(400, "Bad Request: chat not found")
        text = body.get("text")
        if not isinstance(text, str) or not text.strip():
            return telegram_error(400, "Bad Request: message text is empty")
        parse_mode = body.get("parse_mode")
        parser = PARSERS.get(parse_mode) if isinstance(parse_mode, str) else None
        if parse_mode is not None and parser is None:
            return telegram_error(400, f"Bad Request: unsupported parse_mode {parse_mode!r}")
        try:
            visible = parser(text) if parser else text
        except MarkupError as exc:
            return telegram_error(400, f"Bad Request: can't parse entities: {exc}")
        if utf16_len(visible.strip()) > TEXT_LIMIT:
            return telegram_error(400, "Bad Request: message is too long")
        message_id = self._next_id
        self._next_id += 1
        self.sent.append(Sent(chat_id, visible, parse_mode, message_id))
        return Reply.json(200, {"ok": True, "result": _message(message_id, chat_id, visible)})


def _message(message_id: int, chat_id: int | str, text: str) -> dict[str, Any]:
    if isinstance(chat_id, str):
        chat: dict[str, Any] = {"id": -1009876543210, "type": "channel", "username": chat_id[1:]}
    elif chat_id > 0:
        chat = {"id": chat_id, "type": "private", "first_name": "Alert"}
    else:
        chat = {"id": chat_id, "type": "supergroup" if str(chat_id).startswith("-100") else "group"}
    return {
        "message_id": message_id,
        "from": {"id": 123456789, "is_bot": True, "first_name": "Nabat", "username": "nabat_bot"},
        "chat": chat,
        "date": int(time.time()),
        "text": text,
    }
