"""A generic HTTP SMS gateway: one request per number, built from the configured URL,
header and body templates, and judged by the configured success check.

Success is the configured statuses (any 2xx when none are set), then, when configured,
a JSON value at a path and a text the answer must hold. A 2xx that fails the check is
``rejected``, not retried: the gateway may have sent the message all the same, and an
SMS sent twice is billed twice.

A generic gateway has no request known to send nothing, so its scheduled check only
reaches it (:func:`reach`): the host resolved through the SSRF guard, a connection opened,
TLS negotiated for ``https``, and closed again without a byte of HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from nabat.channels.contract import DeliveryError, FailureClass
from nabat.channels.http_status import classify_status, parse_retry_after, snippet
from nabat.channels.outbound import HttpAnswer, Outbound
from nabat.channels.sms_numbers import digits
from nabat.channels.sms_placeholders import (
    BODY_ESCAPES,
    CONTENT_TYPES,
    fill,
    in_header,
    in_url,
)
from nabat.channels.sms_result import Outcomes, Sent, one_by_one
from nabat.security.ssrf import BlockedDestination, GuardedResolver

if TYPE_CHECKING:
    from nabat.channels.sms import SmsConfig

WHAT = "SMS gateway"

MISSING = object()
"""What :func:`at_path` returns for a path the document does not have."""


def values(config: SmsConfig, number: str, text: str, delivery_id: str) -> dict[str, str]:
    """What each placeholder stands for in a request to ``number``."""
    secret = config.gateway_secret.get_secret_value() if config.gateway_secret else ""
    return {
        "to": number,
        "toDigits": digits(number),
        "text": text,
        "sender": config.sender or "",
        "secret": secret,
        "deliveryId": delivery_id,
    }


def request_parts(
    config: SmsConfig, filled: dict[str, str]
) -> tuple[str, dict[str, str], bytes | None]:
    """The URL, headers and body of one request, placeholders filled in and escaped."""
    assert config.gateway_url is not None  # SmsConfig requires it for GATEWAY
    url = fill(config.gateway_url, filled, in_url)
    headers = {
        name: fill(value, filled, in_header) for name, value in config.gateway_headers.items()
    }
    if not config.gateway_body:
        return url, headers, None
    fmt = config.body_format
    if not any(name.lower() == "content-type" for name in headers):
        headers["Content-Type"] = CONTENT_TYPES[fmt]
    return url, headers, fill(config.gateway_body, filled, BODY_ESCAPES[fmt]).encode()


def at_path(document: Any, path: str) -> Any:
    """The value at a dotted ``path`` (``result.0.id``), or a sentinel when absent."""
    node = document
    for key in path.split("."):
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            return MISSING
    return node


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _failed_check(answer: HttpAnswer, why: str) -> DeliveryError:
    excerpt = snippet(answer.text)
    said = f": {excerpt}" if excerpt else ""
    return DeliveryError(
        FailureClass.REJECTED,
        f"the {WHAT} answered HTTP {answer.status} but {why}, so it did not confirm the "
        f"message; not retried, as it may have sent it all the same{said}",
        status=answer.status,
    )


def judge(config: SmsConfig, answer: HttpAnswer, number: str) -> Sent:
    """The outcome of one request; raises :class:`DeliveryError` when it failed."""
    statuses = config.gateway_success_statuses
    generic = classify_status(
        answer.status,
        body=answer.text,
        retry_after=parse_retry_after(answer.headers.get("Retry-After")),
        what=WHAT,
    )
    if statuses and answer.status not in statuses:
        listed = ", ".join(map(str, statuses))
        raise generic or _failed_check(answer, f"gatewaySuccessStatuses are {listed}")
    if not statuses and generic is not None:
        raise generic
    document = answer.json()
    path = config.gateway_success_path
    if path is not None:
        found = at_path(document, path)
        expected = config.gateway_success_value
        if found is MISSING:
            raise _failed_check(answer, f"its answer has no {path}")
        if expected is not None and _as_text(found) != expected:
            raise _failed_check(answer, f"{path} is {_as_text(found)!r}, not {expected!r}")
        if expected is None and not found:
            raise _failed_check(answer, f"{path} is {_as_text(found)!r}")
    contains = config.gateway_success_contains
    if contains is not None and contains not in answer.text:
        raise _failed_check(answer, f"its answer does not hold {contains!r}")
    message_id = None
    if config.gateway_message_id_path is not None:
        found = at_path(document, config.gateway_message_id_path)
        if found is not MISSING and found is not None and not isinstance(found, dict | list):
            message_id = _as_text(found)
    return Sent(number, message_id, answer.status)


async def send(
    outbound: Outbound, config: SmsConfig, numbers: list[str], text: str, delivery_id: str
) -> Outcomes:
    """One request per number."""

    async def send_one(number: str) -> Sent:
        url, headers, body = request_parts(config, values(config, number, text, delivery_id))
        answer = await outbound.request(
            config.method, url, what=WHAT, timeout_s=config.timeout, data=body, headers=headers
        )
        return judge(config, answer, number)

    return await one_by_one(numbers, send_one)


async def reach(outbound: Outbound, config: SmsConfig) -> str:
    """Open a connection to the gateway's host as a send would (through the guard, TLS
    verified for ``https``) and close it without a request; return what answered.

    Raises :class:`DeliveryError`: ``config`` for a refused destination or a certificate
    this machine does not trust, ``network`` when no connection can be made, ``timeout``
    when none is made within the channel's timeout.
    """
    assert config.gateway_url is not None  # SmsConfig requires it for GATEWAY
    parts = urlsplit(config.gateway_url)
    host = parts.hostname or ""
    secure = parts.scheme.lower() == "https"
    port = parts.port or (443 if secure else 80)
    where = f"{host}:{port}"
    try:
        outbound.policy.check_url(config.gateway_url)
        async with asyncio.timeout(config.timeout):
            await _connect(outbound, host, port, secure)
    except BlockedDestination as exc:
        raise DeliveryError(FailureClass.CONFIG, f"{WHAT} URL refused: {exc.reason}") from None
    except TimeoutError:
        raise DeliveryError(
            FailureClass.TIMEOUT,
            f"the {WHAT} at {where} took no connection within {config.timeout:g} s",
        ) from None
    except ssl.SSLError as exc:
        raise DeliveryError(
            FailureClass.CONFIG,
            f"the TLS connection to the {WHAT} at {where} failed "
            f"({exc.reason or type(exc).__name__}); is its certificate valid and trusted by "
            "this machine?",
        ) from None
    except OSError as exc:
        raise DeliveryError(
            FailureClass.NETWORK,
            f"cannot reach the {WHAT} at {where}: {exc.strerror or exc}",
        ) from None
    tls = " over TLS, its certificate valid" if secure else ""
    return f"the {WHAT} at {where} took a connection{tls}"


async def _connect(outbound: Outbound, host: str, port: int, secure: bool) -> None:
    """One connection to a checked address of ``host``, closed at once."""
    addresses = await GuardedResolver(outbound.policy).resolve(host, port, socket.AF_UNSPEC)
    context = ssl.create_default_context() if secure else None
    last: OSError | None = None
    for address in addresses:
        try:
            _, writer = await asyncio.open_connection(
                address["host"],
                address["port"],
                ssl=context,
                server_hostname=host if secure else None,
            )
        except ssl.SSLError:
            raise
        except OSError as exc:
            last = exc
            continue
        writer.close()
        # The connection was made; how it closes says nothing of the gateway.
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return
    assert last is not None  # resolve() answers at least one address
    raise last
