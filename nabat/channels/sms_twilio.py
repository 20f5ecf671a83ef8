"""Twilio Programmable Messaging: one ``Messages.json`` request per number (CONTRACTS.md
section 7), form-encoded, with HTTP Basic authentication.

The scheduled check fetches the account (``/Accounts/{sid}.json``: its ``status`` and
``type``) and its balance (``/Accounts/{sid}/Balance.json``), sending nothing.

Twilio advises against logic built on its error codes (it split several of them in
2024), so the HTTP status decides first and the codes only name the well-known cases.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from nabat.channels.contract import DeliveryError, FailureClass
from nabat.channels.http_status import classify_status, parse_retry_after
from nabat.channels.outbound import HttpAnswer, Outbound
from nabat.channels.redact import scrubbed
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

DEFAULT_BASE = "https://api.twilio.com"
WHAT = "Twilio"

_AUTH = FailureClass.AUTH
_CONFIG = FailureClass.CONFIG
_REJECTED = FailureClass.REJECTED
_THROTTLED = FailureClass.THROTTLED
_INACTIVE = (
    _CONFIG,
    "the Twilio account is not active (its balance ran out, it was suspended, or a trial "
    "was not activated); top it up or reactivate it in the Twilio Console",
)

# https://www.twilio.com/docs/api/errors ; {number} is the recipient.
ERRORS: dict[int, tuple[FailureClass, str]] = {
    10001: _INACTIVE,
    20003: (
        _AUTH,
        "Twilio refused the Account SID and Auth Token; copy both again from the Twilio Console",
    ),
    20005: _INACTIVE,
    20404: (_CONFIG, "Twilio knows no account with this Account SID; check accountSid"),
    20429: (_THROTTLED, "Twilio is rate limiting this account (too many requests at once)"),
    21211: (_REJECTED, "{number} is not a valid phone number for Twilio"),
    21212: (
        _CONFIG,
        "the sender is not a valid From for Twilio; use one of the account's numbers in "
        "E.164 or a registered sender id",
    ),
    21408: (
        _CONFIG,
        "this Twilio account may not send SMS to the country of {number}; allow it in the "
        "Twilio Console's Messaging Geo permissions",
    ),
    21602: (_REJECTED, "Twilio found the message text empty" + OUR_BUG),
    21603: (_CONFIG, "Twilio needs a From: set sender or messagingServiceSid"),
    21606: (
        _CONFIG,
        "the sender is not an SMS-capable Twilio number of this account for {number}; use "
        "another of its numbers or a Messaging Service",
    ),
    21608: (
        _CONFIG,
        "{number} is not verified, and a Twilio trial account sends only to verified "
        "numbers; verify it or upgrade the account",
    ),
    21610: (
        _REJECTED,
        "{number} unsubscribed from this sender (replied STOP); they must reply START to "
        "get messages again",
    ),
    21611: (_THROTTLED, "the sender has too many messages queued at Twilio"),
    21612: (_REJECTED, "Twilio cannot route a message from this sender to {number}"),
    21614: (_REJECTED, "{number} is not a mobile number and cannot receive SMS"),
    21617: (_REJECTED, "Twilio found the text over its 1,600-character limit" + OUR_BUG),
}


def basic_auth(account_sid: str, token: str) -> str:
    """The ``Authorization`` header value for the account."""
    pair = f"{account_sid}:{token}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


def message_form(config: SmsConfig, number: str, text: str) -> dict[str, str]:
    """The form fields of one message: ``To``, ``Body`` and exactly one of ``From`` and
    ``MessagingServiceSid``."""
    form = {"To": number, "Body": text}
    if config.messaging_service_sid is not None:
        form["MessagingServiceSid"] = config.messaging_service_sid
    else:
        form["From"] = config.sender or ""
    return form


def classify_answer(answer: HttpAnswer, number: str) -> DeliveryError:
    """The :class:`DeliveryError` for a Twilio answer that is not a 2xx."""
    status = answer.status
    data = answer.json()
    data = data if isinstance(data, dict) else {}
    code = data.get("code") if isinstance(data.get("code"), int) else None
    retry_after = parse_retry_after(answer.headers.get("Retry-After"))
    said = provider_said(data.get("message"), code)
    known = ERRORS.get(code) if code is not None and status < 500 else None
    if known is not None:
        failure_class, advice = known
        return DeliveryError(
            failure_class,
            advice.format(number=number) + said,
            status=status,
            retry_after=retry_after if failure_class.transient else None,
        )
    if status == 401:
        return DeliveryError(
            _AUTH,
            f"Twilio refused the credentials (HTTP 401){said}; check accountSid and authToken",
            status=status,
        )
    generic = classify_status(status, body=answer.text, retry_after=retry_after, what=WHAT)
    assert generic is not None  # callers pass failures only
    return generic


async def send(
    outbound: Outbound, config: SmsConfig, numbers: list[str], text: str, delivery_id: str
) -> Outcomes:
    """One request per number; a 2xx answer's ``sid`` is the message id."""
    # SmsConfig requires both for TWILIO.
    assert config.account_sid is not None
    assert config.auth_token is not None
    account = config.account_sid
    authorization = basic_auth(account, config.auth_token.get_secret_value())
    base = (config.api_base_url or DEFAULT_BASE).rstrip("/")
    url = f"{base}/2010-04-01/Accounts/{quote(account)}/Messages.json"
    headers = {
        "Authorization": authorization,
        "Content-Type": "application/x-www-form-urlencoded",
        "Accept": "application/json",
    }

    async def send_one(number: str) -> Sent:
        body = urlencode(message_form(config, number, text)).encode()
        try:
            answer = await outbound.request(
                "POST", url, what=WHAT, timeout_s=config.timeout, data=body, headers=headers
            )
            if not 200 <= answer.status < 300:
                raise classify_answer(answer, number)
        except DeliveryError as exc:
            raise scrubbed(exc, authorization, authorization.removeprefix("Basic ")) from None
        return Sent(number, _sid(answer.json()), answer.status)

    return await one_by_one(numbers, send_one)


