"""Telegram text: escaping golden outputs and the 4096-character limit after parsing."""

from __future__ import annotations

import pytest

from nabat.channels.telegram_text import compose, escape_html, escape_markdown, escape_markdown_v2
from tests.fakes.telegram import parse_html, parse_markdown, parse_markdown_v2, utf16_len


def test_html_escaping_matches_the_golden_output() -> None:
    text = compose("Disk <full> & co", 'x < y && z > w\n<b>not bold</b> "quoted"', "HTML")

    assert text.formatted == (
        "<b>Disk &lt;full&gt; &amp; co</b>\n"
        'x &lt; y &amp;&amp; z &gt; w\n&lt;b&gt;not bold&lt;/b&gt; "quoted"'
    )
    assert escape_html("<&>") == "&lt;&amp;&gt;"


def test_markdown_v2_escaping_matches_the_golden_output() -> None:
    specials = "_*[]()~`>#+-=|{}.!"
    assert len(specials) == 18

    assert escape_markdown_v2(specials + "\\") == (r"\_\*\[\]\(\)\~\`\>\#\+\-\=\|\{\}\.\!\\")
    assert compose("v1.2 [prod]", "a_b", "MarkdownV2").formatted == "*v1\\.2 \\[prod\\]*\na\\_b"


def test_a_5000_character_text_composes_within_the_limit_in_every_mode() -> None:
    body = "x&y<z>" * 834
    for mode, parser in (
        ("HTML", parse_html),
        ("MarkdownV2", parse_markdown_v2),
        ("Markdown", parse_markdown),
    ):
        text = compose("Subject", body, mode)
        assert utf16_len(parser(text.formatted)) <= 4096
        assert utf16_len(text.plain) <= 4096
        assert parser(text.formatted) == text.plain
        assert text.truncated


@pytest.mark.parametrize("mode", ["HTML", "MarkdownV2", "Markdown", None])
def test_the_plain_fallback_shows_what_the_formatted_text_shows(mode: str | None) -> None:
    text = compose("Sub*ject <1>", "body & _more_ [x]", mode)

    assert text.plain == "Sub*ject <1>\nbody & _more_ [x]"
    assert not text.truncated


def test_legacy_markdown_escapes_only_its_four_specials() -> None:
    assert escape_markdown("a_b*c`d[e]f.g") == "a\\_b\\*c\\`d\\[e]f.g"


def test_a_huge_subject_leaves_no_room_for_the_body_but_stays_within_the_limit() -> None:
    text = compose("s" * 5000, "body", "HTML")

    assert utf16_len(parse_html(text.formatted)) <= 4096
    assert text.formatted.startswith("<b>")
    assert text.formatted.endswith("…</b>")
