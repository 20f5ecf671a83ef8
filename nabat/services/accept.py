"""Accepting events under an ``Idempotency-Key``: a repeat gets the first answer back."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from nabat.delivery.queue import Claimed, Lease
from nabat.errors import ValidationFailed
from nabat.models.event import EventKey
from nabat.services.event_input import EventInput
from nabat.services.ingest import Ingest, IngestResult, Limits
from nabat.services.intake import intake, store_unrouted

MAX_KEY = 200


@dataclass(frozen=True)
class Answer:
    """The body to answer with, whether it replays an earlier one, and the new work."""

    body: dict[str, Any]
    replayed: bool
    queued: list[Claimed]


def fingerprint(body: bytes) -> str:
    """What a repeat's body is compared with: the same key must come with the same body."""
    return hashlib.sha256(body).hexdigest()


def _key(idempotency_key: str) -> str:
    key = idempotency_key.strip()
    if not key or len(key) > MAX_KEY or not key.isprintable():
        raise ValidationFailed(
            f"Idempotency-Key must be 1 to {MAX_KEY} printable characters",
            details=[{"field": "Idempotency-Key", "message": "bad header value"}],
        )
    return "idem:" + key


async def _stored(
    session: AsyncSession, project_id: int, key: str, now: datetime, body_digest: str
) -> dict[str, Any] | None:
    row = await session.scalar(
        select(EventKey).where(
            EventKey.project_id == project_id, EventKey.key == key, EventKey.expires_at > now
        )
    )
    if row is None or row.response is None:
        return None
    if row.response.get("fingerprint") != body_digest:
        raise ValidationFailed(
            "this Idempotency-Key was used with a different request body; use a new key "
            "for a new request",
            details=[{"field": "Idempotency-Key", "message": "reused with another body"}],
        )
    row.hits += 1
    answer: dict[str, Any] = row.response["body"]
    return answer


async def accept(
    session: AsyncSession,
    *,
    project_id: int,
    items: Sequence[EventInput],
    now: datetime,
    limits: Limits,
    idempotency_key: str | None,
    body_digest: str,
    key_hours: int,
    shape: Any,
    lease: Lease | None = None,
    unrouted: bool = False,
) -> Answer:
    """Route and store ``items`` and commit; with a key seen before, replay its answer.

    ``shape`` turns the ingest result into the answer's body (single or batch form);
    ``unrouted`` stores the events for the router instead of routing them first. Two
    concurrent requests with one key store one answer: the loser of the race rolls back
    and replays the winner's.
    """
    key = _key(idempotency_key) if idempotency_key is not None else None
    if key is not None:
        replay = await _stored(session, project_id, key, now, body_digest)
        if replay is not None:
            await session.commit()
            return Answer(replay, True, [])
    if unrouted:
        checked = await intake(session, project_id, items, now=now)
        result = IngestResult(await store_unrouted(session, checked, now), [])
    else:
        ingest = Ingest(session, project_id=project_id, now=now, limits=limits)
        result = await ingest.run(items, lease=lease)
    body: dict[str, Any] = shape(result.accepted)
    if key is None:
        await session.commit()
        return Answer(body, False, result.queued)
    # An expired key of the same name is replaced, so the key can be used again later.
    # Only an expired one: a live row here was committed by a concurrent request with the
    # same key, and must make this one lose the race, not be deleted by it.
    await session.execute(
        delete(EventKey).where(
            EventKey.project_id == project_id, EventKey.key == key, EventKey.expires_at <= now
        )
    )
    session.add(
        EventKey(
            project_id=project_id,
            key=key,
            response={"fingerprint": body_digest, "body": json.loads(json.dumps(body))},
            hits=0,
            expires_at=now + timedelta(hours=key_hours),
        )
    )
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        replay = await _stored(session, project_id, key, now, body_digest)
        if replay is None:
            raise
        await session.commit()
        return Answer(replay, True, [])
    return Answer(body, False, result.queued)