def _sid(data: Any) -> str | None:
    sid = data.get("sid") if isinstance(data, dict) else None
    return sid if isinstance(sid, str) and sid else None


def read_account(answer: HttpAnswer) -> str | None:
    """What the account resource says worth noting (a trial account); raises
    :class:`DeliveryError` when the account cannot send: refused credentials, or an
    account that is suspended or closed."""
    if not 200 <= answer.status < 300:
        raise classify_answer(answer, "")
    data = answer.json()
    data = data if isinstance(data, dict) else {}
    status = data.get("status")
    if status == "suspended":
        raise DeliveryError(_INACTIVE[0], f"{_INACTIVE[1]} (its status is suspended)")
    if status == "closed":
        raise DeliveryError(
            _CONFIG,
            "the Twilio account is closed; use another account's accountSid and authToken",
        )
    if data.get("type") == "Trial":
        return "a trial account: it sends only to verified numbers"
    return None


def read_balance(answer: HttpAnswer, note: str | None) -> Balance:
    """The balance resource's amount and currency. A subaccount shows none (its parent's
    balance pays), nor does an answer without one."""
    account = f"the {WHAT} account"
    if answer.status == 404:
        return Balance(account, None, note=note)
    if not 200 <= answer.status < 300:
        raise classify_answer(answer, "")
    data = answer.json()
    data = data if isinstance(data, dict) else {}
    currency = data.get("currency")
    return Balance(
        account,
        money(data.get("balance")),
        currency if isinstance(currency, str) and currency else None,
        note=note,
    )


async def balance(outbound: Outbound, config: SmsConfig) -> Balance:
    """The account's state and balance: two GETs with the account's credentials."""
    # SmsConfig requires both for TWILIO.
    assert config.account_sid is not None
    assert config.auth_token is not None
    authorization = basic_auth(config.account_sid, config.auth_token.get_secret_value())
    base = (config.api_base_url or DEFAULT_BASE).rstrip("/")
    account_url = f"{base}/2010-04-01/Accounts/{quote(config.account_sid)}"
    headers = {"Authorization": authorization, "Accept": "application/json"}

    async def get(url: str) -> HttpAnswer:
        return await outbound.request(
            "GET", url, what=WHAT, timeout_s=config.timeout, headers=headers
        )

    try:
        note = read_account(await get(f"{account_url}.json"))
        return read_balance(await get(f"{account_url}/Balance.json"), note)
    except DeliveryError as exc:
        raise scrubbed(exc, authorization, authorization.removeprefix("Basic ")) from None
