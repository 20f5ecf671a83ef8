"""A fake SMTP server: aiosmtpd on a free port of 127.0.0.1, in the test's own event loop.

It speaks real SMTP (EHLO, STARTTLS, AUTH PLAIN/LOGIN, MAIL, RCPT, DATA) in one of three
TLS modes, with certificates from a ``trustme`` CA, records what it received and how
(TLS or not, logged in or not, how many connections), and can be scripted to answer
chosen codes at connect, MAIL, RCPT and DATA, to drop the connection in DATA, or to hold
DATA until a test lets it go.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from types import TracebackType
from typing import Any, Literal, Self

import trustme
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from nabat.channels.contract import OutgoingMessage
from nabat.channels.email import EmailConfig

# The channel types this fake speaks for (tests/test_channel_registry.py checks them).
SERVES = ("EMAIL",)

TlsMode = Literal["none", "starttls", "implicit"]

SMTP_USER = "alerts@example.org"
SMTP_PASSWORD = "s3cret-app-password-9f2c"
HOST = "127.0.0.1"


def server_tls_context(ca: trustme.CA) -> ssl.SSLContext:
    """A server context with a certificate for 127.0.0.1 and localhost issued by ``ca``."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(HOST, "localhost").configure_cert(context)
    return context


def client_tls_context(ca: trustme.CA) -> ssl.SSLContext:
    """A verifying client context that trusts ``ca`` (and nothing else)."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    ca.configure_trust(context)
    return context


@dataclass(frozen=True)
class ReceivedMail:
    """One message the fake accepted, with how the session that carried it looked."""

    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    tls: bool
    login: str | None

    @property
    def authenticated(self) -> bool:
        """Whether the session had logged in."""
        return self.login is not None

    def message(self) -> EmailMessage:
        """The content parsed as an e-mail (policy ``default``)."""
        return BytesParser(policy=policy.default).parsebytes(self.content)


@dataclass
class SmtpScript:
    """How the fake misbehaves. Replies are full SMTP lines, e.g. ``"451 4.7.1 Try later"``."""

    connect_reply: str | None = None
    """Greet with this instead of 220, then hang up."""
    mail_reply: str | None = None
    """Answer MAIL FROM with this."""
    rcpt_replies: dict[str, str] = field(default_factory=dict)
    """Answer RCPT TO for these addresses with these replies."""
    data_reply: str | None = None
    """Answer the end of DATA with this (the message is then not recorded)."""
    drop_in_data: bool = False
    """Close the connection after the body arrived, before answering it."""
    hold_data: asyncio.Event | None = None
    """Hold every DATA answer until this event is set."""


@dataclass(frozen=True)
class AuthAttempt:
    """One AUTH command: its mechanism and whether the session was encrypted."""

    mechanism: str
    tls: bool


class _Greeter(asyncio.Protocol):
    """Answers the connect with a scripted reply and hangs up (421 at connect)."""

    def __init__(self, reply: str) -> None:
        self._reply = reply

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(self._reply.encode("ascii") + b"\r\n")
        transport.close()


def _is_tls(server: SMTP) -> bool:
    transport = server.transport
    return transport is not None and transport.get_extra_info("ssl_object") is not None


class _RecordingSMTP(SMTP):
    """aiosmtpd's server, counting connections and recording every AUTH command."""

    def __init__(self, fake: FakeSmtpServer, **kwargs: Any) -> None:
        self._fake = fake
        super().__init__(_Handler(fake), loop=asyncio.get_running_loop(), **kwargs)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        first = self.transport is None  # STARTTLS calls this again for the TLS layer
        super().connection_made(transport)
        if first:
            self._fake._opened(self)

    def connection_lost(self, error: Exception | None) -> None:
        self._fake._closed(self)
        super().connection_lost(error)

    async def smtp_AUTH(self, arg: str) -> None:  # noqa: N802 - aiosmtpd's naming
        mechanism = arg.split()[0].upper() if arg else ""
        self._fake.auth_attempts.append(AuthAttempt(mechanism, _is_tls(self)))
        await super().smtp_AUTH(arg)


