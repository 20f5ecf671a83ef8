"""Fake SMS providers on 127.0.0.1: Twilio, SMS.ru, SMSC.ru and a generic HTTP gateway.

Each checks its credentials and the request's shape the way the provider does and
answers with the provider's own bodies (CONTRACTS.md section 7): Twilio's error resource
(``code``, ``message``, ``more_info``, ``status``), SMS.ru's HTTP 200 JSON with a
``status_code`` for the request and for each number, SMSC.ru's ``fmt=3`` JSON
(``{"id", "cnt"}`` or ``{"error", "error_code"}``). The helpers build the error bodies
the tests script.

The account calls the scheduled check makes are there too, with the providers' bodies:
Twilio's account resource (``GET /2010-04-01/Accounts/{sid}.json``: ``status`` active,
suspended or closed, ``type`` Full or Trial) and balance resource (``…/Balance.json``:
``{"account_sid", "balance", "currency"}``, the balance a string), SMS.ru's
``/my/balance`` (``{"status": "OK", "status_code": 100, "balance": 4122.56}``, or its
error codes), SMSC.ru's ``/sys/balance.php`` with ``fmt=3`` (``{"balance": "…",
"currency": "…"}``, ``credit`` when the account has a credit limit, or
``{"error", "error_code"}``).
"""

from __future__ import annotations

import base64
import itertools
import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from nabat.channels.sms import SmsConfig
from tests.fakes.provider import FakeProvider, Recorded, Reply

# The channel types these fakes speak for (tests/test_channel_registry.py checks them).
SERVES = ("SMS",)

TWILIO_ACCOUNT_SID = "AC0123456789abcdef0123456789abcdef"
TWILIO_AUTH_TOKEN = "twilio-auth-token-5f2c9e8d7b6a"
TWILIO_SERVICE_SID = "MGfedcba9876543210fedcba9876543210"
SMSRU_API_ID = "0E1F2A3B-4C5D-6E7F-8091-A2B3C4D5E6F7"
SMSC_LOGIN = "nabat-alerts"
SMSC_PASSWORD = "smsc-password-71d3a9"
GATEWAY_KEY = "gateway-api-key-c0ffee1234"
TWILIO_BASIC = base64.b64encode(f"{TWILIO_ACCOUNT_SID}:{TWILIO_AUTH_TOKEN}".encode()).decode()
"""The Basic credentials Twilio gets, as the header carries them."""
SECRETS = (TWILIO_AUTH_TOKEN, TWILIO_BASIC, SMSRU_API_ID, SMSC_PASSWORD, GATEWAY_KEY)
"""Every credential the fakes know, in every form a request carries it."""

_E164 = re.compile(r"^\+[1-9]\d{1,14}$")
_TWILIO_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<sid>[^/]+)/Messages\.json$")
_TWILIO_ACCOUNT = re.compile(r"^/2010-04-01/Accounts/(?P<sid>[^/]+?)(?P<balance>/Balance)?\.json$")


def form_of(request: Recorded) -> dict[str, str]:
    """A form-encoded body (or query) as a flat dict."""
    text = request.body.decode() if request.body else ""
    fields = {key: values[-1] for key, values in parse_qs(text, keep_blank_values=True).items()}
    return {**request.query, **fields}


def twilio_error(status: int, code: int, message: str) -> Reply:
    """An error resource exactly as Twilio writes it."""
    return Reply.json(
        status,
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
    )


def smsru_error(code: int, text: str) -> Reply:
    """SMS.ru's failure of a whole request (HTTP 200, as it always answers)."""
    return Reply.json(200, {"status": "ERROR", "status_code": code, "status_text": text})


def smsru_number_error(number: str, code: int, text: str) -> Reply:
    """SMS.ru taking the request but refusing its one number (digits, no +)."""
    refused = {"status": "ERROR", "status_code": code, "status_text": text}
    return Reply.json(
        200, {"status": "OK", "status_code": 100, "sms": {number: refused}, "balance": 10.5}
    )


def smsc_error(code: int, text: str, **extra: Any) -> Reply:
    """SMSC.ru's ``fmt=3`` error (errors 3, 6, 7 and 8 also carry the message ``id``)."""
    return Reply.json(200, {"error": text, "error_code": code, **extra})


