"""How an SMTP failure is classified (CONTRACTS.md section 5, "Reply codes", "aiosmtplib").

RFC 5321 section 4.2.1: a 4yz reply is a transient failure, 5yz permanent. On top of that:
530/535 (and aiosmtplib's ``SMTPAuthenticationError``) mean the login is wrong, which no
retry fixes; a certificate that fails verification, or STARTTLS missing where it is
required, is the channel's configuration; a connection lost during DATA counts as a 451
(RFC 5321 section 4.1.1.4 / RFC 2821: a client whose connection breaks mid-transaction
treats it as a temporary failure). Reasons name the server and the stage, quote the
server's reply and say what to change; they never hold the password (the sender scrubs
them once more on the way out).
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from typing import TYPE_CHECKING

from aiosmtplib import (
    SMTPAuthenticationError,
    SMTPConnectError,
    SMTPDataError,
    SMTPException,
    SMTPNotSupported,
    SMTPRecipientRefused,
    SMTPRecipientsRefused,
    SMTPResponseException,
    SMTPSenderRefused,
    SMTPServerDisconnected,
    SMTPTimeoutError,
)

from nabat.channels.contract import DeliveryError, FailureClass
from nabat.channels.smtp_pool import AuthNotOffered, StartTlsNotOffered

if TYPE_CHECKING:
    from nabat.channels.email import EmailConfig

MID_DATA_CODE = 451
"""The reply a connection lost during DATA stands for."""
_REPLY_LIMIT = 300

_AUTH_CODES = frozenset({530, 534, 535})
_TOO_LARGE = 552
_ENCRYPTION_REQUIRED = 538


def reply_text(code: int, message: str) -> str:
    """``"550 5.1.1 User unknown"``: the server's reply on one line, cut to a sane length."""
    text = " ".join(message.split())
    if len(text) > _REPLY_LIMIT:
        text = text[: _REPLY_LIMIT - 1] + "…"
    return f"{code} {text}".strip()


def recipient_reason(refusal: SMTPRecipientRefused) -> str:
    """Why one recipient was refused, saying whether a later attempt could help."""
    kind = "temporary" if 400 <= refusal.code < 500 else "permanent"
    return f"{reply_text(refusal.code, refusal.message)} ({kind})"


def _where(config: EmailConfig) -> str:
    return f"the SMTP server {config.smtp_host}:{config.smtp_port}"


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _ssl_reason(exc: ssl.SSLError) -> str:
    # OpenSSL's short reason ("WRONG_VERSION_NUMBER"); set only on errors ssl raised itself.
    reason = getattr(exc, "reason", None)
    return str(reason) if reason else str(exc)


def _tls_failure(exc: BaseException, config: EmailConfig) -> DeliveryError | None:
    for link in _chain(exc):
        if isinstance(link, ssl.SSLCertVerificationError):
            detail = getattr(link, "verify_message", None) or _ssl_reason(link)
            return DeliveryError(
                FailureClass.CONFIG,
                f"the TLS certificate of {_where(config)} could not be verified ({detail}); "
                "the server needs a certificate from a trusted authority (a self-signed one "
                "is not trusted), and smtpHost must be a name the certificate covers",
            )
        if isinstance(link, ssl.SSLEOFError | ssl.SSLZeroReturnError):
            return DeliveryError(
                FailureClass.NETWORK,
                f"{_where(config)} closed the connection during the TLS handshake; will retry",
            )
        if isinstance(link, ssl.SSLError):
            return DeliveryError(
                FailureClass.CONFIG,
                f"the TLS handshake with {_where(config)} failed ({_ssl_reason(link)}); "
                "check the encryption setting: port 465 uses 'ssl' (implicit TLS), "
                "port 587 uses 'starttls'",
            )
    return None


def _by_code(code: int, reply: str, doing: str, config: EmailConfig) -> DeliveryError:
    """The class of a reply ``code`` to the step ``doing`` ("refused the message")."""
    said = f"{_where(config)} {doing}: {reply}"
    if code in _AUTH_CODES:
        return DeliveryError(
            FailureClass.AUTH,
            f"{said}; the server requires a valid login: turn on auth and check "
            "username and password (or app password)",
            status=code,
        )
    if code == _ENCRYPTION_REQUIRED:
        return DeliveryError(
            FailureClass.CONFIG,
            f"{said}; the server requires encryption: set encryption to 'starttls' or 'ssl'",
            status=code,
        )
    if 400 <= code < 500:
        return DeliveryError(FailureClass.UPSTREAM, f"{said} (temporary); will retry", status=code)
    hint = ""
    if "relay" in reply.lower():
        hint = (
            "; the server does not relay mail for Nabat: turn on SMTP authentication, "
            "or allow this client on the server"
        )
    return DeliveryError(FailureClass.REJECTED, f"{said}{hint}", status=code)


def _all_refused(exc: SMTPRecipientsRefused, config: EmailConfig) -> DeliveryError:
    refusals = exc.recipients
    codes = [refusal.code for refusal in refusals]
    listed = "; ".join(f"{r.recipient}: {recipient_reason(r)}" for r in refusals)
    said = f"{_where(config)} refused every recipient ({listed})"
    transient = [code for code in codes if 400 <= code < 500]
    if transient:
        return DeliveryError(FailureClass.UPSTREAM, f"{said}; will retry", status=min(transient))
    if all(code in _AUTH_CODES for code in codes):
        return _by_code(codes[0], reply_text(codes[0], refusals[0].message), "refused", config)
    relay = any("relay" in refusal.message.lower() for refusal in refusals)
    hint = (
        "; the server does not relay mail for Nabat: turn on SMTP authentication, or allow "
        "this client on the server"
        if relay
        else "; check the addresses"
    )
    return DeliveryError(FailureClass.REJECTED, f"{said}{hint}", status=codes[0])


