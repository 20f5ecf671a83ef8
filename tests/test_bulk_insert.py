"""Many rows in few statements: every row stored, and each id given back in row order."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import FastAPI
from sqlalchemy import select

from nabat.db.bulk import CHUNK_ROWS
from nabat.models.event import Event
from nabat.services.event_input import EventInput
from nabat.services.ingest_store import event_row, insert_events


async def test_rows_beyond_one_statement_get_their_own_ids_in_order(app: FastAPI) -> None:
    now = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    count = 2 * CHUNK_ROWS + 345
    big = {"big": 2**70 + 7}
    rows = [
        event_row(
            EventInput(type="test", labels={"n": str(n)}, data=big if n == 7 else {}),
            f"evt_bulk{n:08d}",
            [],
            project_id=1,
            now=now,
            routed=True,
        )
        for n in range(count)
    ]
    async with app.state.nabat.sessions() as session:
        ids = await insert_events(session, rows)
        await session.commit()
    assert len(ids) == count
    async with app.state.nabat.sessions() as session:
        stored = dict(
            (
                await session.execute(select(Event.id, Event.public_id).where(Event.id.in_(ids)))
            ).all()
        )
        seventh = await session.get(Event, ids[7])
    assert [stored[i] for i in ids] == [f"evt_bulk{n:08d}" for n in range(count)]
    assert seventh is not None
    assert seventh.labels == {"n": "7"}
    assert seventh.data == big
    assert seventh.received_at == now