class TwilioFake(FakeProvider):
    """``POST /2010-04-01/Accounts/{AccountSid}/Messages.json``; ``opted_out`` numbers
    answer 21610, as after the person replied STOP. ``GET`` of the account and of its
    balance answer with ``status``, ``kind`` (Twilio's ``type``), ``balance`` and
    ``currency``."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[dict[str, str]] = []
        self.opted_out: set[str] = set()
        self.status = "active"
        self.kind = "Full"
        self.balance = "12.34"
        self.currency = "USD"
        self._ids = itertools.count(1)

    async def answer(self, request: Recorded) -> Reply:
        """Twilio's answer to ``request``."""
        account = _TWILIO_ACCOUNT.match(request.path)
        if account is not None and request.method == "GET":
            if not self._authorized(request, account["sid"]):
                return twilio_error(401, 20003, "Authenticate")
            return self._balance() if account["balance"] else self._account()
        route = _TWILIO_PATH.match(request.path)
        if route is None or request.method != "POST":
            return twilio_error(404, 20404, f"The requested resource {request.path} was not found")
        if not self._authorized(request, route["sid"]):
            return twilio_error(401, 20003, "Authenticate")
        form = form_of(request)
        to = form.get("To", "")
        if not _E164.match(to):
            return twilio_error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if ("From" in form) == ("MessagingServiceSid" in form):
            return twilio_error(400, 21603, "A 'From' or 'MessagingServiceSid' is required.")
        body = form.get("Body", "")
        if not body:
            return twilio_error(400, 21602, "Message body is required.")
        if len(body) > 1600:
            return twilio_error(
                400, 21617, "The concatenated message body exceeds the 1600 character limit."
            )
        if to in self.opted_out:
            return twilio_error(400, 21610, "Attempt to send to unsubscribed recipient")
        self.messages.append(form)
        sid = f"SM{next(self._ids):032x}"
        return Reply.json(
            201,
            {
                "account_sid": TWILIO_ACCOUNT_SID,
                "api_version": "2010-04-01",
                "body": body,
                "direction": "outbound-api",
                "error_code": None,
                "error_message": None,
                "from": form.get("From"),
                "messaging_service_sid": form.get("MessagingServiceSid"),
                "price": None,
                "sid": sid,
                "status": "queued",
                "to": to,
                "uri": f"/2010-04-01/Accounts/{TWILIO_ACCOUNT_SID}/Messages/{sid}.json",
            },
        )

    def _authorized(self, request: Recorded, sid: str) -> bool:
        return (
            request.headers.get("authorization") == f"Basic {TWILIO_BASIC}"
            and sid == TWILIO_ACCOUNT_SID
        )

    def _account(self) -> Reply:
        uri = f"/2010-04-01/Accounts/{TWILIO_ACCOUNT_SID}"
        return Reply.json(
            200,
            {
                "auth_token": TWILIO_AUTH_TOKEN,
                "date_created": "Mon, 05 Jan 2026 09:00:00 +0000",
                "date_updated": "Mon, 05 Jan 2026 09:00:00 +0000",
                "friendly_name": "Nabat alerts",
                "owner_account_sid": TWILIO_ACCOUNT_SID,
                "sid": TWILIO_ACCOUNT_SID,
                "status": self.status,
                "subresource_uris": {"balance": f"{uri}/Balance.json"},
                "type": self.kind,
                "uri": f"{uri}.json",
            },
        )

    def _balance(self) -> Reply:
        return Reply.json(
            200,
            {"account_sid": TWILIO_ACCOUNT_SID, "balance": self.balance, "currency": self.currency},
        )


class SmsRuFake(FakeProvider):
    """``POST /sms/send`` with ``json=1``; numbers in ``refused`` get their error code.
    ``/my/balance`` answers ``balance``."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[dict[str, str]] = []
        self.refused: dict[str, tuple[int, str]] = {}
        self.balance: float = 4122.56
        self._ids = itertools.count(10000001)

    async def answer(self, request: Recorded) -> Reply:
        """SMS.ru's answer to ``request``."""
        if request.path not in ("/sms/send", "/my/balance"):
            return smsru_error(211, "Метод не найден")
        if request.method != "POST":
            return smsru_error(210, "Используется GET, где необходимо использовать POST")
        form = form_of(request)
        if form.get("api_id") != SMSRU_API_ID:
            return smsru_error(200, "Неправильный api_id")
        if request.path == "/my/balance":
            return Reply.json(200, {"status": "OK", "status_code": 100, "balance": self.balance})
        if not form.get("msg"):
            return smsru_error(203, "Нет текста сообщения")
        numbers = [number for number in form.get("to", "").split(",") if number]
        if not numbers:
            return smsru_error(202, "Неправильно указан номер телефона получателя")
        self.messages.append(form)
        sms: dict[str, Any] = {}
        for number in numbers:
            if number in self.refused:
                code, text = self.refused[number]
                sms[number] = {"status": "ERROR", "status_code": code, "status_text": text}
            else:
                sms_id = f"000000-{next(self._ids)}"
                sms[number] = {"status": "OK", "status_code": 100, "sms_id": sms_id}
        document = {"status": "OK", "status_code": 100, "sms": sms, "balance": self.balance}
        return Reply.json(200, document)


