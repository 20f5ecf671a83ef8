"""SMS encodings and segments: GSM-7 or UCS-2, how many parts a text takes, and
shortening a text to a number of parts.

A text that holds only characters of the GSM 03.38 alphabet (3GPP TS 23.038) travels as
GSM-7: 160 septets in one message, 153 a part once concatenated (the user data header
takes the rest); characters of the extension table take two septets (an escape and the
character). Anything else forces UCS-2 for the whole text: 70 UTF-16 code units alone,
67 a part, a character outside the BMP taking two. Russian text is UCS-2. Parts are
filled greedily and an escape or a surrogate pair is never split between two of them, as
the providers do, so a part may end a unit short.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Encoding = Literal["GSM-7", "UCS-2"]

GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
"""The GSM 03.38 default alphabet in table order, without 0x1B (the escape to the
extension table, not a character): 127 characters of one septet each."""
GSM7_EXTENSION = "\f^{}\\[~]|€"
"""Characters sent as escape + character: two septets each."""

_BASIC = frozenset(GSM7_BASIC)
_EXTENSION = frozenset(GSM7_EXTENSION)

SINGLE: dict[Encoding, int] = {"GSM-7": 160, "UCS-2": 70}
"""Units (septets, UTF-16 code units) in a message sent as one part."""
PART: dict[Encoding, int] = {"GSM-7": 153, "UCS-2": 67}
"""Units in each part of a concatenated message."""

GSM7_MARKER = "..."
UCS2_MARKER = "…"
"""What ends a shortened text; the GSM-7 one so that cutting never changes the encoding."""
WORD_SLACK = 15
"""How many characters a cut may give up to end at a word boundary."""

# Look-alikes that editors and templates put in otherwise plain text. A single one would
# turn the whole text into UCS-2, which halves the room and doubles the price (Healthchecks
# strips U+00A0 for exactly this reason, CONTRACTS.md section 7).
_LOOK_ALIKES = str.maketrans(
    {
        "\u00a0": " ",  # no-break space
        "\u2007": " ",  # figure space
        "\u2009": " ",  # thin space
        "\u202f": " ",  # narrow no-break space
        "\u200b": "",  # zero-width space
        "\ufeff": "",  # byte-order mark
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",  # minus sign
        "\u2026": "...",
        "\t": " ",
    }
)


def plain(text: str) -> str:
    """``text`` with typographic look-alikes (no-break and thin spaces, curly quotes,
    dashes, the ellipsis, tabs) replaced by their GSM-7 equivalents."""
    return text.translate(_LOOK_ALIKES)


def is_gsm7(text: str) -> bool:
    """Whether ``text`` can travel as GSM-7 (basic set and extension table only)."""
    return all(char in _BASIC or char in _EXTENSION for char in text)


def _cost(char: str, encoding: Encoding) -> int:
    if encoding == "GSM-7":
        return 2 if char in _EXTENSION else 1
    return 2 if ord(char) > 0xFFFF else 1


# A packing is (units in all, parts as concatenated parts, units in the last part).
_Packing = tuple[int, int, int]
_EMPTY: _Packing = (0, 1, 0)


def _add(packing: _Packing, cost: int, encoding: Encoding) -> _Packing:
    units, parts, fill = packing
    if fill + cost > PART[encoding]:
        return units + cost, parts + 1, cost
    return units + cost, parts, fill + cost


def _add_text(packing: _Packing, text: str, encoding: Encoding) -> _Packing:
    for char in text:
        packing = _add(packing, _cost(char, encoding), encoding)
    return packing


def _parts(packing: _Packing, encoding: Encoding) -> int:
    return 1 if packing[0] <= SINGLE[encoding] else packing[1]


@dataclass(frozen=True)
class Segments:
    """How a text travels: its encoding, its length in that encoding's units (septets or
    UTF-16 code units) and the number of parts (messages billed)."""

    encoding: Encoding
    units: int
    parts: int


def segments(text: str) -> Segments:
    """The encoding, length and number of parts of ``text`` (an empty text is one part)."""
    encoding: Encoding = "GSM-7" if is_gsm7(text) else "UCS-2"
    packing = _add_text(_EMPTY, text, encoding)
    return Segments(encoding, packing[0], _parts(packing, encoding))


def shorten(text: str, max_parts: int) -> str:
    """``text`` unchanged when it takes at most ``max_parts`` parts, else its longest
    beginning that fits with a marker (``...`` in GSM-7 text, ``…`` in UCS-2 text),
    ended at a word boundary when one is within :data:`WORD_SLACK` characters.

    The cut falls between characters, so never inside a surrogate pair or an escape; a
    beginning that is GSM-7 is measured as GSM-7 even when the rest of the text is not.
    Raises ``ValueError`` when ``max_parts`` is below 1.
    """
    if max_parts < 1:
        raise ValueError("max_parts must be at least 1")
    if segments(text).parts <= max_parts:
        return text
    packed: dict[Encoding, _Packing] = {"GSM-7": _EMPTY, "UCS-2": _EMPTY}
    encoding: Encoding = "GSM-7"
    kept = 0
    for index, char in enumerate(text):
        if encoding == "GSM-7" and not is_gsm7(char):
            encoding = "UCS-2"
        for each in packed:
            packed[each] = _add(packed[each], _cost(char, each), each)
        marker = GSM7_MARKER if encoding == "GSM-7" else UCS2_MARKER
        if _parts(_add_text(packed[encoding], marker, encoding), encoding) > max_parts:
            break
        kept = index + 1
    head = text[:kept]
    if kept < len(text) and not text[kept].isspace():
        # Cut inside a word: end at the space before it when one is near.
        space = max(head.rfind(" "), head.rfind("\n"))
        if space >= max(1, kept - WORD_SLACK):
            head = head[:space]
    # Only shorter for it: the marker still fits in the encoding it was measured in, or
    # in GSM-7 if what is left turned out to be GSM-7.
    head = head.rstrip()
    return head + (GSM7_MARKER if is_gsm7(head) else UCS2_MARKER)