class _Handler:
    """The aiosmtpd handler hooks: scripted replies and recording."""

    def __init__(self, fake: FakeSmtpServer) -> None:
        self._fake = fake

    async def handle_NOOP(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope, arg: str
    ) -> str:
        self._fake.noops += 1
        return "250 OK"

    async def handle_MAIL(  # noqa: N802
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        if self._fake.script.mail_reply:
            return self._fake.script.mail_reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(  # noqa: N802
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        reply = self._fake.script.rcpt_replies.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        fake = self._fake
        script = fake.script
        fake.in_data += 1
        fake.max_in_data = max(fake.max_in_data, fake.in_data)
        fake._changed.set()
        try:
            if script.hold_data is not None:
                await script.hold_data.wait()
            if script.drop_in_data:
                fake.dropped += 1
                transport = server.transport
                assert isinstance(transport, asyncio.Transport)
                transport.abort()
                # aiosmtpd cancels this handler when it sees the connection go.
                await asyncio.Event().wait()
            if script.data_reply:
                return script.data_reply
        finally:
            fake.in_data -= 1
            fake._changed.set()
        credentials = session.auth_data
        fake.received.append(
            ReceivedMail(
                mail_from=envelope.mail_from or "",
                rcpt_tos=list(envelope.rcpt_tos),
                content=bytes(envelope.original_content or b""),
                tls=_is_tls(server),
                login=(
                    credentials.login.decode() if isinstance(credentials, LoginPassword) else None
                ),
            )
        )
        return "250 2.0.0 OK queued as fake-" + str(len(fake.received))


class FakeSmtpServer:
    """An SMTP server on 127.0.0.1 for one test; use ``async with``.

    ``tls``: ``"none"`` (plain; STARTTLS not offered), ``"starttls"`` (STARTTLS offered
    and required before mail) or ``"implicit"`` (TLS from the first byte, port-465 style).
    ``users`` may log in with AUTH PLAIN or LOGIN; ``auth_over_plain`` offers AUTH on an
    unencrypted session too (the STARTTLS-stripping scenario).
    """

    def __init__(
        self,
        *,
        tls: TlsMode = "none",
        tls_context: ssl.SSLContext | None = None,
        users: Mapping[str, str] | None = None,
        auth_over_plain: bool = False,
    ) -> None:
        if tls != "none" and tls_context is None:
            raise ValueError("a TLS mode needs a server tls_context")
        self.tls: TlsMode = tls
        self.users = dict(users or {})
        self.script = SmtpScript()
        self.received: list[ReceivedMail] = []
        self.auth_attempts: list[AuthAttempt] = []
        self.logins: list[tuple[str, bool]] = []
        """Every login checked: the user name and whether it succeeded."""
        self.connections_opened = 0
        self.open_connections = 0
        self.max_open_connections = 0
        self.in_data = 0
        self.max_in_data = 0
        self.noops = 0
        self.dropped = 0
        self.port = 0
        self._tls_context = tls_context
        self._auth_over_plain = auth_over_plain
        self._live: set[_RecordingSMTP] = set()
        self._changed = asyncio.Event()
        self._server: asyncio.Server | None = None

    @property
    def host(self) -> str:
        """The address it listens on."""
        return HOST

    async def __aenter__(self) -> Self:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._protocol,
            HOST,
            0,
            ssl=self._tls_context if self.tls == "implicit" else None,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.drop_all()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def wait_until(self, condition: Callable[[], bool]) -> None:
        """Return once ``condition`` holds; it is re-checked whenever a connection opens or
        closes or a DATA starts or ends. Wrap in ``asyncio.timeout``."""
        while not condition():
            self._changed.clear()
            await self._changed.wait()

    def drop_all(self) -> None:
        """Hang up every open session from the server side (an idle timeout, a restart)."""
        for server in list(self._live):
            if server.transport is not None:
                server.transport.close()

    def _protocol(self) -> asyncio.BaseProtocol:
        if self.script.connect_reply:
            return _Greeter(self.script.connect_reply)
        starttls = self.tls == "starttls"
        return _RecordingSMTP(
            self,
            hostname="fake-smtp.test",
            tls_context=self._tls_context if starttls else None,
            require_starttls=starttls,
            # aiosmtpd only counts STARTTLS as TLS; implicit TLS must say so here.
            auth_require_tls=not (self._auth_over_plain or self.tls == "implicit"),
            authenticator=self._authenticate,
        )

    def _authenticate(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        mechanism: str,
        auth_data: Any,
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user = auth_data.login.decode()
        ok = user in self.users and self.users[user] == auth_data.password.decode()
        self.logins.append((user, ok))
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    def _opened(self, server: _RecordingSMTP) -> None:
        self._live.add(server)
        self.connections_opened += 1
        self.open_connections += 1
        self.max_open_connections = max(self.max_open_connections, self.open_connections)
        self._changed.set()

    def _closed(self, server: _RecordingSMTP) -> None:
        if server in self._live:
            self._live.discard(server)
            self.open_connections -= 1
            self._changed.set()


def email_config(server: FakeSmtpServer, **overrides: object) -> EmailConfig:
    """A channel configuration pointing at ``server`` (camelCase keys, as the API takes
    them): encryption matching the fake's TLS mode, login when the fake has users."""
    encryption = {"none": "none", "starttls": "starttls", "implicit": "ssl"}[server.tls]
    settings: dict[str, object] = {
        "smtpHost": server.host,
        "smtpPort": server.port,
        "encryption": encryption,
        "fromEmail": "nabat@example.org",
        "to": ["ops@example.org"],
        "timeout": 5,
    }
    if server.users:
        settings |= {"auth": True, "username": SMTP_USER, "password": SMTP_PASSWORD}
    else:
        settings["auth"] = False
    settings |= overrides
    return EmailConfig.model_validate(settings)


def alert(
    delivery_id: str = "dlv_0123456789abcdef",
    *,
    subject: str = "Disk full on db-1",
    text: str = "db-1: / is at 97%",
    html: str | None = None,
    recipient: str | None = None,
) -> OutgoingMessage:
    """An outgoing message as the worker hands it to a sender."""
    return OutgoingMessage(
        delivery_id=delivery_id, subject=subject, text=text, html=html, recipient=recipient
    )
