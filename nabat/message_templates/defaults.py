"""The default template of each notification type, channel kind and language."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from nabat.message_templates.words import GENERIC, HEADLINES

# One subject for every kind: e-mail needs it; chat and SMS senders may show it as a title.
SUBJECT = "[{{ event.severity }}] {{ headline }}"
# An inbox item's title: the inbox shows the severity beside it.
INAPP_SUBJECT = "{{ headline }}"
# Which fields each kind's layouts have: e-mail is multipart, the others plain text.
LAYOUT_FIELDS: dict[str, tuple[str, ...]] = {
    "email": ("text", "html"),
    "chat": ("text",),
    "sms": ("text",),
    "inapp": ("text",),
}


@cache
def layout(language: str, kind: str, field: str) -> str:
    """The layout file ``layouts/<language>/<kind>.<field>.j2`` (read once).

    Raises :class:`FileNotFoundError` for a combination that has no layout.
    """
    return files(__package__).joinpath("layouts", language, f"{kind}.{field}.j2").read_text("utf-8")


def default_fields(type_key: str, kind: str, language: str) -> tuple[str, str, str | None]:
    """``(subject, text, html)`` sources for a type on a kind in ``language``.

    ``html`` is None except for e-mail. An unknown type gets the generic headline (its
    ``typeTitle`` and what it is about); any language but "ru" gets English. Raises
    :class:`KeyError` for an unknown kind.
    """
    fields = LAYOUT_FIELDS[kind]
    language = "ru" if language == "ru" else "en"
    headline = HEADLINES.get(type_key, GENERIC).snippet(language)
    # Each field sets the headline itself, so any one of them can be copied and edited alone.
    prefix = f"{{% set headline %}}{headline}{{% endset %}}\n"
    html = prefix + layout(language, kind, "html") if "html" in fields else None
    subject = INAPP_SUBJECT if kind == "inapp" else SUBJECT
    return prefix + subject, prefix + layout(language, kind, "text"), html
