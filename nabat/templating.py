"""Message templates: sandboxed Jinja2 per notification type and channel kind.

The delivery worker calls :func:`render_message` for every message; the template API
calls :func:`check_template` before saving, so that a broken template is refused with its
line and cause at save time instead of failing deliveries later. Templates run in the
sandbox of :mod:`nabat.message_templates.sandbox`; the variables they see are documented
in ``docs/templates.md``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from html import escape
from typing import Any

from jinja2 import Template, TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context

from nabat.catalogue import BY_KEY, CATALOGUE, LANGUAGES
from nabat.errors import ValidationFailed
from nabat.message_templates.defaults import default_fields
from nabat.message_templates.samples import sample_event
from nabat.message_templates.sandbox import MAX_OUTPUT, environment, time_budget
from nabat.message_templates.words import severity_title
from nabat.routing.snapshot import KINDS
from nabat.sentences import Sentence

__all__ = [
    "KINDS",
    "MAX_OUTPUT",
    "SUBJECT_MAX",
    "Rendered",
    "TemplateSource",
    "check_template",
    "default_template",
    "one_line",
    "render_message",
    "sample_event",
]

# RFC 5322 allows 998 characters a header line; mail clients show far fewer.
SUBJECT_MAX = 250
# One message's render (the worker's); and all trial renders of one save together.
RENDER_SECONDS = 1.0
CHECK_SECONDS = 2.0
# Compiled templates kept, by source text: a project's few dozen plus the defaults.
_CACHE_SIZE = 512
# A type outside the catalogue, so that saving checks the generic wording's path too.
_CUSTOM_TYPE = "backup.too_slow"
_SAMPLE_RECIPIENTS: dict[str, dict[str, Any]] = {
    "en": {"name": "Alex Morgan", "address": "alex.morgan@example.org"},
    "ru": {"name": "Анна Смирнова", "address": "anna.smirnova@example.org"},
}
_SAMPLE_PROJECT: dict[str, Any] = {"name": "Operations"}
# Characters that break a header line besides what str.split() already treats as space.
_LINE_BREAKING = frozenset({"Cc", "Zl", "Zp"})


@dataclass(frozen=True)
class TemplateSource:
    """What a template says; every field is a Jinja2 template.

    ``subject`` is the e-mail subject (or a chat title); ``html`` is for e-mail only.
    """

    subject: str | None
    text: str
    html: str | None = None


@dataclass(frozen=True)
class Rendered:
    """A rendered message.

    ``subject`` is always one line (see :func:`one_line`), so it can go into a mail
    header as it is; ``html`` is None when the kind or the template has no HTML part.
    ``link`` is what an in-app template set with ``{% set link = … %}`` (None when it set
    none, set something other than text, or the kind is not ``inapp``), unchecked.
    """

    subject: str
    text: str
    html: str | None
    link: str | None = None


def one_line(text: str, limit: int = SUBJECT_MAX) -> str:
    """``text`` as one header-safe line of at most ``limit`` characters.

    Every run of whitespace and control characters (``\\r``, ``\\n``, ``\\u2028``, …)
    becomes one space and the ends are stripped; a longer line is cut and ends in "…".
    """
    cleaned = "".join(
        " " if unicodedata.category(char) in _LINE_BREAKING else char for char in text
    )
    line = " ".join(cleaned.split())
    if len(line) > limit:
        line = line[: limit - 1].rstrip() + "…"
    return line


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        message = Sentence(
            "unknown channel kind {kind!r}; use one of: {kinds}", kind=kind, kinds=", ".join(KINDS)
        )
        raise ValidationFailed(
            Sentence("{field}: {message}", field="channelKind", message=message),
            details=[{"field": "channelKind", "message": message, "type": "value_error"}],
        )


@lru_cache(maxsize=256)
def default_template(type_key: str, kind: str, language: str) -> TemplateSource:
    """The built-in template of ``type_key`` on ``kind`` ("email", "chat", "sms", "inapp").

    Every catalogue type has its own headline; any other key gets generic wording built
    from the event's ``typeTitle``. ``language`` "ru" gets Russian, anything else English.
    Raises :class:`ValidationFailed` for an unknown kind.
    """
    _check_kind(kind)
    subject, text, html = default_fields(type_key, kind, language)
    return TemplateSource(subject=subject, text=text, html=html)


# --- compiling ---------------------------------------------------------------------------


def _refused(field: str, line: int | None, cause: str, during: str = "") -> ValidationFailed:
    """The 422 for a broken template: the field, the line (when known) and the cause."""
    # ``cause`` is ours (a Sentence) or the template engine's own English diagnosis.
    message = Sentence("{cause} ({during})", cause=cause, during=during) if during else cause
    if line:
        said = Sentence(
            "the {field} template, line {line}: {message}", field=field, line=line, message=message
        )
    else:
        said = Sentence("the {field} template: {message}", field=field, message=message)
    return ValidationFailed(
        said,
        details=[
            {
                "field": field,
                "line": line,
                "message": message,
                "type": "template_error",
            }
        ],
    )


_INCLUDES = (nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)


def _during(type_key: str, language: str) -> Sentence:
    """What a trial render that failed was rendering."""
    if language == "ru":
        return Sentence("with the sample {type} event in Russian", type=type_key)
    return Sentence("with the sample {type} event in English", type=type_key)


def _check_tree(tree: nodes.Template) -> None:
    """Refuse what the sandbox would only catch when a branch runs: private names
    (``x._y``, ``x['_y']``, ``x|attr('_y')``) and other templates (there are none)."""
    for node in tree.find_all((*_INCLUDES, nodes.Getattr, nodes.Getitem, nodes.Filter)):
        if isinstance(node, _INCLUDES):
            raise TemplateSyntaxError(
                "message templates cannot include, import or extend other templates",
                node.lineno,
            )
        name: object = None
        if isinstance(node, nodes.Getattr):
            name = node.attr
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            name = node.arg.value
        elif isinstance(node, nodes.Filter) and node.name == "attr" and node.args:
            first = node.args[0]
            name = first.value if isinstance(first, nodes.Const) else None
        if isinstance(name, str) and name.startswith("_"):
            raise TemplateSyntaxError(
                Sentence(
                    "access to {name!r} is not allowed: names starting with an underscore "
                    "are internal",
                    name=name,
                ),
                node.lineno,
            )


@lru_cache(maxsize=_CACHE_SIZE)
def _compiled(source: str, html: bool) -> Template:
    env = environment(html=html)
    tree = env.parse(source)
    _check_tree(tree)
    return env.from_string(tree)


def _compile(field: str, source: str) -> Template:
    try:
        return _compiled(source, field == "html")
    except TemplateSyntaxError as exc:
        raise _refused(field, exc.lineno, exc.message or str(exc)) from None


# --- rendering ---------------------------------------------------------------------------


def _template_line(exc: BaseException) -> int | None:
    """The template line an exception came from: Jinja2 rewrites the traceback so that
    template code shows as frames of the file ``<template>``."""
    line = None
    trace = exc.__traceback__
    while trace is not None:
        if trace.tb_frame.f_code.co_filename == "<template>":
            line = trace.tb_lineno
        trace = trace.tb_next
    return line


def _cause(exc: Exception) -> str:
    if isinstance(exc, SecurityError):
        return Sentence("blocked by the sandbox: {reason}", reason=str(exc))
    return str(exc) or type(exc).__name__


def _generate(template: Template, run: Context) -> Iterator[str]:
    """``template.generate``, with the context made by the caller so that the names the
    template sets can be read afterwards; errors get Jinja2's traceback of template lines
    as with ``generate``."""
    try:
        yield from template.root_render_func(run)
    except Exception:
        yield template.environment.handle_exception()


def _render_field(
    field: str, source: str, context: dict[str, Any], names: dict[str, Any] | None = None
) -> str:
    """One field rendered; with ``names``, the names the template set at its top level
    (``{% set link = … %}``) are put there."""
    template = _compile(field, source)
    pieces: list[str] = []
    size = 0
    try:
        # Streamed, so that a runaway loop stops at the cap rather than filling memory.
        run = template.new_context(context)
        for chunk in _generate(template, run):
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise _refused(
                    field,
                    None,
                    Sentence("renders to more than {most:,} characters", most=MAX_OUTPUT),
                )
            pieces.append(chunk)
    except ValidationFailed:
        raise
    except Exception as exc:  # anything template code raises is the template's fault
        raise _refused(field, _template_line(exc), _cause(exc)) from None
    if names is not None:
        names.update(run.get_exported())
    return "".join(pieces)


def _context(
    event: dict[str, Any],
    language: str,
    recipient: dict[str, Any] | None,
    project: dict[str, Any] | None,
) -> dict[str, Any]:
    type_key = str(event.get("type") or "")
    info = BY_KEY.get(type_key)
    severity = str(event.get("severity") or "")
    return {
        "event": event,
        "recipient": recipient,
        "project": project,
        "language": language,
        "type": {
            "key": type_key,
            "title": info.title(language) if info else str(event.get("typeTitle") or type_key),
            "description": info.description(language) if info else "",
        },
        "severity": {"key": severity, "title": severity_title(severity, language)},
    }


def _fields(source: TemplateSource, kind: str) -> list[tuple[str, str]]:
    """The fields a kind uses, with their sources: HTML only for e-mail."""
    fields = [("subject", source.subject), ("text", source.text)]
    if kind == "email":
        fields.append(("html", source.html))
    return [(field, text) for field, text in fields if text is not None]


def _with_signature(rendered: dict[str, str], kind: str, signature: str | None) -> None:
    signature = (signature or "").strip()
    # An SMS has no room for it, and an inbox item is one short notice in the product.
    if not signature or kind in ("sms", "inapp"):
        return
    # "-- " is the usenet/e-mail signature separator that mail clients recognise.
    rendered["text"] = f"{rendered['text']}\n\n-- \n{signature}"
    if "html" in rendered:
        block = "<p>" + "<br>\n".join(escape(line) for line in signature.splitlines()) + "</p>"
        html = rendered["html"]
        end = html.lower().rfind("</body>")
        rendered["html"] = f"{html[:end]}{block}\n{html[end:]}" if end >= 0 else html + block


def render_message(
    *,
    event: dict[str, Any],
    kind: str,
    language: str,
    template: TemplateSource | None,
    signature: str | None,
    recipient: dict[str, Any] | None = None,
    project: dict[str, Any] | None = None,
) -> Rendered:
    """Render one message for ``event`` on a channel of ``kind``.

    ``template`` None means the default of the event's type. The signature goes under the
    text (after the ``-- `` separator) and, escaped, into the HTML; never into SMS or an
    in-app item. An in-app text template may choose the item's link with
    ``{% set link = … %}`` (``Rendered.link``).
    Raises :class:`ValidationFailed` naming the field, line and cause when the template
    fails, takes too long or renders too large (a configuration fault, not a transient
    one).
    """
    _check_kind(kind)
    source = template or default_template(str(event.get("type") or ""), kind, language)
    context = _context(event, language, recipient, project)
    names: dict[str, Any] = {}
    with time_budget(RENDER_SECONDS):
        rendered = {
            field: _render_field(
                field, text, context, names if (kind, field) == ("inapp", "text") else None
            )
            for field, text in _fields(source, kind)
        }
    rendered = {field: value.rstrip() for field, value in rendered.items()}
    _with_signature(rendered, kind, signature)
    link = names.get("link")
    return Rendered(
        subject=one_line(rendered.get("subject", "")),
        text=rendered["text"],
        html=rendered.get("html"),
        link=link.strip() or None if isinstance(link, str) else None,
    )


def check_template(source: TemplateSource) -> None:
    """Refuse a template that cannot be delivered with.

    Compiles every field (syntax, unknown filters and tests, private names, includes),
    then renders it against the sample event of every catalogue type and of a custom
    type, in both languages, with and without a recipient, so that runtime errors show
    now. Raises :class:`ValidationFailed` naming the field (subject, text or html), the
    line and the cause; ``details[0]`` carries them as ``field``, ``line``, ``message``.
    """
    fields = _fields(source, "email")
    for field, text in fields:
        _compile(field, text)
    trials: list[tuple[str, str, dict[str, Any] | None, dict[str, Any] | None]] = [
        (info.key, language, _SAMPLE_RECIPIENTS[language], _SAMPLE_PROJECT)
        for info in CATALOGUE
        for language in LANGUAGES
    ]
    trials += [(_CUSTOM_TYPE, language, None, None) for language in LANGUAGES]
    with time_budget(CHECK_SECONDS):
        for type_key, language, recipient, project in trials:
            context = _context(sample_event(type_key, language), language, recipient, project)
            for field, text in fields:
                try:
                    _render_field(field, text, context)
                except ValidationFailed as exc:
                    detail = exc.details[0]
                    during = _during(type_key, language)
                    raise _refused(field, detail["line"], detail["message"], during) from None
