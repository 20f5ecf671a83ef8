"""The live hub: one per process, it knows every open stream and wakes the right ones.

Streams are of two kinds: a person's inbox stream (``GET /api/v1/inbox/stream``, keyed
by user) and the console's deliveries feed (``/deliveries/stream``, keyed by project).
The hub listens to the signal seam: ``inbox`` (whose inboxes changed, up to which change),
``deliveries`` (new deliveries queued) and ``delivery_changes`` (deliveries adopted or
settled, by project). A signal rings the listeners it concerns; each stream then reads
what it has not sent yet from the database, so a signal carries ids only and a repeated
one costs a read, nothing more.

A lost signal must not lose a change, so the hub is also a supervised background loop:
every ``resync_seconds`` (and at once when the seam says signals may have been missed)
one query per few hundred connected people finds the latest change of each, and the
streams behind it are rung; the console feeds are rung too and read again.

When the server begins to shut down, :meth:`LiveHub.end_streams` ends every stream at
once: uvicorn waits for open responses before the application's own shutdown begins,
so the streams must end first (``nabat.live.server``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from itertools import islice

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from nabat.live.announce import Announcer, read_ids
from nabat.live.listener import Listener
from nabat.loops import BackgroundLoop, LoopHealth
from nabat.models.inbox import InboxChange
from nabat.signals import DELIVERIES, DELIVERY_CHANGES, INBOX, Signals, Subscription
from nabat.signals.inbox import read_inbox_payload

log = logging.getLogger("nabat.live")

# People per resync query: an ``IN`` list this long stays far below every driver's
# limit on bound parameters.
RESYNC_CHUNK = 500


class LiveHub(BackgroundLoop):
    """The open streams of this process, woken by signals and by a slow resync."""

    name = "live-hub"

    def __init__(
        self,
        *,
        signals: Signals,
        sessions: async_sessionmaker[AsyncSession],
        keepalive_seconds: float,
        resync_seconds: float,
        health: LoopHealth | None = None,
    ) -> None:
        super().__init__(health=health, idle_seconds=resync_seconds)
        self.keepalive_seconds = keepalive_seconds
        self._signals = signals
        self._sessions = sessions
        self._inbox: dict[int, set[Listener]] = {}
        self._feeds: dict[int, set[Listener]] = {}
        self._subscriptions: list[Subscription] = []
        self._ended = False
        self._changes = Announcer(signals, DELIVERY_CHANGES)

    async def start(self) -> None:
        """Listen to the signals that wake streams (in every process serving HTTP);
        returns once other processes' signals are heard too."""
        if self._subscriptions:
            return
        self._subscriptions = [
            self._signals.subscribe(INBOX, self._inbox_signal),
            self._signals.subscribe(DELIVERIES, self._deliveries_signal),
            self._signals.subscribe(DELIVERY_CHANGES, self._deliveries_signal),
        ]
        await self._signals.listening()

    @property
    def ended(self) -> bool:
        """Whether the hub has ended its streams (the server is stopping)."""
        return self._ended

    @property
    def open_streams(self) -> int:
        """How many streams are open in this process, of both kinds."""
        return sum(len(found) for found in self._inbox.values()) + sum(
            len(found) for found in self._feeds.values()
        )

    def streams_of(self, user_id: int) -> int:
        """How many inbox streams ``user_id`` has open in this process."""
        return len(self._inbox.get(user_id, ()))

    @contextmanager
    def inbox(self, user_id: int) -> Iterator[Listener]:
        """A listener rung when ``user_id``'s inbox changes past its cursor, for the life
        of the block. Register first, then read: nothing falls between the two."""
        with self._held(self._inbox, user_id) as listener:
            yield listener

    @contextmanager
    def feed(self, project_id: int) -> Iterator[Listener]:
        """A listener rung when deliveries of ``project_id`` may have changed."""
        with self._held(self._feeds, project_id) as listener:
            yield listener

    def deliveries_changed(self, project_ids: Iterable[int]) -> None:
        """Tell the console feeds of every process that these projects' deliveries were
        adopted or settled; after the commit (gathered: ``nabat.live.announce``)."""
        self._changes.announce(project_ids)

    def end_streams(self) -> None:
        """End every open stream now, and each one opened from now on at once."""
        self._ended = True
        for group in (self._inbox, self._feeds):
            for listeners in group.values():
                for listener in listeners:
                    listener.end()

    async def round(self) -> bool:
        """Ring the inbox streams behind their person's latest change, and every feed."""
        users = list(self._inbox)
        latest: dict[int, int] = {}
        if users:
            async with self._sessions() as session:
                for chunk in _chunks(users, RESYNC_CHUNK):
                    rows = await session.execute(
                        select(InboxChange.user_id, func.max(InboxChange.id))
                        .where(InboxChange.user_id.in_(chunk))
                        .group_by(InboxChange.user_id)
                    )
                    latest.update((user, newest) for user, newest in rows)
        for user, newest in latest.items():
            self._ring_user(user, newest)
        for listeners in list(self._feeds.values()):
            for listener in listeners:
                listener.ring()
        return False

    async def finished(self) -> None:
        """Stop listening and end what is still open."""
        for subscription in self._subscriptions:
            subscription.close()
        self._subscriptions = []
        self.end_streams()

    async def close(self) -> None:
        """Send the announcements still gathered (before the signals close)."""
        self._changes.flush()

    @contextmanager
    def _held(self, group: dict[int, set[Listener]], key: int) -> Iterator[Listener]:
        listener = Listener()
        if self._ended:
            listener.end()
        group.setdefault(key, set()).add(listener)
        try:
            yield listener
        finally:
            found = group.get(key)
            if found is not None:
                found.discard(listener)
                if not found:
                    del group[key]

    def _ring_user(self, user_id: int, change_id: int) -> None:
        for listener in self._inbox.get(user_id, ()):
            if listener.cursor < change_id:
                listener.ring()

    def _inbox_signal(self, payload: str | None) -> None:
        if payload is None:
            # Some signals may have been missed: one query finds who is behind.
            self.wake()
            return
        for user_id, change_id in read_inbox_payload(payload).items():
            self._ring_user(user_id, change_id)

    def _deliveries_signal(self, payload: str | None) -> None:
        # No payload (new deliveries queued, or signals missed): every feed looks again.
        projects = read_ids(payload) if payload else None
        for project_id, listeners in list(self._feeds.items()):
            if projects is None or project_id in projects:
                for listener in listeners:
                    listener.ring()


def _chunks(values: list[int], size: int) -> Iterator[list[int]]:
    found = iter(values)
    while chunk := list(islice(found, size)):
        yield chunk
