"""The Jinja2 environments message templates run in.

Jinja2's immutable sandbox already keeps templates away from Python's internals (no
``__class__``, no ``_private`` attributes, no mutating methods). Templates here are also
run by the delivery worker, so on top of that this module bounds what one render may
cost: time (a deadline checked on every attribute, item, call and operator), and memory
(refusing the known amplifiers: repeating or padding a string, huge format widths, huge
powers, and any value over :data:`MAX_VALUE`). The rendered size is bounded by the caller.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from functools import cache
from typing import Any

from jinja2 import ChainableUndefined, pass_eval_context
from jinja2.exceptions import SecurityError
from jinja2.filters import do_center, do_format, do_indent, do_replace
from jinja2.nodes import EvalContext
from jinja2.runtime import Context, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup, escape

# The most characters a rendered field may have (the caller enforces it).
MAX_OUTPUT = 100_000
# The longest string, list or mapping a template may handle: twice the default limit of
# a request body, so real event data fits and a runaway doubling stops early.
MAX_VALUE = 2_000_000
# Width-like numbers (padding, indentation, repeat counts) above this are refused.
MAX_WIDTH = MAX_OUTPUT
_MAX_POWER_BITS = 100_000

# printf widths or precisions taken from an argument (*) or of six digits or more, and
# str.format specs with such a width or a nested field.
_PRINTF_BOMB = re.compile(r"%[#0\- +]*(?:\*|\d{6,}|\d*\.(?:\*|\d{6,}))")
_FORMAT_BOMB = re.compile(r"\{[^{}]*:[^{}]*(?:\d{6,}|\{)")

_deadline: ContextVar[float] = ContextVar("nabat_template_deadline", default=math.inf)


@contextmanager
def time_budget(seconds: float) -> Iterator[None]:
    """Let template code inside the block run for at most ``seconds`` in all.

    Past it, the next attribute, item, call or operator raises :class:`SecurityError`.
    """
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def _tick() -> None:
    if time.monotonic() > _deadline.get():
        raise SecurityError("the template takes too long to render; simplify its loops")


def _bounded(value: Any) -> Any:
    """``value`` itself, unless it is a string or collection too large to handle."""
    if isinstance(value, str | list | tuple | dict) and len(value) > MAX_VALUE:
        raise SecurityError(f"a value of more than {MAX_VALUE:,} characters or items is too large")
    return value


def _check_width(number: Any) -> None:
    if isinstance(number, int) and abs(number) > MAX_WIDTH:
        raise SecurityError(f"{number:,} is too large a width or count (at most {MAX_WIDTH:,})")


def _check_format_spec(spec: str) -> None:
    if _PRINTF_BOMB.search(spec) or _FORMAT_BOMB.search(spec):
        raise SecurityError(
            f"format widths and precisions must be under {MAX_WIDTH:,} and written in the "
            "format string itself"
        )


def _check_replace(text: str, old: str, new: str) -> None:
    count = len(text) + 1 if not old else text.count(old)
    if count * len(new) > MAX_VALUE:
        raise SecurityError("this replacement would make too large a string")


def _too_large(operator: str, left: Any, right: Any) -> bool:
    """Whether ``left operator right`` would build a string, list or number too large."""
    ints = isinstance(left, int) and isinstance(right, int)
    if operator == "**":
        return bool(ints and right > 0 and left.bit_length() * right > _MAX_POWER_BITS)
    if operator != "*":
        return False
    if ints:
        return bool(left.bit_length() + right.bit_length() > _MAX_POWER_BITS)
    for count, other in ((left, right), (right, left)):
        if isinstance(count, int) and isinstance(other, str | list | tuple):
            return count * len(other) > MAX_VALUE
    return False


def _check_binop(operator: str, left: Any, right: Any) -> None:
    if _too_large(operator, left, right):
        raise SecurityError(f"the {operator} here would make too large a value")
    if operator == "%" and isinstance(left, str):
        _check_format_spec(left)


class Sandbox(ImmutableSandboxedEnvironment):
    """Jinja2's immutable sandbox with the time and memory bounds described above.

    An unsafe attribute raises :class:`SecurityError` at once instead of rendering as
    an undefined value, so an escape attempt is refused rather than silently emptied.
    """

    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def unsafe_undefined(self, obj: Any, attribute: str) -> Undefined:
        """Refuse access to an attribute the sandbox deems unsafe."""
        raise SecurityError(f"{type(obj).__name__}.{attribute} is not available to templates")

    def getattr(self, obj: Any, attribute: str) -> Any:
        """``obj.attribute`` under the bounds."""
        _tick()
        if isinstance(obj, str) and attribute in ("format", "format_map"):
            _check_format_spec(obj)
        return _bounded(super().getattr(obj, attribute))

    def getitem(self, obj: Any, argument: Any) -> Any:
        """``obj[argument]`` under the bounds."""
        _tick()
        if isinstance(obj, str) and argument in ("format", "format_map"):
            _check_format_spec(obj)
        return _bounded(super().getitem(obj, argument))

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        """A call from template code (functions, methods, macros) under the bounds."""
        _tick()
        for value in (*args, *kwargs.values()):
            _bounded(value)
        receiver = getattr(obj, "__self__", None)
        if isinstance(receiver, str):
            # Padding methods (center, ljust, zfill, expandtabs, …) take widths.
            for value in (*args, *kwargs.values()):
                _check_width(value)
            if getattr(obj, "__name__", "") == "replace" and len(args) >= 2:
                _check_replace(receiver, str(args[0]), str(args[1]))
        return _bounded(super().call(context, obj, *args, **kwargs))

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        """An intercepted operator (``*``, ``**``, ``%``, ``+``) under the bounds."""
        _tick()
        _check_binop(operator, left, right)
        return _bounded(super().call_binop(context, operator, left, right))


# --- printing ---------------------------------------------------------------------------

# What ``{{ … }}`` may print: the values event data, settings and filters produce
# (datetime is a date). Anything else prints a Python representation, which would hand a
# template's readers memory addresses and class names (``<built-in method items of dict
# object at 0x…>``) and tell nothing a person needs.
_PRINTABLE_SCALARS = (str, int, float, date, type(None))


def _printable(value: Any) -> bool:
    if isinstance(value, _PRINTABLE_SCALARS):
        return True
    if isinstance(value, list | tuple):
        return all(_printable(item) for item in value)
    if isinstance(value, dict):
        return all(_printable(key) and _printable(item) for key, item in value.items())
    return False


def printed(value: Any) -> Any:
    """What a ``{{ … }}`` expression prints: ``value`` itself when it is text, a number,
    a boolean, ``None``, a date or a list or mapping of those; otherwise (an undefined
    value, a function, a method, a class, any other object) nothing."""
    if isinstance(value, Undefined) or not _printable(value):
        return ""
    return value


# --- filters ----------------------------------------------------------------------------


def oneline(value: Any) -> str:
    """Every run of whitespace (line breaks included) as one space, stripped."""
    return " ".join(str(value).split())


def format_datetime(value: Any) -> str:
    """An RFC 3339 timestamp as ``2025-03-14 09:26 UTC``; anything else as given."""
    text = "" if value is None or isinstance(value, Undefined) else str(value)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    offset = moment.utcoffset()
    zone = "UTC" if offset is not None and not offset else moment.strftime("%z")
    return f"{moment:%Y-%m-%d %H:%M} {zone}".rstrip()


def http_url(value: Any) -> str:
    """``value`` if it is an http(s) URL, else empty: what may go in an ``href``."""
    text = "" if value is None or isinstance(value, Undefined) else str(value).strip()
    return text if re.match(r"https?://", text, re.IGNORECASE) else ""


def nl2br(value: Any) -> Markup:
    """The text escaped for HTML, each line break as ``<br>``."""
    return Markup("<br>\n").join(escape(line) for line in str(value).splitlines())


def _center(value: str, width: int = 80) -> str:
    _check_width(width)
    return do_center(value, width)


def _indent(s: str, width: int | str = 4, first: bool = False, blank: bool = False) -> str:
    _check_width(width)
    if isinstance(width, str) and len(width) * (str(s).count("\n") + 1) > MAX_VALUE:
        raise SecurityError("indenting by this string would make too large a text")
    return do_indent(s, width, first, blank)


def _format(value: str, *args: Any, **kwargs: Any) -> str:
    _check_format_spec(str(value))
    return do_format(value, *args, **kwargs)


@pass_eval_context
def _replace(eval_ctx: EvalContext, s: str, old: str, new: str, count: int | None = None) -> str:
    _check_replace(str(s), str(old), str(new))
    return do_replace(eval_ctx, s, old, new, count)


@cache
def environment(*, html: bool) -> Sandbox:
    """The shared sandbox: autoescaping for HTML, plain for subject and text.

    Undefined values are lenient: a missing ``event.subject.title`` renders empty and
    chains (``a.b.c``) instead of failing, though arithmetic on one still fails. What
    ``{{ … }}`` prints goes through :func:`printed`.
    """
    env = Sandbox(
        autoescape=html,
        undefined=ChainableUndefined,
        finalize=printed,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # Paragraphs of lorem ipsum by the million: nothing a notification needs.
    del env.globals["lipsum"]
    env.filters.update(
        oneline=oneline,
        datetime=format_datetime,
        http_url=http_url,
        nl2br=nl2br,
        center=_center,
        indent=_indent,
        format=_format,
        replace=_replace,
    )
    return env
