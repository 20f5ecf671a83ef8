"""SMSC.ru: one ``/sys/send.php`` POST per number with ``fmt=3`` (JSON answers) and
``charset=utf-8`` (its default is not UTF-8), CONTRACTS.md section 7.

Success is ``{"id": …, "cnt": …}``; failure ``{"error": …, "error_code": N}``. The
scheduled check asks ``/sys/balance.php`` (``{"balance": "…", "currency": "…"}``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from nabat.channels.contract import DeliveryError, FailureClass
from nabat.channels.http_status import classify_status, parse_retry_after, snippet
from nabat.channels.outbound import HttpAnswer, Outbound
from nabat.channels.sms_numbers import digits
from nabat.channels.sms_result import (
    OUR_BUG,
    Balance,
    Outcomes,
    Sent,
    money,
    one_by_one,
    provider_said,
)

if TYPE_CHECKING:
    from nabat.channels.sms import SmsConfig

DEFAULT_BASE = "https://smsc.ru"
WHAT = "SMSC.ru"

BLOCKED_WAIT_S = 600.0
"""How long to wait after error 4: SMSC.ru blocks an address for 10 minutes after 100
failed requests in a row, and for 30 minutes after 5 failed logins
(https://smsc.ru/faq/99)."""

_REJECTED = FailureClass.REJECTED

# https://smsc.ru/api/http/send/sms/sms_answer/ ; {number} is the recipient.
CODES: dict[int, tuple[FailureClass, str]] = {
    1: (
        _REJECTED,
        "SMSC.ru found an error in the request's parameters; check the sender name",
    ),
    2: (
        FailureClass.AUTH,
        "SMSC.ru refused the login and password (or this server's address is not among the "
        "account's allowed addresses); after 5 failed logins in 30 minutes it blocks the "
        "address for 30 minutes",
    ),
    3: (FailureClass.CONFIG, "the SMSC.ru balance is too low; top up the account"),
    4: (
        FailureClass.THROTTLED,
        "SMSC.ru has blocked this server's address for a while after too many failed "
        "requests; if this repeats, check the login, password and numbers",
    ),
    5: (_REJECTED, "SMSC.ru refused the date format" + OUR_BUG),
    6: (
        _REJECTED,
        "SMSC.ru forbids this message, for its text or for the sender name; check that the "
        "sender name is registered with SMSC.ru",
    ),
    7: (_REJECTED, "SMSC.ru does not accept {number} as a phone number"),
    8: (_REJECTED, "SMSC.ru cannot deliver messages to {number}"),
}

# https://smsc.ru/api/http/balance/balance_answer/
BALANCE_CODES: dict[int, tuple[FailureClass, str]] = {
    1: (_REJECTED, "SMSC.ru found an error in the balance request's parameters" + OUR_BUG),
    2: CODES[2],
    4: CODES[4],
    9: (
        FailureClass.THROTTLED,
        "SMSC.ru got too many balance requests from this server at once; the next check asks again",
    ),
}

DUPLICATE = 9
"""The same request again within a minute: the earlier one, most likely an attempt of
this delivery whose answer was lost, is taken as sent rather than sent twice."""


def send_form(config: SmsConfig, number: str, text: str) -> dict[str, str]:
    """The form of one request: login, password, the number without +, the text, JSON
    answers in UTF-8, and the sender when set."""
    # SmsConfig requires both for SMSC.
    assert config.smsc_login is not None
    assert config.smsc_password is not None
    form = {
        "login": config.smsc_login,
        "psw": config.smsc_password.get_secret_value(),
        "phones": digits(number),
        "mes": text,
        "fmt": "3",
        "charset": "utf-8",
    }
    if config.sender:
        form["sender"] = config.sender
    return form


def read(answer: HttpAnswer, number: str) -> Sent:
    """The outcome of one request; raises :class:`DeliveryError` when it failed."""
    generic = classify_status(
        answer.status,
        body=answer.text,
        retry_after=parse_retry_after(answer.headers.get("Retry-After")),
        what=WHAT,
    )
    if generic is not None:
        raise generic
    data = answer.json()
    if not isinstance(data, dict):
        excerpt = snippet(answer.text) or "an empty body"
        raise DeliveryError(
            _REJECTED,
            f"{WHAT} answered HTTP {answer.status} with {excerpt!r} instead of its JSON, so "
            "the message may or may not have been sent; check apiBaseUrl",
            status=answer.status,
        )
    code = data.get("error_code")
    if code is None and "error" not in data:
        return Sent(number, _id(data.get("id")), answer.status)
    if code == DUPLICATE:
        return Sent(
            number,
            _id(data.get("id")),
            answer.status,
            note=f"not sent again: {WHAT} took it for a repeat of a request made within the "
            "minute (error 9), which most likely sent it",
        )
    failure_class, advice = CODES.get(
        code if isinstance(code, int) else -1,
        (_REJECTED, "SMSC.ru did not send the message to {number}"),
    )
    raise DeliveryError(
        failure_class,
        advice.format(number=number) + provider_said(data.get("error"), code),
        status=answer.status,
        retry_after=BLOCKED_WAIT_S if failure_class is FailureClass.THROTTLED else None,
    )


def _id(value: Any) -> str | None:
    return None if value is None or isinstance(value, bool) else str(value)


async def send(
    outbound: Outbound, config: SmsConfig, numbers: list[str], text: str, delivery_id: str
) -> Outcomes:
    """One request per number."""
    base = (config.api_base_url or DEFAULT_BASE).rstrip("/")

    async def send_one(number: str) -> Sent:
        answer = await outbound.request(
            "POST",
            f"{base}/sys/send.php",
            what=WHAT,
            timeout_s=config.timeout,
            data=urlencode(send_form(config, number, text)).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        return read(answer, number)

    return await one_by_one(numbers, send_one)


def read_balance(answer: HttpAnswer) -> Balance:
    """The balance in a ``balance.php`` answer (``credit``, when the account has a credit
    limit, is added to it: SMSC.ru sends while their sum is above zero); raises
    :class:`DeliveryError` when SMSC.ru refused the request."""
    generic = classify_status(
        answer.status,
        body=answer.text,
        retry_after=parse_retry_after(answer.headers.get("Retry-After")),
        what=WHAT,
    )
    if generic is not None:
        raise generic
    data = answer.json()
    if not isinstance(data, dict):
        excerpt = snippet(answer.text) or "an empty body"
        raise DeliveryError(
            FailureClass.CONFIG,
            f"{WHAT} answered HTTP {answer.status} with {excerpt!r} instead of its JSON; "
            "check apiBaseUrl",
            status=answer.status,
        )
    code = data.get("error_code")
    if code is not None or "error" in data:
        failure_class, advice = BALANCE_CODES.get(
            code if isinstance(code, int) else -1,
            (_REJECTED, f"{WHAT} refused the balance request"),
        )
        raise DeliveryError(
            failure_class,
            advice + provider_said(data.get("error"), code),
            status=answer.status,
            retry_after=BLOCKED_WAIT_S if code == 4 else None,
        )
    amount = money(data.get("balance"))
    credit = money(data.get("credit"))
    currency = data.get("currency")
    return Balance(
        f"the {WHAT} account",
        amount + credit if amount is not None and credit is not None else amount,
        currency if isinstance(currency, str) and currency else None,
        note=f"with a credit limit of {credit}" if credit else None,
    )


async def balance(outbound: Outbound, config: SmsConfig) -> Balance:
    """The account's balance: one ``balance.php`` POST with the login and password,
    sending nothing."""
    # SmsConfig requires both for SMSC.
    assert config.smsc_login is not None
    assert config.smsc_password is not None
    base = (config.api_base_url or DEFAULT_BASE).rstrip("/")
    form = {
        "login": config.smsc_login,
        "psw": config.smsc_password.get_secret_value(),
        "fmt": "3",
        "cur": "1",
    }
    answer = await outbound.request(
        "POST",
        f"{base}/sys/balance.php",
        what=WHAT,
        timeout_s=config.timeout,
        data=urlencode(form).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    return read_balance(answer)