def _sender_refused(exc: SMTPSenderRefused, config: EmailConfig) -> DeliveryError:
    reply = reply_text(exc.code, exc.message)
    if exc.code in _AUTH_CODES:
        return _by_code(exc.code, reply, "refused the sender", config)
    if exc.code == _TOO_LARGE:
        return _by_code(exc.code, reply, "refused the message as too large", config)
    if exc.code >= 500:
        return DeliveryError(
            FailureClass.CONFIG,
            f"{_where(config)} refused the sender address {exc.sender}: {reply}; set fromEmail "
            "to an address this account may send as",
            status=exc.code,
        )
    return _by_code(exc.code, reply, f"refused the sender {exc.sender}", config)


def classify_smtp_failure(
    exc: BaseException, *, stage: str, config: EmailConfig, message_id: str
) -> DeliveryError | None:
    """The :class:`DeliveryError` for ``exc``, raised at ``stage`` ("connect", "MAIL FROM",
    "RCPT TO", "DATA"), or ``None`` for an exception that is no SMTP or network failure
    (a bug, left for the engine to record as ``internal``)."""
    where = _where(config)
    if isinstance(exc, StartTlsNotOffered):
        return DeliveryError(
            FailureClass.CONFIG,
            f"{where} does not offer STARTTLS, so Nabat stopped before logging in or sending "
            "anything (the server may have no TLS on this port, or someone on the path is "
            "stripping it); use port 465 with encryption 'ssl' if the server supports it, "
            "or set encryption to 'none' only for a trusted relay on a private network",
        )
    if isinstance(exc, AuthNotOffered):
        offered = ", ".join(exc.offered) or "none"
        hint = (
            "set encryption to 'starttls' or 'ssl': many servers offer login only over TLS"
            if not exc.tls
            else "set auth to false if the server takes mail without a login"
        )
        return DeliveryError(
            FailureClass.CONFIG,
            f"SMTP authentication is on, but {where} offers no login mechanism Nabat "
            f"supports (it offers: {offered}); {hint}",
        )
    tls = _tls_failure(exc, config)
    if tls is not None:
        return tls
    if isinstance(exc, SMTPRecipientsRefused):
        return _all_refused(exc, config)
    if isinstance(exc, SMTPAuthenticationError):
        reply = reply_text(exc.code, exc.message)
        if 400 <= exc.code < 500:
            return DeliveryError(
                FailureClass.UPSTREAM,
                f"{where} could not check the login for now: {reply}; will retry",
                status=exc.code,
            )
        return DeliveryError(
            FailureClass.AUTH,
            f"authentication failed: the SMTP server rejected the login for user "
            f"{config.username!r}: {reply}; check username and password / app password "
            "(Gmail and Yandex need an app password)",
            status=exc.code,
        )
    if isinstance(exc, SMTPSenderRefused):
        return _sender_refused(exc, config)
    if isinstance(exc, SMTPDataError):
        return _by_code(exc.code, reply_text(exc.code, exc.message), "refused the message", config)
    if isinstance(exc, SMTPResponseException):
        doing = "answered" if stage == "connect" else f"answered {stage}"
        return _by_code(exc.code, reply_text(exc.code, exc.message), doing, config)
    if isinstance(exc, SMTPTimeoutError | TimeoutError):
        hint = ""
        if config.smtp_port == 465 and config.effective_encryption != "ssl":
            hint = "; port 465 normally expects implicit TLS: set encryption to 'ssl'"
        return DeliveryError(
            FailureClass.TIMEOUT,
            f"{where} did not answer within {config.timeout:g} s ({stage}){hint}; will retry",
        )
    if isinstance(exc, SMTPServerDisconnected) and stage == "DATA":
        return DeliveryError(
            FailureClass.UPSTREAM,
            f"the connection to {where} dropped during DATA, which counts as a {MID_DATA_CODE} "
            "temporary failure; will retry (if the message arrived anyway, its Message-ID "
            f"{message_id} marks the copy as a duplicate)",
            status=MID_DATA_CODE,
        )
    if isinstance(exc, SMTPServerDisconnected):
        return DeliveryError(
            FailureClass.NETWORK, f"{where} closed the connection ({stage}); will retry"
        )
    if isinstance(exc, SMTPConnectError):
        return DeliveryError(
            FailureClass.NETWORK,
            f"could not connect to {where}: {exc.message}; check smtpHost and smtpPort and "
            "that the server is up; will retry",
        )
    if isinstance(exc, SMTPNotSupported):
        return DeliveryError(
            FailureClass.REJECTED, f"{where} cannot take this message: {exc.message}"
        )
    if isinstance(exc, SMTPException):
        return DeliveryError(
            FailureClass.UPSTREAM, f"{where} failed ({stage}): {exc.message}; will retry"
        )
    if isinstance(exc, OSError):
        return DeliveryError(
            FailureClass.NETWORK, f"network error talking to {where} ({stage}): {exc}; will retry"
        )
    return None
