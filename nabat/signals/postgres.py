"""Signals between processes on one PostgreSQL: LISTEN/NOTIFY on one dedicated connection.

The connection is asyncpg's own, outside SQLAlchemy's pool: listening holds a connection
for the life of the process, and it must never be one that a request or loop waits for.
The same connection sends this process's notifications, several in one round trip.

When it drops (server restart, ``pg_terminate_backend``, a network fault found by the
keepalive), it is opened again with exponential backoff; once it listens again every
listener is told that signals may have been missed, because NOTIFY keeps nothing for a
session that was not listening. Notifications waiting to go out are kept meanwhile (up to
a bound) and sent after the reconnect: a signal may arrive twice, never must it be lost
while the process lives, though polling covers that too.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from nabat.signals.base import Listener, Signals, Subscription, check
from nabat.signals.local import LocalSignals

log = logging.getLogger("nabat.signals")

# What pg_stat_activity shows for the listening connection (operators, tests).
APPLICATION_NAME = "nabat-signals"
# Notifications kept while the connection is down; beyond that the oldest are dropped
# (the listeners' resync after the reconnect and their polling cover them).
MAX_WAITING = 10_000
# The notifications of one round trip, in order (PostgreSQL folds repeats within one
# transaction into one, which is what a wake-up wants).
_NOTIFY = "SELECT pg_notify(t, p) FROM unnest($1::text[], $2::text[]) AS n(t, p)"
# Errors by which a connection, not our own code, has failed (a statement sent just as the
# server ends the session finds asyncpg's protocol mid-shutdown: InternalClientError).
_CONNECTION_ERRORS = (
    OSError,
    TimeoutError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
)


def asyncpg_dsn(url: str) -> str:
    """The asyncpg DSN of a SQLAlchemy ``postgresql+asyncpg://`` URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class PostgresSignals(Signals):
    """Signals to every process listening on the same PostgreSQL database."""

    def __init__(
        self,
        dsn: str,
        *,
        connect_timeout: float = 10.0,
        keepalive_seconds: float = 15.0,
        first_retry: float = 0.1,
        max_retry: float = 5.0,
        rng: random.Random | None = None,
    ) -> None:
        self._dsn = dsn
        self._connect_timeout = connect_timeout
        self._keepalive = keepalive_seconds
        self._first_retry = first_retry
        self._max_retry = max_retry
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not secrecy
        self._local = LocalSignals()
        # Insertion-ordered and without repeats: a burst of wake-ups goes out as one. The
        # number tells a signal published again while it was being sent from the send.
        self._waiting: dict[tuple[str, str], int] = {}
        self._published = itertools.count()
        self._changed = asyncio.Event()
        self._stop = asyncio.Event()
        self._tried = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._connected = False
        # Subscriptions made (generation) and those the connection listens to (synced).
        self._generation = 0
        self._synced = 0
        self._progress = asyncio.Event()

    async def start(self) -> None:
        """Open the connection and listen, in the background from now on.

        Returns once the first attempt has succeeded or failed: a database that is down
        at start is retried with backoff meanwhile, and delivery falls back to polling.
        """
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="nabat-signals")
        await self._tried.wait()

    def publish(self, topic: str, payload: str = "") -> None:
        """Call this process's listeners now and send the notification to the others."""
        check(topic, payload)
        self._local.deliver(topic, payload)
        key = (topic, payload)
        if key not in self._waiting and len(self._waiting) >= MAX_WAITING:
            dropped = next(iter(self._waiting))
            del self._waiting[dropped]
            log.warning("signal connection down too long: dropped a signal on %r", dropped[0])
        self._waiting[key] = next(self._published)
        self._changed.set()

    def subscribe(self, topic: str, listener: Listener) -> Subscription:
        """Listen to ``topic`` here and, from the next round trip, in PostgreSQL."""
        inner = self._local.subscribe(topic, listener)
        self._generation += 1
        self._changed.set()

        def close(_: Subscription) -> None:
            inner.close()
            self._changed.set()

        return Subscription(topic, listener, close)

    async def listening(self) -> None:
        """Wait until the connection listens to every topic subscribed so far, or is down."""
        wanted = self._generation
        while self._connected and self._synced < wanted:
            self._progress.clear()
            await self._progress.wait()

    async def close(self) -> None:
        """Send what waits (at most a second) and close the connection."""
        self._stop.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout=2.0)
            except TimeoutError:
                self._task.cancel()
                await asyncio.gather(self._task, return_exceptions=True)
        await self._local.close()

    async def _run(self) -> None:
        delay = self._first_retry
        while not self._stop.is_set():
            try:
                connection = await asyncpg.connect(
                    self._dsn,
                    timeout=self._connect_timeout,
                    server_settings={"application_name": APPLICATION_NAME},
                )
            except _CONNECTION_ERRORS as exc:
                log.warning("cannot open the signal connection (%s); retrying in %.1fs", exc, delay)
                self._tried.set()
                await self._pause(delay)
                delay = min(self._max_retry, delay * 2)
                continue
            delay = self._first_retry
            try:
                await self._serve(connection)
            except _CONNECTION_ERRORS as exc:
                log.warning("the signal connection was lost (%s); reconnecting", exc)
            except Exception:
                log.exception("the signal connection failed; reconnecting")
            finally:
                self._connected = False
                self._progress.set()
                self._tried.set()
                await self._discard(connection)
            await self._pause(self._first_retry)

    async def _pause(self, seconds: float) -> None:
        # Jitter keeps the processes that lost one server from reconnecting in lockstep.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds * (0.5 + self._rng.random()))

    async def _serve(self, connection: Any) -> None:
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _connection: lost.set())
        own_pid = connection.get_server_pid()

        def dispatch(_connection: Any, pid: int, channel: str, payload: str) -> None:
            # This process's own notifications come back too; its listeners heard them
            # when they were published.
            if pid != own_pid:
                self._local.deliver(channel, payload)

        listening: set[str] = set()
        await self._sync(connection, listening, dispatch)
        self._connected = True
        self._tried.set()
        log.info("listening for signals on %d topics (backend %s)", len(listening), own_pid)
        # Whatever was published while no connection listened is unknown: look again.
        self._local.missed()
        while True:
            await self._sync(connection, listening, dispatch)
            if self._stop.is_set():
                return
            woken = await _first(self._changed, lost, self._stop, within=self._keepalive)
            if lost.is_set():
                raise ConnectionError("the server closed the signal connection")
            if not woken:
                # A peer that vanished without closing its socket is found only by asking.
                await connection.execute("SELECT 1", timeout=self._connect_timeout)

    async def _sync(self, connection: Any, listening: set[str], dispatch: Any) -> None:
        # A server that stops answering halfway must not hold this loop forever.
        await asyncio.wait_for(
            self._sync_now(connection, listening, dispatch), timeout=self._connect_timeout
        )

    async def _sync_now(self, connection: Any, listening: set[str], dispatch: Any) -> None:
        """Make the connection listen to exactly the subscribed topics, then send what
        waits; a notification leaves the queue only once PostgreSQL has taken it."""
        self._changed.clear()
        generation = self._generation
        wanted = self._local.topics
        for topic in sorted(wanted - listening):
            await connection.add_listener(topic, dispatch)
            listening.add(topic)
        for topic in sorted(listening - wanted):
            await connection.remove_listener(topic, dispatch)
            listening.discard(topic)
        self._synced = generation
        self._progress.set()
        if not self._waiting:
            return
        batch = list(self._waiting.items())
        await connection.execute(
            _NOTIFY, [topic for (topic, _), _ in batch], [payload for (_, payload), _ in batch]
        )
        for key, number in batch:
            # Published again meanwhile (after a later commit): it goes out once more, or a
            # listener woken by this send might look before that commit.
            if self._waiting.get(key) == number:
                del self._waiting[key]

    @staticmethod
    async def _discard(connection: Any) -> None:
        if connection.is_closed():
            return
        try:
            await asyncio.wait_for(connection.close(), timeout=1.0)
        except _CONNECTION_ERRORS:
            # Not closed politely (a dead peer): drop the socket.
            connection.terminate()
        except asyncio.CancelledError:
            connection.terminate()
            raise


async def _first(*events: asyncio.Event, within: float) -> bool:
    """Wait until one of ``events`` is set; whether one was, within ``within`` seconds."""
    waiters = [asyncio.create_task(event.wait()) for event in events]
    done, pending = await asyncio.wait(waiters, timeout=within, return_when="FIRST_COMPLETED")
    for waiter in pending:
        waiter.cancel()
    return bool(done)
