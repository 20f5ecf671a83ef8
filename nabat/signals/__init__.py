"""The signal seam: wake workers, routers (and later live streams) in every process.

``signals_for(url)`` picks the implementation by the database URL; ``AppState`` builds it
once per process. See ``docs/delivery.md`` ("Waking workers") for the behaviour.
"""

from __future__ import annotations

from sqlalchemy.engine import make_url

from nabat.signals.base import DELIVERIES, EVENTS, Listener, Signals, Subscription
from nabat.signals.local import LocalSignals
from nabat.signals.postgres import PostgresSignals, asyncpg_dsn

__all__ = [
    "DELIVERIES",
    "EVENTS",
    "Listener",
    "LocalSignals",
    "PostgresSignals",
    "Signals",
    "Subscription",
    "signals_for",
]


def signals_for(database_url: str) -> Signals:
    """LISTEN/NOTIFY for a PostgreSQL URL, in-process signals for anything else (SQLite
    admits one process that delivers; others poll). Not started: call ``start()``."""
    if make_url(database_url).get_backend_name() == "postgresql":
        return PostgresSignals(asyncpg_dsn(database_url))
    return LocalSignals()
