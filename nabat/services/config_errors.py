"""Turn pydantic's validation errors on a channel configuration into sentences that say
what to fix: the field, the problem, and for unknown keys the keys the type accepts.

Each message is a :class:`~nabat.sentences.Sentence` whose English is what the API has
always answered; pydantic's own errors are known to the console's catalogues by their
type (``pydantic:string_too_long``) with pydantic's context as the values, so a form's
errors read in the console's language while the API keeps pydantic's English.
"""

from __future__ import annotations

import difflib
import typing
from typing import Any

from pydantic import ValidationError
from pydantic_core.core_schema import ErrorType

from nabat.channels.base import ChannelConfig
from nabat.errors import ValidationFailed
from nabat.sentences import Sentence

PYDANTIC_TYPES = frozenset(typing.get_args(ErrorType))
"""pydantic's own error types: the console words each of them in its catalogue."""

# pydantic joins the choices of an enum or literal as "'a', 'b' or 'c'".
_JOINED_CHOICES = ("enum", "literal_error")


def _pydantic_message(error: Any, english: str) -> str:
    """``english`` (pydantic's wording of ``error``) as a sentence the console can say."""
    kind = str(error["type"])
    # pydantic shows a whole float as a whole number ("less than or equal to 300").
    ctx = {
        name: int(value) if isinstance(value, float) and value.is_integer() else value
        for name, value in (error.get("ctx") or {}).items()
    }
    raised = ctx.get("error")
    if kind == "value_error" and isinstance(raised, Exception):
        # A validator's ValueError: its sentence is ours (a Sentence, or a literal that
        # is its own template).
        said = raised.args[0] if len(raised.args) == 1 else None
        return said if isinstance(said, Sentence) else english
    if kind in PYDANTIC_TYPES and not (kind == "value_error" and "error" not in ctx):
        expected = ctx.get("expected")
        if kind in _JOINED_CHOICES and isinstance(expected, str) and " or " in expected:
            some, _, last = expected.rpartition(" or ")
            ctx["expected"] = Sentence("{some} or {last}", some=some, last=last)
        return Sentence.worded(english, f"pydantic:{kind}", ctx)
    # A custom error (a library's own, like the e-mail check's): known by its type and
    # its template, which is its text with the context's values put back as placeholders.
    template = english.replace("{", "{{").replace("}", "}}")
    for name, value in sorted(ctx.items(), key=lambda item: -len(str(item[1]))):
        if isinstance(value, str) and value:
            template = template.replace(value.replace("{", "{{").replace("}", "}}"), f"{{{name}}}")
    return Sentence.worded(english, f"pydantic:{kind}:{template}", ctx)


def _describe(error: Any, model: type[ChannelConfig]) -> tuple[str, str]:
    # Checks across keys name the key at fault in their context (channels.base.config_error).
    ctx = error.get("ctx") or {}
    key = ctx.get("configKey")
    loc = str(key) if key else ".".join(str(part) for part in error["loc"])
    field = f"configuration.{loc}" if loc else "configuration"
    kind = error["type"]
    message: str
    if "message" in ctx:
        # channels.base.config_error, and the checks that word their error the same way.
        message = ctx["message"] if isinstance(ctx["message"], str) else str(ctx["message"])
    elif kind == "extra_forbidden":
        allowed = ", ".join(model.wire_keys())
        guess = difflib.get_close_matches(str(error["loc"][-1]), model.wire_keys(), n=1)
        if guess:
            message = Sentence(
                "unknown key for {type}; did you mean {guess!r}? allowed keys: {allowed}",
                type=model.type_name,
                guess=guess[0],
                allowed=allowed,
            )
        else:
            message = Sentence(
                "unknown key for {type}; allowed keys: {allowed}",
                type=model.type_name,
                allowed=allowed,
            )
    elif kind == "missing" and not key:
        message = Sentence("required for {type} but missing", type=model.type_name)
    else:
        message = _pydantic_message(error, str(error["msg"]).removeprefix("Value error, "))
    return field, message


def config_validation_failed(exc: ValidationError, model: type[ChannelConfig]) -> ValidationFailed:
    """Build the 422 for a configuration that does not fit ``model``."""
    details = []
    # An unknown key is usually the cause of a "missing" one (a typo), so it comes first.
    errors = sorted(
        exc.errors(include_url=False, include_input=False),
        key=lambda error: error["type"] != "extra_forbidden",
    )
    for error in errors:
        field, message = _describe(error, model)
        details.append({"field": field, "message": message, "type": error["type"]})
    first = details[0]
    if len(details) > 1:
        summary = Sentence(
            "{field}: {message} (and {more} more problem(s), see details)",
            field=first["field"],
            message=first["message"],
            more=len(details) - 1,
        )
    else:
        summary = Sentence("{field}: {message}", field=first["field"], message=first["message"])
    return ValidationFailed(summary, details=details)
