"""Connected SMTP clients, pooled per channel and reused across sends (seed 002).

Opening an SMTP session costs a TCP connect, a TLS handshake and a login, several round
trips before the first byte of mail; an alert storm on one channel would pay that for
every message. A pool keeps up to ``max_connections`` logged-in clients per key and lends
each to one send at a time (SMTP is sequential: one client carries one transaction at a
time; throughput comes from more clients, per the aiosmtplib docs).

TLS is never opportunistic (CONTRACTS.md section 5): ``starttls`` requires the server to
offer STARTTLS and fails *before* AUTH when it does not, so a man in the middle who strips
``250-STARTTLS`` from EHLO gets neither the password nor the mail. Certificates are
verified against the system store unless an :class:`ssl.SSLContext` is given.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import os
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiosmtplib import (
    SMTP,
    SMTPException,
    SMTPRecipientsRefused,
    SMTPResponseException,
)

from nabat.clock import Clock, SystemClock

if TYPE_CHECKING:
    from nabat.channels.email import EmailConfig

logger = logging.getLogger(__name__)

DEFAULT_MAX_CONNECTIONS = 8
DEFAULT_CHECK_IDLE_AFTER_S = 10.0
"""A connection idle longer than this is tested with NOOP before it is lent again."""
DEFAULT_MAX_IDLE_S = 120.0
"""A connection idle longer than this is closed: servers drop idle sessions anyway
(RFC 5321 section 4.5.3.2.7 lets them after 5 minutes; many do sooner)."""
DEFAULT_MAX_MESSAGES = 100
"""Transactions on one connection before it is replaced; servers cap this (and answer 421
when it is exceeded), so a fresh session before the cap avoids a needless failure."""
_QUIT_TIMEOUT_S = 2.0
_NOOP_TIMEOUT_S = 10.0
_SERVICE_CLOSING = 421


class SmtpSetupError(SMTPException):
    """The server is reachable but cannot be used as configured (raised before any mail)."""


class StartTlsNotOffered(SmtpSetupError):
    """``starttls`` is required but the server's EHLO did not offer STARTTLS."""


class AuthNotOffered(SmtpSetupError):
    """Login is required but the server offers no AUTH mechanism aiosmtplib can use.

    ``offered`` lists what the server advertised; ``tls`` says whether the session was
    encrypted when it was asked (many servers offer AUTH only after TLS).
    """

    def __init__(self, message: str, *, offered: list[str], tls: bool) -> None:
        super().__init__(message)
        self.offered = offered
        self.tls = tls


@dataclass
class _Connection:
    client: SMTP
    last_used: float
    transactions: int = 0


@dataclass
class _Pool:
    slots: asyncio.Semaphore
    idle: list[_Connection] = field(default_factory=list)
    users: int = 0
    """Tasks holding or waiting for a slot; a pool with users is never dropped."""
    busy: int = 0


@dataclass(frozen=True)
class PoolStats:
    """A snapshot of one pool: connections lent out and connections waiting for reuse."""

    busy: int
    idle: int

    @property
    def open(self) -> int:
        """All open connections of the pool."""
        return self.busy + self.idle


