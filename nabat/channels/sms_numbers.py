"""Phone numbers for SMS: validated with ``phonenumbers`` and written in E.164
(CONTRACTS.md section 7)."""

from __future__ import annotations

import re

import phonenumbers

from nabat.sentences import Sentence

DEFAULT_REGION = "RU"

# What people write around the digits. Letters are refused before phonenumbers sees
# them: it would read 1-800-FLOWERS as digits, and an alert must not go to a guess.
_WRITTEN = re.compile(r"^\+?[\d\s\-().]+$")


def check_region(region: str) -> str:
    """``region`` upper-cased when it is a region code ``phonenumbers`` knows (``RU``,
    ``GB``); raises ``ValueError`` naming the problem otherwise."""
    code = region.strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(
            Sentence(
                "{region!r} is not a two-letter region code such as RU, KZ, BY, GB or US",
                region=region,
            )
        )
    return code


def to_e164(raw: str, region: str = DEFAULT_REGION) -> str:
    """The number ``raw`` in E.164 (``+79255070602``).

    ``raw`` may carry spaces, dashes, dots and parentheses; without a leading ``+`` it is
    read as a number of ``region`` (``89255070602`` in RU). Raises ``ValueError`` with a
    sentence saying what is wrong: letters, not a number, or not a valid number.
    """
    text = raw.strip()
    if not _WRITTEN.match(text):
        raise ValueError(
            Sentence(
                "{number!r} is not a phone number: use digits, optionally a leading + and "
                "spaces, dashes or parentheses (e.g. +7 925 507-06-02)",
                number=text,
            )
        )
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise ValueError(
            Sentence(
                "{number!r} is not a phone number; write it in international form, e.g. "
                "+79255070602",
                number=text,
            )
        ) from None
    if phonenumbers.is_valid_number(number):
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if text.startswith("+"):
        raise ValueError(
            Sentence(
                "{number!r} is not a valid phone number; check the country code and the "
                "number of digits (international form: +79255070602)",
                number=text,
            )
        )
    raise ValueError(
        Sentence(
            "{number!r} is not a valid phone number of region {region}; check the region "
            "and the number of digits, or write it in international form (+79255070602)",
            number=text,
            region=region,
        )
    )


def digits(e164: str) -> str:
    """An E.164 number without its ``+``, as SMS.ru and SMSC.ru want it."""
    return e164.removeprefix("+")
