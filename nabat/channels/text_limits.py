"""Provider length limits: measuring, truncating and splitting text without breaking it.

Providers count length in different units. Telegram's entity offsets are UTF-16 code units,
and the JavaScript-facing APIs (Discord, Slack) measure strings the same way, so counting
UTF-16 code units is the conservative choice everywhere: it is never less than the number
of code points. Cuts fall between code points, never inside a surrogate pair.
"""

from __future__ import annotations

from collections.abc import Callable

ELLIPSIS = "…"


def utf16_units(char: str) -> int:
    """How many UTF-16 code units one code point takes (1, or 2 outside the BMP)."""
    return 2 if ord(char) > 0xFFFF else 1


def utf16_len(text: str) -> int:
    """The length of ``text`` in UTF-16 code units."""
    return sum(utf16_units(char) for char in text)


def truncate(
    text: str,
    limit: int,
    *,
    marker: str = ELLIPSIS,
    cost: Callable[[str], int] = utf16_units,
) -> str:
    """``text`` unchanged when it fits in ``limit``, else cut so that it plus ``marker`` fits.

    ``cost`` measures one code point (UTF-16 units by default; a caller that escapes later
    passes the escaped size). Returns ``""`` when not even the marker fits.
    """
    if sum(cost(char) for char in text) <= limit:
        return text
    budget = limit - sum(cost(char) for char in marker)
    if budget < 0:
        return ""
    used = 0
    cut = 0
    for index, char in enumerate(text):
        used += cost(char)
        if used > budget:
            break
        cut = index + 1
    return text[:cut].rstrip() + marker


def split(text: str, limit: int, *, cost: Callable[[str], int] = utf16_units) -> list[str]:
    """Cut ``text`` into pieces of at most ``limit`` (measured by ``cost``), at line breaks
    when possible; a line longer than ``limit`` is cut between code points.

    Pieces that would hold only whitespace are dropped, so every piece is non-empty.
    """
    if limit <= 0:
        raise ValueError("limit must be positive")
    pieces: list[str] = []
    current: list[str] = []
    used = 0
    for line in text.splitlines(keepends=True):
        for part in _hard_split(line, limit, cost):
            size = sum(cost(char) for char in part)
            if current and used + size > limit:
                pieces.append("".join(current))
                current, used = [], 0
            current.append(part)
            used += size
    if current:
        pieces.append("".join(current))
    return [piece.strip("\r\n") for piece in pieces if piece.strip()]


def _hard_split(line: str, limit: int, cost: Callable[[str], int]) -> list[str]:
    parts: list[str] = []
    start = 0
    used = 0
    for index, char in enumerate(line):
        size = cost(char)
        if used + size > limit and index > start:
            parts.append(line[start:index])
            start, used = index, 0
        used += size
    parts.append(line[start:])
    return parts
