"""One input policy for every route and every database, applied before any handler runs.

Text anywhere in a request (JSON body keys and strings, form fields, query parameters,
the path) may not hold control characters other than tab and line breaks: PostgreSQL
refuses NUL in text while SQLite stores it, so without this one check the same request
would be a 500 on one database and stored on the other; and no name, message or label
needs them. (Integers are bounded by the types of the fields that store them: free-form
``data`` keeps any JSON number exactly.)

A refusal is a 422 naming the field as the client wrote it (``events[0].message``), so
the client knows what to fix. The body is already buffered by
:class:`~nabat.api.body_limit.BodyLimitMiddleware` (which runs first); a cheap byte scan
decides whether the body needs the field-by-field walk, so ordinary requests pay a
regular-expression search and nothing else.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nabat.api.errors import error_body
from nabat.errors import ErrorCode

# C0 controls except tab, line feed and carriage return; DEL; C1 controls.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")

# Anything in raw JSON bytes that may decode to a control character: the escapes
# \u0000-\u001f, \u007f-\u009f, \b and \f, and raw DEL and C1 (UTF-8). A match only means
# "walk the body"; the walk decides.
_SUSPECT = re.compile(
    rb"\\u00[01][0-9a-f]|\\u00[89][0-9a-f]|\\u007f|\\[bf]|\x7f|\xc2[\x80-\x9f]",
    re.IGNORECASE,
)


def control_character(text: str) -> str | None:
    """The first control character in ``text`` that no field allows, as ``U+XXXX``."""
    found = _CONTROL.search(text)
    if found is None:
        return None
    code = ord(found.group())
    return f"U+{code:04X}" + (" (NUL)" if code == 0 else "")


def _problem(value: Any, where: str) -> tuple[str, str] | None:
    """The first offending place in a decoded JSON value: (field, what is wrong)."""
    if isinstance(value, str):
        code = control_character(value)
        if code is not None:
            return where or "body", _control_message(code)
    elif isinstance(value, dict):
        for key, item in value.items():
            field = f"{where}.{key}" if where else str(key)
            code = control_character(key)
            if code is not None:
                return field, f"this key {_control_message(code)}"
            found = _problem(item, field)
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _problem(item, f"{where}[{index}]")
            if found is not None:
                return found
    return None


def _control_message(code: str) -> str:
    return (
        f"contains the control character {code}; remove it (text may hold tab and line "
        "breaks, no other control characters)"
    )


def body_problem(body: bytes, content_type: bytes) -> tuple[str, str] | None:
    """What the policy refuses in a request body, or ``None``. A body that is not valid
    JSON is left for the route to refuse with its own message."""
    if content_type.startswith(b"application/x-www-form-urlencoded"):
        return _pairs_problem(body.decode("utf-8", errors="replace"))
    if not body or _SUSPECT.search(body) is None:
        return None
    try:
        # The standard library, not orjson: it reads integers of any size, as the
        # routes do.
        decoded = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return _problem(decoded, "")


def _pairs_problem(query: str) -> tuple[str, str] | None:
    for key, value in parse_qsl(query, keep_blank_values=True):
        code = control_character(key) or control_character(value)
        if code is not None:
            return key, _control_message(code)
    return None


class InputPolicyMiddleware:
    """Answer 422 for a request whose text or integers break the policy (see module)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the path, the query and the (buffered) body, then hand on."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path_code = control_character(scope["path"])
        if path_code is not None:
            await _refuse(send, 404, ErrorCode.NOT_FOUND, "no such endpoint; see /docs for the API")
            return
        query: bytes = scope.get("query_string", b"")
        # Only an escape can smuggle a control character into a query string.
        problem = _pairs_problem(query.decode("utf-8", errors="replace")) if b"%" in query else None
        if problem is None and scope["method"] not in ("GET", "HEAD", "OPTIONS", "DELETE"):
            message = await receive()
            body = message.get("body", b"")
            content_type = dict(scope["headers"]).get(b"content-type", b"")
            problem = body_problem(body, content_type.lower())
            receive = _replay(message, receive)
        if problem is None:
            await self.app(scope, receive, send)
            return
        field, what = problem
        if not scope["path"].startswith("/api/"):
            await _refuse_page(send, field)
            return
        await _refuse(
            send,
            422,
            ErrorCode.VALIDATION_ERROR,
            f"{field}: {what}",
            [{"field": field, "message": what, "type": "input_policy"}],
        )


def _replay(first: Message, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return first

    return replay


_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>422</title>
<link rel="stylesheet" href="/static/console.css"></head><body><main><section class="card">
<p class="error" lang="ru">Поле «{field}» содержит управляющий символ. Уберите его и отправьте
форму снова (табуляция и переводы строк допустимы).</p>
<p class="error" lang="en">The field “{field}” holds a control character. Remove it and send the
form again (tabs and line breaks are fine).</p>
<p><a href="/">Nabat</a></p></section></main></body></html>"""


async def _refuse_page(send: Send, field: str) -> None:
    # A console form: a person reads the answer, in either language (the policy runs
    # before the console knows the visitor's).
    payload = _PAGE.format(field=html.escape(field)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 422,
            "headers": [
                (b"content-type", b"text/html; charset=utf-8"),
                (b"content-length", str(len(payload)).encode("ascii")),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


async def _refuse(
    send: Send,
    status: int,
    code: ErrorCode,
    message: str,
    details: list[dict[str, Any]] | None = None,
) -> None:
    payload = orjson.dumps(error_body(code, message, details))
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode("ascii")),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
