"""The console's catalogues: each key once per file, the same keys in both languages, and
every registered channel type's name and fields worded in each.

``json`` keeps the last of two equal keys without a word, so a key added twice would show
the other text silently; these tests read the files as they are written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from nabat.channels.registry import CHANNEL_TYPES
from nabat.web.forms import form_fields

LOCALES = Path(__file__).parents[2] / "nabat" / "web" / "locales"
FILES = sorted(
    {
        str(path.relative_to(LOCALES / lang))
        for lang in ("en", "ru")
        for path in (LOCALES / lang).rglob("*.json")
    }
)


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    twice = sorted({key for key in keys if keys.count(key) > 1})
    assert not twice, f"keys written twice: {twice}"
    return dict(pairs)


@pytest.mark.parametrize("name", FILES)
def test_each_catalogue_has_each_key_once_and_both_languages_the_same_keys(name: str) -> None:
    read = {
        language: json.loads(path.read_text("utf-8"), object_pairs_hook=_unique_pairs)
        for language in ("en", "ru")
        if (path := LOCALES / language / name).exists()
    }
    # English sentences are their own keys: only Russian has a sentences catalogue.
    if not name.startswith("sentences"):
        assert set(read["en"]) == set(read["ru"])


@pytest.mark.parametrize("language", ["en", "ru"])
def test_every_registered_types_name_and_fields_are_worded_in_both_languages(
    language: str,
) -> None:
    worded: dict[str, str] = {}
    for path in (LOCALES / language).glob("*.json"):
        worded.update(json.loads(path.read_text("utf-8")))
    missing = [
        f"channels.type.{name}" for name in CHANNEL_TYPES if f"channels.type.{name}" not in worded
    ]
    missing += sorted(
        {
            f"channels.field.{spec.key}"
            for kind in CHANNEL_TYPES.values()
            for spec in form_fields(kind.config)
            if f"channels.field.{spec.key}" not in worded
        }
    )
    assert not missing, f"add to locales/{language}/channels.json: {missing}"
