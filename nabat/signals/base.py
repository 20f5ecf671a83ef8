"""The signal seam's contract: topics, listeners and the checks every implementation makes.

A signal says "look again": it carries at most an id (never a body) and may be lost, so a
listener re-reads the database and polling stays the fallback. Implementations:
:class:`~nabat.signals.local.LocalSignals` (one process) and
:class:`~nabat.signals.postgres.PostgresSignals` (every process on one PostgreSQL).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

# New deliveries were queued (not adopted in memory): workers, claim them.
DELIVERIES = "deliveries"
# Batched events were stored for routing: routers, take them.
EVENTS = "events"
# People's inboxes changed: live streams, look again. The payload names whose inbox and
# up to which change (``nabat.signals.inbox``), never what changed.
INBOX = "inbox"
# Deliveries were adopted or settled: the console's live feeds, look again. The payload
# is the projects' ids, comma-separated (``nabat.live.announce``).
DELIVERY_CHANGES = "delivery_changes"

# PostgreSQL's NOTIFY refuses payloads of 8,000 bytes or more (the default build's
# limit: https://www.postgresql.org/docs/current/sql-notify.html); every implementation
# refuses them so that a payload too long fails on SQLite in development as well.
MAX_PAYLOAD_BYTES = 7999
# A PostgreSQL channel is an identifier: longer names would be cut to 63 bytes silently,
# and two topics could then meet on one channel.
MAX_TOPIC_BYTES = 63

Listener = Callable[[str | None], None]
"""Called with a signal's payload, or with ``None`` when signals may have been missed (after
a lost connection): then the listener must look at everything, not at one id. It runs in
the event loop and must not block; an exception it raises is logged, not propagated."""


def check(topic: str, payload: str) -> None:
    """Raise ``ValueError`` unless ``topic`` and ``payload`` fit every implementation."""
    if not topic or len(topic.encode()) > MAX_TOPIC_BYTES:
        raise ValueError(f"a signal topic has 1 to {MAX_TOPIC_BYTES} bytes, not {topic!r}")
    size = len(payload.encode())
    if size > MAX_PAYLOAD_BYTES:
        raise ValueError(
            f"a signal payload carries ids, not bodies: {size} bytes on {topic!r} is over "
            f"the limit of {MAX_PAYLOAD_BYTES}"
        )


@dataclass(eq=False)
class Subscription:
    """One listener on one topic, until :meth:`close`."""

    topic: str
    listener: Listener
    _on_close: Callable[[Subscription], None]

    def close(self) -> None:
        """Stop calling the listener (at once; closing twice is harmless)."""
        self._on_close(self)


class Signals(ABC):
    """Publish and subscribe to signals between the parts of Nabat, in one or many processes.

    Built once per process (on ``AppState``) and started before use. ``publish`` never
    waits: listeners in this process are called before it returns, other processes hear
    of it as soon as the implementation can tell them. Publish only after the commit that
    made the change visible, or a listener may look before there is anything to see.
    """

    @abstractmethod
    async def start(self) -> None:
        """Begin carrying signals between processes (a no-op where there is one)."""

    @abstractmethod
    def publish(self, topic: str, payload: str = "") -> None:
        """Signal ``topic`` to every listener in every process; ``payload`` is at most an
        id. Raises ``ValueError`` for a topic or payload that :func:`check` refuses."""

    @abstractmethod
    def subscribe(self, topic: str, listener: Listener) -> Subscription:
        """Call ``listener`` for each signal on ``topic`` from now on (and with ``None``
        when some may have been missed), until the subscription is closed."""

    @abstractmethod
    async def listening(self) -> None:
        """Return once every subscription made so far hears other processes' signals (or
        the connection is down: its listeners are then told ``None`` when it is back).
        Subscribe, await this, then read the state: nothing falls between the two."""

    @abstractmethod
    async def close(self) -> None:
        """Send what is still waiting to go out (briefly) and stop; nothing is called
        afterwards."""
