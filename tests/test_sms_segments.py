"""GSM-7 and UCS-2: which texts are which, how many parts they take at the boundaries,
and shortening that never cuts an escape or a surrogate pair."""

from __future__ import annotations

import pytest

from nabat.channels.sms_segments import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    Segments,
    is_gsm7,
    plain,
    segments,
    shorten,
)

LATIN = "a"
CYRILLIC = "ж"


def test_the_basic_alphabet_is_the_127_characters_of_gsm_03_38_without_the_escape() -> None:
    assert len(GSM7_BASIC) == 127
    assert len(set(GSM7_BASIC)) == 127
    assert "\x1b" not in GSM7_BASIC
    assert set(GSM7_BASIC).isdisjoint(GSM7_EXTENSION)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (LATIN * 160, Segments("GSM-7", 160, 1)),
        (LATIN * 161, Segments("GSM-7", 161, 2)),
        (LATIN * 153 * 2, Segments("GSM-7", 306, 2)),
        (LATIN * (153 * 2 + 1), Segments("GSM-7", 307, 3)),
        (CYRILLIC * 70, Segments("UCS-2", 70, 1)),
        (CYRILLIC * 71, Segments("UCS-2", 71, 2)),
        (CYRILLIC * 67 * 2, Segments("UCS-2", 134, 2)),
        (CYRILLIC * (67 * 2 + 1), Segments("UCS-2", 135, 3)),
        ("", Segments("GSM-7", 0, 1)),
    ],
    ids=["160", "161", "153x2", "153x2+1", "70", "71", "67x2", "67x2+1", "empty"],
)
def test_parts_at_the_boundaries(text: str, expected: Segments) -> None:
    assert segments(text) == expected


def test_one_cyrillic_letter_makes_a_latin_text_ucs2() -> None:
    assert segments(LATIN * 69 + CYRILLIC) == Segments("UCS-2", 70, 1)
    assert segments(LATIN * 70 + CYRILLIC) == Segments("UCS-2", 71, 2)


@pytest.mark.parametrize("char", list(GSM7_EXTENSION))
def test_extension_characters_take_two_septets(char: str) -> None:
    assert is_gsm7(char)
    assert segments(char * 80) == Segments("GSM-7", 160, 1)
    assert segments(char * 81).parts == 2


def test_an_escape_is_never_split_between_two_parts() -> None:
    # 152 septets, then a two-septet € that does not fit in the first part's 153.
    assert segments(LATIN * 152 + "€" + LATIN * 153).parts == 3
    assert segments(LATIN * 151 + "€" + LATIN * 153).parts == 2


def test_emoji_are_ucs2_and_take_two_units_each() -> None:
    assert not is_gsm7("🔥")
    assert segments("🔥" * 35) == Segments("UCS-2", 70, 1)
    assert segments("🔥" * 36) == Segments("UCS-2", 72, 2)


def test_a_surrogate_pair_is_never_split_between_two_parts() -> None:
    # 66 units, then a two-unit emoji that does not fit in the first part's 67.
    assert segments(CYRILLIC * 66 + "🔥" + CYRILLIC * 67).parts == 3
    assert segments(CYRILLIC * 65 + "🔥" + CYRILLIC * 67).parts == 2


def test_look_alikes_are_made_plain_so_an_ascii_alert_stays_gsm7() -> None:
    typed = "Disk\u00a0full \u2014 \u201cdb-1\u201d at 97%\u2026 it\u2019s\tdown"

    made_plain = plain(typed)

    assert made_plain == 'Disk full - "db-1" at 97%... it\'s down'
    assert not is_gsm7(typed)
    assert is_gsm7(made_plain)


def test_russian_punctuation_is_left_alone() -> None:
    assert plain("«Диск» — 97 %") == "«Диск» - 97 %"


def test_a_text_that_fits_is_not_shortened() -> None:
    assert shorten(CYRILLIC * 201, 3) == CYRILLIC * 201


@pytest.mark.parametrize(
    ("text", "max_parts", "kept", "marker"),
    [
        (LATIN * 500, 1, 157, "..."),
        (LATIN * 500, 3, 456, "..."),
        (CYRILLIC * 500, 1, 69, "…"),
        (CYRILLIC * 500, 3, 200, "…"),
    ],
)
def test_a_long_text_is_cut_to_fill_its_parts(
    text: str, max_parts: int, kept: int, marker: str
) -> None:
    short = shorten(text, max_parts)

    assert short == text[:kept] + marker
    assert segments(short).parts == max_parts


def test_shortening_never_cuts_an_escape() -> None:
    short = shorten("{" * 200, 1)

    assert short == "{" * 78 + "..."
    assert segments(short).units == 159


def test_shortening_never_cuts_a_surrogate_pair() -> None:
    short = shorten("🔥" * 100, 1)

    assert short == "🔥" * 34 + "…"
    assert segments(short).units == 69


def test_a_gsm7_beginning_is_kept_as_gsm7_when_the_cut_drops_the_rest() -> None:
    short = shorten(LATIN * 150 + CYRILLIC * 100, 1)

    assert short == LATIN * 150 + "..."
    assert segments(short).encoding == "GSM-7"


def test_at_least_one_part_is_required() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        shorten("x", 0)


def test_a_cut_inside_a_word_ends_at_the_space_before_it() -> None:
    text = "Disk full on db-1 " * 20

    short = shorten(text, 1)

    # 157 characters and the marker fill the part, but a cut there falls inside "db-1".
    assert short == "Disk full on db-1 " * 8 + "Disk full on..."
    assert segments(short).parts == 1


def test_a_word_longer_than_the_slack_is_cut_inside() -> None:
    text = "a " + "b" * 400

    assert shorten(text, 1) == "a " + "b" * 155 + "..."
