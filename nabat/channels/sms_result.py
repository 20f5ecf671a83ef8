"""What an SMS provider module answers for each number, and sending number by number."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

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
