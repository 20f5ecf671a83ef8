"""SMS.ru: one ``/sms/send`` POST for all numbers, answered per number (CONTRACTS.md
section 7); ``/my/balance`` for the scheduled check.

SMS.ru answers HTTP 200 even for errors; its ``status_code`` decides, first for the
request as a whole, then for each number: a request that is OK may still refuse some
numbers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from nabat.channels.contract import DeliveryError, FailureClass
from nabat.channels.http_status import classify_status, parse_retry_after, snippet
from nabat.channels.outbound import HttpAnswer, Outbound
from nabat.channels.sms_numbers import digits
from nabat.channels.sms_result import OUR_BUG, Balance, Outcomes, Sent, money, provider_said

if TYPE_CHECKING:
    from nabat.channels.sms import SmsConfig

DEFAULT_BASE = "https://sms.ru"
WHAT = "SMS.ru"
ACCEPTED = 100

_AUTH = FailureClass.AUTH
_CONFIG = FailureClass.CONFIG
_REJECTED = FailureClass.REJECTED
_THROTTLED = FailureClass.THROTTLED

# https://sms.ru/api/send ; {number} is the recipient.
CODES: dict[int, tuple[FailureClass, str]] = {
    200: (_AUTH, "SMS.ru does not know this api_id; copy it again from the SMS.ru dashboard"),
    201: (_CONFIG, "the SMS.ru balance is too low to send this message; top up the account"),
    202: (_REJECTED, "{number} is not a number SMS.ru can send to"),
    203: (_REJECTED, "SMS.ru found the message text empty" + OUR_BUG),
    204: (
        _CONFIG,
        "the sender name is not approved by SMS.ru; have it approved, or leave sender empty",
    ),
    205: (_REJECTED, "SMS.ru found the message longer than 8 SMS" + OUR_BUG),
    206: (
        _THROTTLED,
        "the SMS.ru account reached its daily sending limit; raise it in the SMS.ru settings",
    ),
    207: (_REJECTED, "SMS.ru may not send messages to {number}"),
    208: (_REJECTED, "SMS.ru refused the send time" + OUR_BUG),
    209: (
        _REJECTED,
        "{number} is in the SMS.ru account's stop list; remove it there to send to it",
    ),
    210: (_REJECTED, "SMS.ru wanted a POST request" + OUR_BUG),
    211: (_CONFIG, "SMS.ru does not know the method called; check apiBaseUrl"),
    212: (_REJECTED, "SMS.ru could not read the text as UTF-8" + OUR_BUG),
    213: (_REJECTED, "SMS.ru got more than 100 numbers at once" + OUR_BUG),
    220: (FailureClass.UPSTREAM, "SMS.ru is temporarily unavailable; will retry"),
    230: (_THROTTLED, "SMS.ru's daily limit of messages to {number} is reached"),
    300: (_AUTH, "SMS.ru refused the token (it expired, or this server's address changed)"),
    301: (_AUTH, "SMS.ru refused the api_id; copy it again from the SMS.ru dashboard"),
    302: (_AUTH, "the SMS.ru account is not confirmed yet; confirm it in the SMS.ru dashboard"),
}

# Identical text to the same number within a minute (231) or a day (232): the number
# already got this text, most likely from an earlier attempt of this delivery whose
# answer was lost. Retrying cannot help and must not bill twice, so it counts as sent.
DUPLICATES = {231: "within the last minute", 232: "earlier today"}


def send_form(config: SmsConfig, numbers: list[str], text: str) -> dict[str, str]:
    """The form of one request: ``api_id``, the numbers without +, ``msg``, ``json=1``
    and ``from`` when a sender is set."""
    assert config.api_id is not None  # SmsConfig requires it for SMSRU
    form = {
        "api_id": config.api_id.get_secret_value(),
        "to": ",".join(digits(number) for number in numbers),
        "msg": text,
        "json": "1",
    }
    if config.sender:
        form["from"] = config.sender
    return form


def classify_code(code: int, text: object, number: str, status: int) -> DeliveryError:
    """The :class:`DeliveryError` of an SMS.ru ``status_code`` other than 100."""
    said = provider_said(text, code)
    failure_class, advice = CODES.get(
        code, (_REJECTED, "SMS.ru did not send the message to {number}")
    )
    return DeliveryError(failure_class, advice.format(number=number) + said, status=status)


def read(answer: HttpAnswer, numbers: list[str]) -> Outcomes:
    """Each number's outcome from an answer; raises :class:`DeliveryError` when the
    request as a whole failed."""
    who = ", ".join(numbers)
    if answer.status != 200:
        generic = classify_status(
            answer.status,
            body=answer.text,
            retry_after=parse_retry_after(answer.headers.get("Retry-After")),
            what=WHAT,
        )
        if generic is not None:
            raise generic
    data = answer.json()
    if not isinstance(data, dict) or "status" not in data:
        excerpt = snippet(answer.text) or "an empty body"
        raise DeliveryError(
            _REJECTED,
            f"{WHAT} answered HTTP {answer.status} with {excerpt!r} instead of its JSON, so "
            "the message may or may not have been sent; check apiBaseUrl",
            status=answer.status,
        )
    if data.get("status") != "OK":
        code = _int(data.get("status_code"))
        if code in DUPLICATES:
            return {number: _duplicate(number, code) for number in numbers}
        raise classify_code(code, data.get("status_text"), who, 200)
    per_number = data.get("sms")
    per_number = per_number if isinstance(per_number, dict) else {}
    return {number: _one(per_number.get(digits(number)), number) for number in numbers}


def _one(entry: Any, number: str) -> Sent | DeliveryError:
    if not isinstance(entry, dict):
        return DeliveryError(
            _REJECTED,
            f"{WHAT} accepted the request but said nothing about {number}; it may not "
            "have been sent",
            status=200,
        )
    code = _int(entry.get("status_code"))
    if entry.get("status") == "OK" and code == ACCEPTED:
        sms_id = entry.get("sms_id")
        return Sent(number, str(sms_id) if sms_id else None, 200)
    if code in DUPLICATES:
        return _duplicate(number, code)
    return classify_code(code, entry.get("status_text"), number, 200)


def _duplicate(number: str, code: int) -> Sent:
    note = f"not sent again: {WHAT} already sent this text to {number} {DUPLICATES[code]}"
    return Sent(number, None, 200, note=f"{note} (code {code})")


def _int(value: object) -> int:
    if isinstance(value, bool):
        return -1
    try:
        return int(str(value))
    except ValueError:
        return -1


async def send(
    outbound: Outbound, config: SmsConfig, numbers: list[str], text: str, delivery_id: str
) -> Outcomes:
    """One request for every number."""
    base = (config.api_base_url or DEFAULT_BASE).rstrip("/")
    answer = await outbound.request(
        "POST",
        f"{base}/sms/send",
        what=WHAT,
        timeout_s=config.timeout,
        data=urlencode(send_form(config, numbers, text)).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    return read(answer, numbers)


def read_balance(answer: HttpAnswer) -> Balance:
    """The balance in a ``/my/balance`` answer; raises :class:`DeliveryError` when
    SMS.ru refused the request (a wrong ``api_id`` is its code 200, as for a send)."""
    if answer.status != 200:
        generic = classify_status(
            answer.status,
            body=answer.text,
            retry_after=parse_retry_after(answer.headers.get("Retry-After")),
            what=WHAT,
        )
        if generic is not None:
            raise generic
    data = answer.json()
    if not isinstance(data, dict) or "status" not in data:
        excerpt = snippet(answer.text) or "an empty body"
        raise DeliveryError(
            _CONFIG,
            f"{WHAT} answered HTTP {answer.status} with {excerpt!r} instead of its JSON; "
            "check apiBaseUrl",
            status=answer.status,
        )
    if data.get("status") != "OK":
        code = _int(data.get("status_code"))
        known = CODES.get(code)
        if known is not None and "{number}" not in known[1]:
            raise classify_code(code, data.get("status_text"), "", 200)
        said = provider_said(data.get("status_text"), code)
        raise DeliveryError(_REJECTED, f"{WHAT} refused the balance request{said}", status=200)
    return Balance(f"the {WHAT} account", money(data.get("balance")))


async def balance(outbound: Outbound, config: SmsConfig) -> Balance:
    """The account's balance: one ``/my/balance`` POST with the ``api_id``, sending
    nothing."""
    assert config.api_id is not None  # SmsConfig requires it for SMSRU
    base = (config.api_base_url or DEFAULT_BASE).rstrip("/")
    form = {"api_id": config.api_id.get_secret_value(), "json": "1"}
    answer = await outbound.request(
        "POST",
        f"{base}/my/balance",
        what=WHAT,
        timeout_s=config.timeout,
        data=urlencode(form).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    return read_balance(answer)
