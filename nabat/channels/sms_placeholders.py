"""Placeholders of an SMS gateway's URL, header and body templates: ``{to}``, ``{text}``…

Only these names are replaced; every other brace is left as written, so a JSON body is
written as JSON (``{"to": "{to}", "text": "{text}"}``). Each value is escaped for where it
lands: percent-encoded in the URL and in a form body, JSON-escaped in a JSON body (the
template puts the quotes), on one line in a header.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Literal
from urllib.parse import quote, quote_plus

BodyFormat = Literal["JSON", "FORM", "TEXT"]

PLACEHOLDERS = ("to", "toDigits", "text", "sender", "secret", "deliveryId")
"""``to`` in E.164, ``toDigits`` without the +, the message ``text``, the ``sender`` id,
the gateway ``secret`` and Nabat's ``deliveryId`` (stable across retries)."""

_PLACEHOLDER = re.compile(r"\{([A-Za-z][A-Za-z0-9]*)\}")

SAMPLE: dict[str, str] = {
    "to": "+79255070602",
    "toDigits": "79255070602",
    "text": 'A "sample" text\non two lines & more',
    "sender": "Nabat",
    "secret": "sample-secret",
    "deliveryId": "dlv_sample",
}
"""Values to try a template with when it is saved."""

CONTENT_TYPES: dict[BodyFormat, str] = {
    "JSON": "application/json",
    "FORM": "application/x-www-form-urlencoded",
    "TEXT": "text/plain; charset=utf-8",
}


def used(template: str) -> set[str]:
    """The names in braces that ``template`` holds, known or not."""
    return set(_PLACEHOLDER.findall(template))


def unknown(template: str) -> list[str]:
    """The names in braces that are not placeholders, in order of appearance."""
    seen = [name for name in _PLACEHOLDER.findall(template) if name not in PLACEHOLDERS]
    return list(dict.fromkeys(seen))


def in_url(value: str) -> str:
    """A value percent-encoded for any part of a URL."""
    return quote(value, safe="")


def in_header(value: str) -> str:
    """A value on one line, for a header."""
    return " ".join(value.splitlines())


def in_json(value: str) -> str:
    """A value escaped for the inside of a JSON string."""
    return json.dumps(value, ensure_ascii=False)[1:-1]


BODY_ESCAPES: dict[BodyFormat, Callable[[str], str]] = {
    "JSON": in_json,
    "FORM": quote_plus,
    "TEXT": str,
}


def fill(template: str, values: Mapping[str, str], escape: Callable[[str], str]) -> str:
    """``template`` with each placeholder replaced by its escaped value (names that are
    not placeholders stay as written)."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        return escape(values[name]) if name in PLACEHOLDERS else match.group(0)

    return _PLACEHOLDER.sub(value, template)
