"""The SMTP classification table, row by row (CONTRACTS.md section 5): every exception
aiosmtplib raises, every reply-code family, at the stage it can happen."""

from __future__ import annotations

import ssl

import pytest
from aiosmtplib import (
    SMTPAuthenticationError,
    SMTPConnectError,
    SMTPConnectResponseError,
    SMTPConnectTimeoutError,
    SMTPDataError,
    SMTPException,
    SMTPHeloError,
    SMTPNotSupported,
    SMTPReadTimeoutError,
    SMTPRecipientRefused,
    SMTPRecipientsRefused,
    SMTPResponseException,
    SMTPSenderRefused,
    SMTPServerDisconnected,
)

from nabat.channels.contract import FailureClass
from nabat.channels.email import EmailConfig
from nabat.channels.smtp_errors import classify_smtp_failure
from nabat.channels.smtp_pool import AuthNotOffered, StartTlsNotOffered

# The channel types whose error table this module tests (see test_channel_registry.py).
ERROR_TABLE_OF = ("EMAIL",)

CONFIG = EmailConfig.model_validate(
    {
        "smtpHost": "smtp.example.org",
        "smtpPort": 587,
        "username": "alerts@example.org",
        "password": "app-password-42",
        "fromEmail": "alerts@example.org",
    }
)
MID = "<dlv_1@example.org>"


def wrapped(outer: BaseException, cause: BaseException) -> BaseException:
    outer.__cause__ = cause
    return outer


def cert_error() -> ssl.SSLCertVerificationError:
    error = ssl.SSLCertVerificationError(1, "certificate verify failed")
    error.verify_message = "self-signed certificate in certificate chain"
    return error


def refused(*replies: tuple[int, str]) -> SMTPRecipientsRefused:
    return SMTPRecipientsRefused(
        [
            SMTPRecipientRefused(code, text, f"r{n}@example.org")
            for n, (code, text) in enumerate(replies)
        ]
    )


