"""Length helpers: UTF-16 counting, truncation and splitting that never cut a code point."""

from __future__ import annotations

from nabat.channels.text_limits import split, truncate, utf16_len


def test_astral_characters_count_as_two_utf16_units() -> None:
    assert utf16_len("a🔥é") == 4


def test_truncation_never_splits_a_surrogate_pair() -> None:
    cut = truncate("🔥" * 10, 6)

    assert cut == "🔥🔥…"
    assert utf16_len(cut) <= 6


def test_text_that_fits_is_left_alone() -> None:
    assert truncate("exactly", 7) == "exactly"


def test_split_prefers_line_breaks_and_drops_blank_pieces() -> None:
    assert split("aaa\nbbb\n\n\nccc", 5) == ["aaa", "bbb", "ccc"]


def test_split_cuts_an_overlong_line_between_code_points() -> None:
    pieces = split("🔥" * 5 + "x", 3)

    assert "".join(pieces) == "🔥" * 5 + "x"
    assert all(utf16_len(piece) <= 3 for piece in pieces)


def test_split_measures_with_the_given_cost() -> None:
    pieces = split("&&&&", 10, cost=lambda char: 5 if char == "&" else 1)

    assert pieces == ["&&", "&&"]
