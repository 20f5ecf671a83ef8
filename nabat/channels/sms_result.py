"""What an SMS provider module answers for each number, and sending number by number."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from nabat.channels.contract import DeliveryError, FailureClass
from nabat.channels.http_status import snippet

OUR_BUG = "; this is a bug in Nabat's SMS sender, please report it"


@dataclass(frozen=True)
class Sent:
    """The provider took the message for ``number`` (E.164).

    ``note`` says something worth recording, such as the provider taking a repeat as
    already sent.
    """

    number: str
    provider_id: str | None
    status: int
    note: str | None = None


Outcomes = dict[str, Sent | DeliveryError]
"""Per number (E.164): sent, or why not."""


@dataclass(frozen=True)
class Balance:
    """What a provider's account call said about the account: the money left (``None``
    when the provider shows none) and, where it says so, its currency.

    ``account`` names what answered (``the SMS.ru account``); ``note`` says something
    worth recording beside the balance (a Twilio trial account).
    """

    account: str
    amount: Decimal | None
    currency: str | None = None
    note: str | None = None


def money(value: object) -> Decimal | None:
    """A balance as a provider writes it (``4122.56``, ``"0.00"``), or ``None`` when it
    is no number."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


async def one_by_one(numbers: list[str], send_one: Callable[[str], Awaitable[Sent]]) -> Outcomes:
    """Send to each number in turn, for providers that take one number a request.

    A refusal of one number (``rejected``) does not stop the others. Any other failure
    is about the account or the provider, so the numbers after it are not tried (an
    SMSC.ru account is blocked after a few failed logins): raised when nothing was sent
    yet, else recorded for this number and the rest.
    """
    outcomes: Outcomes = {}
    for position, number in enumerate(numbers):
        try:
            outcomes[number] = await send_one(number)
        except DeliveryError as exc:
            if exc.failure_class is FailureClass.REJECTED:
                outcomes[number] = exc
                continue
            if not any(isinstance(outcome, Sent) for outcome in outcomes.values()):
                raise
            for rest in numbers[position:]:
                outcomes[rest] = exc
            break
    return outcomes


def provider_said(text: object, code: object = None) -> str:
    """`` (the provider said '…', code N)`` for a reason, or ``""`` with nothing said."""
    words = snippet(str(text)) if isinstance(text, str) and text.strip() else ""
    if not words and code is None:
        return ""
    if not words:
        return f" (code {code})"
    return f" (it said {words!r}" + (f", code {code})" if code is not None else ")")