TABLE: list[tuple[str, BaseException, str, FailureClass, int | None]] = [
    ("greeting 421", SMTPConnectResponseError(421, "busy"), "connect", FailureClass.UPSTREAM, 421),
    (
        "greeting 554",
        SMTPConnectResponseError(554, "no service"),
        "connect",
        FailureClass.REJECTED,
        554,
    ),
    ("EHLO refused", SMTPHeloError(501, "bad hostname"), "connect", FailureClass.REJECTED, 501),
    (
        "STARTTLS 454",
        SMTPResponseException(454, "TLS not available"),
        "connect",
        FailureClass.UPSTREAM,
        454,
    ),
    ("STARTTLS missing", StartTlsNotOffered("no"), "connect", FailureClass.CONFIG, None),
    (
        "AUTH missing",
        AuthNotOffered("no", offered=[], tls=False),
        "connect",
        FailureClass.CONFIG,
        None,
    ),
    (
        "login 535",
        SMTPAuthenticationError(535, "5.7.8 bad credentials"),
        "connect",
        FailureClass.AUTH,
        535,
    ),
    (
        "login 534",
        SMTPAuthenticationError(534, "5.7.9 app password required"),
        "connect",
        FailureClass.AUTH,
        534,
    ),
    (
        "login 454",
        SMTPAuthenticationError(454, "4.7.0 try later"),
        "connect",
        FailureClass.UPSTREAM,
        454,
    ),
    (
        "AUTH needs TLS 538",
        SMTPResponseException(538, "encryption required"),
        "connect",
        FailureClass.CONFIG,
        538,
    ),
    (
        "MAIL 530",
        SMTPSenderRefused(530, "auth required", "a@example.org"),
        "MAIL FROM",
        FailureClass.AUTH,
        530,
    ),
    (
        "MAIL 451",
        SMTPSenderRefused(451, "try later", "a@example.org"),
        "MAIL FROM",
        FailureClass.UPSTREAM,
        451,
    ),
    (
        "MAIL 553",
        SMTPSenderRefused(553, "not yours", "a@example.org"),
        "MAIL FROM",
        FailureClass.CONFIG,
        553,
    ),
    (
        "MAIL 552 size",
        SMTPSenderRefused(552, "too big", "a@example.org"),
        "MAIL FROM",
        FailureClass.REJECTED,
        552,
    ),
    (
        "RCPT all 550",
        refused((550, "unknown"), (551, "moved")),
        "RCPT TO",
        FailureClass.REJECTED,
        550,
    ),
    (
        "RCPT one 451",
        refused((550, "unknown"), (451, "later")),
        "RCPT TO",
        FailureClass.UPSTREAM,
        451,
    ),
    ("RCPT all 530", refused((530, "auth first")), "RCPT TO", FailureClass.AUTH, 530),
    ("DATA 451", SMTPDataError(451, "local error"), "DATA", FailureClass.UPSTREAM, 451),
    ("DATA 552", SMTPDataError(552, "too big"), "DATA", FailureClass.REJECTED, 552),
    ("DATA 554", SMTPDataError(554, "spam"), "DATA", FailureClass.REJECTED, 554),
    (
        "dropped in DATA",
        SMTPServerDisconnected("Connection lost"),
        "DATA",
        FailureClass.UPSTREAM,
        451,
    ),
    (
        "dropped before",
        SMTPServerDisconnected("Connection lost"),
        "RCPT TO",
        FailureClass.NETWORK,
        None,
    ),
    (
        "connect refused",
        SMTPConnectError("Error connecting: refused"),
        "connect",
        FailureClass.NETWORK,
        None,
    ),
    (
        "connect timeout",
        SMTPConnectTimeoutError("timed out"),
        "connect",
        FailureClass.TIMEOUT,
        None,
    ),
    ("read timeout", SMTPReadTimeoutError("timed out"), "DATA", FailureClass.TIMEOUT, None),
    ("bare timeout", TimeoutError(), "connect", FailureClass.TIMEOUT, None),
    ("reset", ConnectionResetError(104, "reset"), "MAIL FROM", FailureClass.NETWORK, None),
    (
        "cert implicit",
        wrapped(SMTPConnectError("Error connecting"), cert_error()),
        "connect",
        FailureClass.CONFIG,
        None,
    ),
    ("cert starttls", cert_error(), "connect", FailureClass.CONFIG, None),
    (
        "wrong TLS",
        wrapped(SMTPConnectError("x"), ssl.SSLError(1, "WRONG_VERSION_NUMBER")),
        "connect",
        FailureClass.CONFIG,
        None,
    ),
    ("TLS EOF", ssl.SSLEOFError(8, "EOF"), "connect", FailureClass.NETWORK, None),
    (
        "SMTPUTF8",
        SMTPNotSupported("SMTPUTF8 not supported"),
        "MAIL FROM",
        FailureClass.REJECTED,
        None,
    ),
    ("other SMTP", SMTPException("odd"), "connect", FailureClass.UPSTREAM, None),
]


@pytest.mark.parametrize(
    ("exc", "stage", "expected", "status"),
    [row[1:] for row in TABLE],
    ids=[row[0] for row in TABLE],
)
def test_each_failure_gets_its_class_and_status(
    exc: BaseException, stage: str, expected: FailureClass, status: int | None
) -> None:
    error = classify_smtp_failure(exc, stage=stage, config=CONFIG, message_id=MID)
    assert error is not None
    assert error.failure_class is expected
    assert error.status == status
    assert "smtp.example.org:587" in error.reason or "user" in error.reason
    assert "app-password-42" not in error.reason


def test_an_exception_that_is_no_smtp_failure_is_left_to_the_engine() -> None:
    assert classify_smtp_failure(KeyError("x"), stage="DATA", config=CONFIG, message_id=MID) is None


def test_four_hundred_codes_are_transient_and_five_hundred_permanent() -> None:
    for code in range(400, 600):
        if code in (530, 534, 535, 538):
            continue
        exc = SMTPDataError(code, "reply")
        error = classify_smtp_failure(exc, stage="DATA", config=CONFIG, message_id=MID)
        assert error is not None
        assert error.transient is (code < 500), code


def test_timeout_on_port_465_without_ssl_suggests_implicit_tls() -> None:
    config = CONFIG.model_copy(update={"smtp_port": 465, "encryption": "starttls"})
    error = classify_smtp_failure(
        SMTPConnectTimeoutError("Timed out"), stage="connect", config=config, message_id=MID
    )
    assert error is not None
    assert "set encryption to 'ssl'" in error.reason


def test_untrusted_certificate_reason_quotes_the_verification_message() -> None:
    error = classify_smtp_failure(cert_error(), stage="connect", config=CONFIG, message_id=MID)
    assert error is not None
    assert "self-signed certificate in certificate chain" in error.reason