class SmscFake(FakeProvider):
    """``/sys/send.php``; answers JSON with ``fmt=3``, SMSC.ru's text lines otherwise.
    ``/sys/balance.php`` answers ``balance`` (and ``credit`` when set), in RUR."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[dict[str, str]] = []
        self.balance = "1234.50"
        self.credit: str | None = None
        self._ids = itertools.count(101)

    async def answer(self, request: Recorded) -> Reply:
        """SMSC.ru's answer to ``request``."""
        form = form_of(request)
        as_json = form.get("fmt") == "3"

        def error(code: int, text: str) -> Reply:
            if as_json:
                return smsc_error(code, text)
            return Reply(200, f"ERROR = {code} ({text})")

        if request.path not in ("/sys/send.php", "/sys/balance.php"):
            return Reply(404, "<html><body>404 Not Found</body></html>", content_type="text/html")
        if form.get("login") != SMSC_LOGIN or form.get("psw") != SMSC_PASSWORD:
            return error(2, "authorise error")
        if request.path == "/sys/balance.php":
            return self._balance(form, as_json)
        phones = form.get("phones", "")
        if not re.fullmatch(r"\d{10,15}", phones):
            return error(7, "invalid phone")
        if not form.get("mes"):
            return error(1, "parameters error")
        self.messages.append(form)
        message_id = next(self._ids)
        if as_json:
            return Reply.json(200, {"id": message_id, "cnt": 1})
        return Reply(200, f"OK - 1 SMS, ID - {message_id}")

    def _balance(self, form: dict[str, str], as_json: bool) -> Reply:
        if not as_json:
            return Reply(200, self.balance)
        document: dict[str, str] = {"balance": self.balance}
        if self.credit is not None:
            document["credit"] = self.credit
        if form.get("cur") == "1":
            document["currency"] = "RUR"
        return Reply.json(200, document)


class GatewayFake(FakeProvider):
    """A typical HTTP SMS API: ``POST /api/send`` with a JSON body and an ``X-Api-Key``
    header, or ``GET /api/send?to=…&text=…&key=…``; answers ``{"status": "ok",
    "message": {"id": …}}``."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[dict[str, Any]] = []
        self._ids = itertools.count(1)

    async def answer(self, request: Recorded) -> Reply:
        """The gateway's answer to ``request``."""
        if request.path != "/api/send":
            return Reply.json(404, {"status": "error", "error": "not found"})
        if request.method == "GET":
            fields: dict[str, Any] = dict(request.query)
            key = fields.pop("key", None)
        else:
            document = request.json()
            fields = document if isinstance(document, dict) else {}
            key = request.headers.get("x-api-key")
        if key != GATEWAY_KEY:
            return Reply.json(401, {"status": "error", "error": "invalid api key"})
        if not fields.get("to") or not fields.get("text"):
            return Reply.json(400, {"status": "error", "error": "to and text are required"})
        self.messages.append(fields)
        return Reply.json(200, {"status": "ok", "message": {"id": f"gw-{next(self._ids)}"}})


@dataclass(frozen=True)
class SmsFakes:
    """One running fake per provider, and working configurations pointed at them."""

    twilio: TwilioFake
    smsru: SmsRuFake
    smsc: SmscFake
    gateway: GatewayFake

    def of(self, provider: str) -> FakeProvider:
        """The fake of a provider by its configuration name."""
        fakes: dict[str, FakeProvider] = {
            "TWILIO": self.twilio,
            "SMSRU": self.smsru,
            "SMSC": self.smsc,
            "GATEWAY": self.gateway,
        }
        return fakes[provider]

    def settings(self, provider: str, **overrides: Any) -> dict[str, Any]:
        """A working configuration of ``provider`` as a client writes it; an override of
        ``None`` leaves the key out."""
        keys: dict[str, dict[str, Any]] = {
            "TWILIO": {
                "accountSid": TWILIO_ACCOUNT_SID,
                "authToken": TWILIO_AUTH_TOKEN,
                "sender": "+12025550143",
                "apiBaseUrl": self.twilio.base_url,
            },
            "SMSRU": {"apiId": SMSRU_API_ID, "apiBaseUrl": self.smsru.base_url},
            "SMSC": {
                "smscLogin": SMSC_LOGIN,
                "smscPassword": SMSC_PASSWORD,
                "apiBaseUrl": self.smsc.base_url,
            },
            "GATEWAY": {
                "gatewayUrl": self.gateway.base_url + "/api/send",
                "gatewayHeaders": {"X-Api-Key": "{secret}"},
                "gatewaySecret": GATEWAY_KEY,
                "gatewayBody": '{"to": "{to}", "text": "{text}", "from": "{sender}"}',
                "gatewaySuccessPath": "status",
                "gatewaySuccessValue": "ok",
                "gatewayMessageIdPath": "message.id",
            },
        }
        raw = {"provider": provider, **keys[provider], **overrides}
        return {key: value for key, value in raw.items() if value is not None}

    def config(self, provider: str, **overrides: Any) -> SmsConfig:
        """:meth:`settings` as the validated model."""
        return SmsConfig.model_validate(self.settings(provider, **overrides))


@asynccontextmanager
async def running_sms_fakes() -> AsyncIterator[SmsFakes]:
    """All four fakes, listening until the block ends."""
    async with AsyncExitStack() as stack:
        yield SmsFakes(
            twilio=await stack.enter_async_context(TwilioFake()),
            smsru=await stack.enter_async_context(SmsRuFake()),
            smsc=await stack.enter_async_context(SmscFake()),
            gateway=await stack.enter_async_context(GatewayFake()),
        )
