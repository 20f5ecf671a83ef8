"""The signal seam: wake workers, routers (and later live streams) in every process.

``signals_for(url)`` picks the implementation by the database URL; ``AppState`` builds it
once per process. See ``docs/delivery.md`` ("Waking workers") for the behaviour.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import make_url

from nabat.signals.base import (
    DELIVERIES,
    DELIVERY_CHANGES,
    EVENTS,
    INBOX,
    Listener,
    Signals,
    Subscription,
)
from nabat.signals.local import LocalSignals
from nabat.signals.postgres import PostgresSignals, asyncpg_dsn
from nabat.signals.sockets import SocketSignals, directory_for

__all__ = [
    "DELIVERIES",
    "DELIVERY_CHANGES",
    "EVENTS",
    "INBOX",
    "Listener",
    "LocalSignals",
    "PostgresSignals",
    "Signals",
    "SocketSignals",
    "Subscription",
    "signals_for",
]


def signals_for(database_url: str) -> Signals:
    """LISTEN/NOTIFY for a PostgreSQL URL; for a SQLite file, Unix datagram sockets
    between the processes that share it; in-process signals for an in-memory database.
    Not started: call ``start()``."""
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":
        return PostgresSignals(asyncpg_dsn(database_url))
    if url.database and url.database != ":memory:":
        return SocketSignals(directory_for(Path(url.database)))
    return LocalSignals()
