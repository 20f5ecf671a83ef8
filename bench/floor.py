"""The storage floor under batched events: SQLite alone, with no Nabat code in the way.

Every accepted event is stored, before its answer, as an event row plus one delivery row
per recipient. This writes exactly those rows (the bench event, one delivery each) with
Python's ``sqlite3`` module straight into a database made by Nabat's migrations, 1,000
events per transaction, with Nabat's settings (WAL, ``synchronous=NORMAL``). No parsing,
validation, routing or framework is involved, so no implementation that keeps these
rows can store events faster on this machine.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

from bench.harness import ROOT
from bench.load import event

BATCH = 1000
BATCHES = 50

INSERT_EVENTS = (
    "INSERT INTO events (public_id, project_id, origin, type, severity, message, source, "
    "subject, labels, data, repeats, notes, occurred_at, received_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
INSERT_DELIVERIES = (
    "INSERT INTO deliveries (public_id, project_id, channel_id, channel_type, event_id, kind, "
    "content, status, attempts, max_attempts, next_attempt_at, created_at, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _database(data: str) -> Path:
    """A migrated Nabat database with one project and one channel."""
    env = {**os.environ, "NABAT_DATA_DIR": data, "NABAT_DATABASE_URL": ""}
    subprocess.run(
        [sys.executable, "-m", "nabat", "migrate"],
        env=env,
        cwd=ROOT,
        check=True,
        timeout=120,
        capture_output=True,
    )
    path = Path(data) / "nabat.db"
    with sqlite3.connect(path) as connection:
        project = connection.execute(
            "INSERT INTO projects (slug, name, created_at) "
            "VALUES ('floor', 'floor', '2026-01-01 00:00:00')"
        ).lastrowid
        connection.execute(
            "INSERT INTO channels (project_id, name, type, config_sealed, enabled, is_default, "
            "created_at, updated_at) VALUES (?, 'sink', 'WEBHOOK', '', 1, 1, "
            "'2026-01-01 00:00:00', '2026-01-01 00:00:00')",
            (project,),
        )
    return path


def sqlite_floor(batches: int = BATCHES, size: int = BATCH) -> float:
    """Events/s that SQLite alone stores as event + delivery rows, committed per batch."""
    with tempfile.TemporaryDirectory(prefix="nabat-floor-") as data:
        path = _database(data)
        connection = sqlite3.connect(path, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        project, channel = connection.execute("SELECT project_id, id FROM channels").fetchone()
        now = "2026-12-01 05:00:00.000000"
        bodies = [[event(b * size + i) for i in range(size)] for b in range(batches)]
        start = time.perf_counter()
        for number, body in enumerate(bodies):
            connection.execute("BEGIN IMMEDIATE")
            connection.executemany(
                INSERT_EVENTS,
                [
                    (
                        f"evt_{number:08x}{i:024x}",
                        project,
                        "api",
                        e["type"],
                        e["severity"],
                        e["message"],
                        orjson.dumps(e["source"]).decode(),
                        orjson.dumps(e["subject"]).decode(),
                        orjson.dumps(e["labels"]).decode(),
                        "{}",
                        0,
                        "[]",
                        now,
                        now,
                    )
                    for i, e in enumerate(body)
                ],
            )
            (last,) = connection.execute("SELECT max(id) FROM events").fetchone()
            connection.executemany(
                INSERT_DELIVERIES,
                [
                    (
                        f"dlv_{number:08x}{i:024x}",
                        project,
                        channel,
                        "WEBHOOK",
                        last - size + 1 + i,
                        "notification",
                        orjson.dumps({"event": e, "render": {"kind": "chat"}}).decode(),
                        "QUEUED",
                        0,
                        8,
                        now,
                        now,
                        now,
                    )
                    for i, e in enumerate(body)
                ],
            )
            connection.execute("COMMIT")
        elapsed = time.perf_counter() - start
        connection.close()
        return batches * size / elapsed


async def sqlite_floor_async(batches: int = BATCHES) -> dict[str, float]:
    """:func:`sqlite_floor` for the bench runner (it runs no event loop work)."""
    return {"throughput": sqlite_floor(batches)}