class SmtpPools:
    """Pools of connected, logged-in :class:`aiosmtplib.SMTP` clients, one pool per key.

    The caller names the pool: :meth:`key_for` makes a key from everything that shapes a
    session (host, port, encryption, login, timeout), so a changed configuration gets a
    fresh pool and the old one's connections are closed once they have been idle for
    ``max_idle_s``. Call :meth:`close` on shutdown.
    """

    def __init__(
        self,
        *,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        tls_context: ssl.SSLContext | None = None,
        check_idle_after_s: float = DEFAULT_CHECK_IDLE_AFTER_S,
        max_idle_s: float = DEFAULT_MAX_IDLE_S,
        max_messages: int = DEFAULT_MAX_MESSAGES,
        local_hostname: str | None = None,
        clock: Clock | None = None,
    ) -> None:
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        if max_messages < 1:
            raise ValueError("max_messages must be at least 1")
        self._max_connections = max_connections
        self._tls_context = tls_context
        self._check_idle_after_s = check_idle_after_s
        self._max_idle_s = max_idle_s
        self._max_messages = max_messages
        self._local_hostname = local_hostname
        self._clock: Clock = clock or SystemClock()
        self._pools: dict[str, _Pool] = {}
        self._closed = False
        # Keys are HMACs under a per-process salt: they hold a digest of the password, and
        # an unsalted one could be guessed offline if a key ever ended up in a log.
        self._salt = os.urandom(16)

    def key_for(self, config: EmailConfig, scope: str = "") -> str:
        """The pool key for ``config`` within ``scope`` (a channel id, say).

        Equal for equal connection settings; different when host, port, encryption,
        login or timeout differ. Sender-only settings (From, Reply-To, recipients) do not
        change it. Never contains the password.
        """
        password = config.password.get_secret_value() if config.password else None
        settings = [
            config.smtp_host.lower(),
            config.smtp_port,
            config.effective_encryption,
            config.uses_auth,
            config.username if config.uses_auth else None,
            password if config.uses_auth else None,
            config.timeout,
        ]
        blob = json.dumps(settings).encode("utf-8", "surrogatepass")
        digest = hmac.new(self._salt, blob, hashlib.sha256).hexdigest()[:32]
        return f"{scope}:{digest}" if scope else digest

    def stats(self, key: str) -> PoolStats:
        """Connections of the pool ``key`` (zero for a pool that does not exist)."""
        pool = self._pools.get(key)
        if pool is None:
            return PoolStats(busy=0, idle=0)
        return PoolStats(busy=pool.busy, idle=len(pool.idle))

    @asynccontextmanager
    async def connection(self, key: str, config: EmailConfig) -> AsyncIterator[SMTP]:
        """Lend a connected (and, with ``auth``, logged-in) client of pool ``key``.

        Waits while the pool's ``max_connections`` clients are all lent out. The client
        goes back to the pool when the block ends normally, or with a server reply error
        that left the session usable (aiosmtplib-style RSET done by the caller); after any
        other exception, or a 421, it is closed and never reused.

        Raises what connecting raised: :class:`StartTlsNotOffered`,
        :class:`AuthNotOffered`, aiosmtplib's exceptions, :class:`ssl.SSLError` or
        :class:`OSError`.
        """
        if self._closed:
            raise RuntimeError("the SMTP pools are closed")
        self._reap()
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = _Pool(asyncio.Semaphore(self._max_connections))
        pool.users += 1
        try:
            async with pool.slots:
                connection = await self._take(pool, config)
                pool.busy += 1
                reusable = False
                try:
                    yield connection.client
                    reusable = True
                except (SMTPResponseException, SMTPRecipientsRefused) as exc:
                    reusable = getattr(exc, "code", None) != _SERVICE_CLOSING
                    raise
                finally:
                    pool.busy -= 1
                    connection.transactions += 1
                    self._give_back(pool, connection, reusable=reusable)
        finally:
            pool.users -= 1

    async def close(self) -> None:
        """Close every idle connection (politely, with QUIT) and refuse further use.

        Connections lent out at the time are closed when they come back.
        """
        self._closed = True
        idle = [connection for pool in self._pools.values() for connection in pool.idle]
        for pool in self._pools.values():
            pool.idle.clear()
        await asyncio.gather(*(_quit(connection.client) for connection in idle))

    async def _take(self, pool: _Pool, config: EmailConfig) -> _Connection:
        while pool.idle:
            connection = pool.idle.pop()  # the most recently used: the least likely stale
            idle_for = self._clock.monotonic() - connection.last_used
            if not connection.client.is_connected or idle_for > self._max_idle_s:
                connection.client.close()
                continue
            if idle_for >= self._check_idle_after_s and not await _alive(connection.client):
                continue
            return connection
        client = await self._open(config)
        return _Connection(client, last_used=self._clock.monotonic())

    def _give_back(self, pool: _Pool, connection: _Connection, *, reusable: bool) -> None:
        client = connection.client
        if (
            reusable
            and not self._closed
            and client.is_connected
            and connection.transactions < self._max_messages
        ):
            connection.last_used = self._clock.monotonic()
            pool.idle.append(connection)
        else:
            client.close()

    def _reap(self) -> None:
        """Close connections idle past ``max_idle_s`` and forget pools nobody uses."""
        now = self._clock.monotonic()
        for key, pool in list(self._pools.items()):
            keep = []
            for connection in pool.idle:
                if connection.client.is_connected and now - connection.last_used <= (
                    self._max_idle_s
                ):
                    keep.append(connection)
                else:
                    connection.client.close()
            pool.idle = keep
            if not pool.idle and pool.users == 0:
                del self._pools[key]

    async def _context(self) -> ssl.SSLContext:
        if self._tls_context is None:
            # Loading the system store reads files; keep that off the event loop, once.
            self._tls_context = await asyncio.to_thread(ssl.create_default_context)
        return self._tls_context

    async def _open(self, config: EmailConfig) -> SMTP:
        encryption = config.effective_encryption
        client = SMTP(
            hostname=config.smtp_host,
            port=config.smtp_port,
            timeout=config.timeout,
            use_tls=encryption == "ssl",
            # Never None: None would mean "upgrade if offered", which an attacker can
            # switch off by deleting one EHLO line.
            start_tls=False,
            tls_context=await self._context() if encryption != "none" else None,
            local_hostname=self._local_hostname,
        )
        try:
            await client.connect()
            if encryption == "starttls":
                await client.ehlo()
                if not client.supports_extension("starttls"):
                    raise StartTlsNotOffered(
                        "the server did not offer STARTTLS; stopped before AUTH"
                    )
                await client.starttls()
            if config.uses_auth:
                await client.ehlo()  # the extensions before TLS no longer count
                if not client.supported_auth_methods:
                    raise AuthNotOffered(
                        "the server offers no usable AUTH mechanism",
                        offered=sorted(client.server_auth_methods),
                        tls=encryption != "none",
                    )
                password = config.password.get_secret_value() if config.password else ""
                await client.login(config.username or "", password)
        except BaseException:
            client.close()
            raise
        logger.debug(
            "opened an SMTP connection to %s:%s (%s)",
            config.smtp_host,
            config.smtp_port,
            encryption,
        )
        return client


async def _alive(client: SMTP) -> bool:
    """Whether an idle connection still answers NOOP; closes it when it does not."""
    try:
        await client.noop(timeout=_NOOP_TIMEOUT_S)
    except (SMTPException, OSError, TimeoutError):
        client.close()
        return False
    return True


async def _quit(client: SMTP) -> None:
    with contextlib.suppress(SMTPException, OSError, TimeoutError):
        await client.quit(timeout=_QUIT_TIMEOUT_S)
    client.close()
