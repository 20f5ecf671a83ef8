"""The console's wording in Russian and English, and which of the two a visitor reads.

Every string a page shows comes from ``locales/<language>/*.json`` by key (one file per
group of pages, merged; a key in two files is an error); a key missing
from a catalogue renders as ``⟦key⟧`` so that a crawl of the pages finds it (and the
log says which), instead of silently showing the other language or the key itself.
"""

from __future__ import annotations

import functools
import json
import logging
from importlib import resources
from typing import Any

from nabat.sentences import Sentence

LANGUAGES = ("ru", "en")
DEFAULT_LANGUAGE = "ru"
LANGUAGE_NAMES = {"ru": "Русский", "en": "English"}

log = logging.getLogger("nabat.web")


def missing_mark(key: str) -> str:
    """What a key without wording renders as."""
    return f"⟦{key}⟧"


@functools.cache
def catalogue(language: str) -> dict[str, str]:
    """The wording of ``language`` (read once, on first use)."""
    entries: dict[str, str] = {}
    folder = resources.files("nabat.web").joinpath("locales", language)
    for part in sorted(folder.iterdir(), key=lambda item: item.name):
        if not part.name.endswith(".json"):
            continue
        more: dict[str, str] = json.loads(part.read_text("utf-8"))
        twice = entries.keys() & more.keys()
        if twice:
            raise ValueError(f"{language}/{part.name} repeats keys {sorted(twice)}")
        entries.update(more)
    return entries


def translate(language: str, key: str, **values: Any) -> str:
    """The sentence for ``key`` in ``language``, with ``{name}`` filled from ``values``."""
    text = catalogue(language).get(key)
    if text is None:
        log.warning("no %s wording for %r", language, key)
        return missing_mark(key)
    return text.format(**values) if values else text


@functools.cache
def sentences(language: str) -> dict[str, str]:
    """What the services' English sentences read as in ``language``: English template (or
    ``pydantic:<error type>``) → template, from ``locales/<language>/sentences/*.json``.
    English needs none: the template is the English."""
    entries: dict[str, str] = {}
    folder = resources.files("nabat.web").joinpath("locales", language, "sentences")
    if not folder.is_dir():
        return entries
    for part in sorted(folder.iterdir(), key=lambda item: item.name):
        if not part.name.endswith(".json"):
            continue
        more: dict[str, str] = json.loads(part.read_text("utf-8"))
        twice = entries.keys() & more.keys()
        if twice:
            raise ValueError(f"{language}/sentences/{part.name} repeats {sorted(twice)}")
        entries.update(more)
    return entries


def say(language: str, text: object) -> str:
    """A service's sentence (a :class:`Sentence`, or a literal ``str`` that is its own
    template) in ``language``, its values said in that language too. One the catalogue
    lacks stays English, which a person can still act on (the log says which, and a test
    keeps the code's templates in the catalogue)."""
    english = str(text)
    key = text.key if isinstance(text, Sentence) else english
    if language == "en":
        # The template is the English, said again from its values: a sentence the API
        # words in the project's language reads in English here too. pydantic's own are
        # its English as they stand.
        if not isinstance(text, Sentence) or key.startswith("pydantic:"):
            return english
        wording: str | None = key
    else:
        wording = sentences(language).get(key)
    if wording is None:
        log.warning("no %s wording for the sentence %r", language, key)
        return english
    if not isinstance(text, Sentence) or not text.params:
        return wording
    values = {
        name: say(language, value) if isinstance(value, Sentence) else value
        for name, value in text.params.items()
    }
    return wording.format(**values)


def choose_language(chosen: str | None, accept_language: str, project_language: str | None) -> str:
    """The visitor's own choice, else the first of the browser's languages we speak
    (``Accept-Language`` by its q-values), else the project's language, else Russian."""
    if chosen in LANGUAGES:
        return chosen
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and quality > 0:
            ranked.append((-quality, position, primary))
    if ranked:
        return min(ranked)[2]
    if project_language in LANGUAGES:
        return project_language
    return DEFAULT_LANGUAGE
