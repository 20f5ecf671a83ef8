"""The synchronous half of EWS delivery: one ``CreateItem`` (``SendOnly``) through
exchangelib, on a worker thread (CONTRACTS.md section 6); and the scheduled check, one
request that sends nothing (:func:`check_mailbox`).

This module imports exchangelib (over a second of imports), so the EWS sender imports it
only when it first sends. exchangelib is set up to fail fast: its retry policy is
``FailFast`` (throttling and server errors come back at once, for the delivery engine to
schedule), the server version is given (no probing requests) and its HTTP goes through
:class:`~nabat.channels.ews_transport.GuardedAdapter`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from exchangelib import (
    BASIC,
    DELEGATE,
    IMPERSONATION,
    NTLM,
    UTC,
    Account,
    Body,
    Configuration,
    Credentials,
    FailFast,
    HTMLBody,
    Mailbox,
    Message,
    OAuth2AuthorizationCodeCredentials,
    Version,
)
from exchangelib.errors import ErrorNameResolutionNoResults
from exchangelib.protocol import BaseProtocol, Protocol
from exchangelib.version import EXCHANGE_2013

from nabat.channels.ews_mail import GUARD, EwsLogin, EwsMail, Expired, Guard
from nabat.channels.ews_transport import GuardedAdapter

# Exchange 2013 and later (2016, 2019, Subscription Edition, Exchange Online) all take
# requests in the 2013 schema, which has everything a message needs; naming it spares
# exchangelib the requests it would otherwise make to guess the version.
SERVER_VERSION = Version(build=EXCHANGE_2013)


# These log request headers (Authorization) and tokens at DEBUG.
_CREDENTIAL_LOGGERS = ("exchangelib", "requests_oauthlib", "requests_ntlm")


def send_mail(mail: EwsMail, guard: Guard, deadline: float) -> None:
    """Send ``mail``; raise exchangelib's exception when Exchange refuses it.

    Raises :class:`Expired` without sending when the monotonic clock is past
    ``deadline`` already (the caller gave up waiting).
    """
    with _connected(mail.login, guard, deadline) as config:
        _message(_account(mail.login, config), mail).send(save_copy=False)


def check_mailbox(login: EwsLogin, guard: Guard, deadline: float) -> str:
    """Ask Exchange, as ``login``, one thing that sends nothing, and say what answered:
    with a token, the mailbox's root folder (``GetFolder``, by impersonation, as sends
    act); with a login, the mailbox's address (``ResolveNames``: a login that may only
    send as the mailbox has no folder of it to open). Raises exchangelib's exception
    when Exchange refuses, and :class:`Expired` as :func:`send_mail` does."""
    with _connected(login, guard, deadline) as config:
        if login.auth == "oauth2":
            _ = _account(login, config).root
            return f"opened the mailbox {login.mailbox} by impersonation (GetFolder)"
        found = Protocol(config=config).resolve_names([login.mailbox])
        first = found[0] if found else ErrorNameResolutionNoResults("No results were found.")
        if isinstance(first, Exception):
            raise first
        address = getattr(first, "email_address", None) or login.mailbox
        return f"took the login and knows the mailbox {address} (ResolveNames)"


@contextmanager
def _connected(login: EwsLogin, guard: Guard, deadline: float) -> Iterator[Configuration]:
    """exchangelib's configuration for ``login``, its connections guarded while the
    block runs (and, for a token, its connection pool dropped afterwards)."""
    if time.monotonic() > deadline:
        raise Expired
    # Every Protocol exchangelib makes (and nothing else uses exchangelib here) opens its
    # connections through the guard.
    BaseProtocol.HTTP_ADAPTER_CLS = GuardedAdapter
    for name in _CREDENTIAL_LOGGERS:
        library = logging.getLogger(name)
        if library.getEffectiveLevel() < logging.INFO:
            library.setLevel(logging.INFO)
    token = GUARD.set(guard)
    try:
        config = _configuration(login)
        try:
            yield config
        finally:
            if login.auth == "oauth2":
                _forget(config)
    finally:
        GUARD.reset(token)


def _account(login: EwsLogin, config: Configuration) -> Account:
    return Account(
        primary_smtp_address=login.mailbox,
        config=config,
        autodiscover=False,
        # An app-only token acts for a mailbox by impersonation; a login sends from its
        # own mailbox or one it has delegate rights to.
        access_type=IMPERSONATION if login.auth == "oauth2" else DELEGATE,
        default_timezone=UTC,
    )


def _configuration(login: EwsLogin) -> Configuration:
    if login.auth == "oauth2":
        # A ready token, no client id or secret: exchangelib never fetches or refreshes
        # tokens itself (its token requests would bypass Nabat's token cache and guard).
        credentials = OAuth2AuthorizationCodeCredentials(
            access_token={"access_token": login.token, "token_type": "Bearer"}
        )
        # Made on first use, the OAuth client joins the credentials' hash then, after
        # exchangelib has filed its connection pool under the earlier hash; made now, the
        # pool can be found again to be dropped.
        _ = credentials.client
        auth_type = None
    else:
        credentials = Credentials(login.username, login.password)
        auth_type = NTLM if login.auth == "ntlm" else BASIC
    return Configuration(
        service_endpoint=login.endpoint,
        credentials=credentials,
        auth_type=auth_type,
        version=SERVER_VERSION,
        retry_policy=FailFast(),
        # A few concurrent sends per server; Exchange throttles beyond its own limit.
        max_connections=4,
    )


def _message(account: Account, mail: EwsMail) -> Message:
    body = HTMLBody(mail.html) if mail.html is not None else Body(mail.text)
    return Message(
        account=account,
        subject=mail.subject,
        body=body,
        to_recipients=[Mailbox(email_address=address) for address in mail.to],
        author=Mailbox(name=mail.from_name or None, email_address=mail.from_address),
        reply_to=[Mailbox(email_address=mail.reply_to)] if mail.reply_to else None,
        message_id=mail.message_id,
    )


def _forget(config: Configuration) -> None:
    """Drop the connection pool exchangelib keeps for these credentials: a token is used
    for an hour at most, so keeping one pool per token would only pile them up."""
    with suppress(KeyError):
        protocol, _ = Protocol[config]
        del Protocol[config]
        protocol.close()
