"""Accepting what producers hand in: the one use-case behind every way in.

The send API, the events API (single and batched), the Alertmanager and Grafana receivers
(and later the console and the scheduler) all call :meth:`Acceptor.accept`. It stores
the items durably before it returns, with one transaction shape for all of them:

- **Group commit.** Requests that arrive together share one transaction. While one is
  being written, newly arriving requests queue up and the next transaction takes all of
  them; an idle server stores a lone request at once. Every request still waits for its
  own items to be durable. A request whose items are invalid fails alone.
- **Routed before or after the answer, by the kind of request.** A request for one
  item (the send API, ``POST /events``) is routed in the transaction that stores it, so
  its answer names its deliveries. A request that may carry many (the batch endpoints,
  the Alertmanager and Grafana receivers) is checked, stored and answered, and the
  router routes it right after (``docs/decisions.md`` has the measurements).
- **Idempotency.** With an ``Idempotency-Key`` the key and the answer are stored in the
  same transaction as the items; a repeat with the same body gets the first answer back,
  a repeat with another body is refused.
- **Overload** gets :class:`~nabat.errors.Unavailable` (503 with ``Retry-After``) at
  once, never a wait without end.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from nabat.clock import Clock
from nabat.db.bulk import upsert_for
from nabat.db.gate import WriteGate
from nabat.delivery.queue import Claimed, Lease
from nabat.errors import Conflict, NabatError, Unavailable, ValidationFailed
from nabat.models.event import EventKey
from nabat.services.event_input import EventInput
from nabat.services.ingest import Ingest, Limits, Planned
from nabat.services.ingest_store import Accepted
from nabat.services.intake import Intake, intake, store_unrouted

# At most this many events per transaction: a bounded wait for the last request in it.
MAX_EVENTS = 2000
MAX_KEY = 200

Shape = Callable[[list[Accepted]], dict[str, Any]]


@dataclass(frozen=True)
class Idempotency:
    """A request's ``Idempotency-Key`` and a digest of its body."""

    key: str
    digest: str

    @classmethod
    def of(cls, header: str | None, body: bytes) -> Idempotency | None:
        """The request's idempotency, or None without the header; raises
        ValidationFailed for a key that is empty, too long or not printable."""
        if header is None:
            return None
        key = header.strip()
        if not key or len(key) > MAX_KEY or not key.isprintable():
            raise ValidationFailed(
                f"Idempotency-Key must be 1 to {MAX_KEY} printable characters",
                details=[{"field": "Idempotency-Key", "message": "bad header value"}],
            )
        return cls("idem:" + key, hashlib.sha256(body).hexdigest())


@dataclass(frozen=True)
class Answer:
    """The body to answer with, and whether it replays an earlier answer."""

    body: dict[str, Any]
    replayed: bool


@dataclass
class _Request:
    project_id: int
    items: Sequence[EventInput]
    shape: Shape
    idempotency: Idempotency | None
    future: asyncio.Future[Answer]
    # Checked and converted already: stored for the router, not routed.
    unrouted: Intake | None
    planned: list[Planned] = field(default_factory=list)
    accepted: list[Accepted] = field(default_factory=list)


class Acceptor:
    """Stores producers' items, many requests per transaction (see the module's doc)."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        gate: WriteGate,
        clock: Clock,
        limits: Limits,
        key_hours: int,
        queue_limit: int,
        lease_for: Callable[[int], Lease | None],
        hand_over: Callable[[list[Claimed], Lease | None], None],
        stored_unrouted: Callable[[], None],
    ) -> None:
        self._sessions = sessions
        self._gate = gate
        self._clock = clock
        self._limits = limits
        self._key_hours = key_hours
        self._queue_limit = queue_limit
        self._lease_for = lease_for
        self._hand_over = hand_over
        self._stored_unrouted = stored_unrouted
        self._pending: list[_Request] = []
        self._waiting = 0
        self._runner: asyncio.Task[None] | None = None

    async def accept(
        self,
        project_id: int,
        items: Sequence[EventInput],
        *,
        shape: Shape,
        deferred: bool = False,
        idempotency: Idempotency | None = None,
    ) -> Answer:
        """Store ``items`` durably and return the answer ``shape`` makes of their outcomes
        (or the first answer again, for a repeated ``Idempotency-Key``).

        ``deferred``: check and store the items for the router, which routes them right
        after the answer (batches and receivers), instead of routing them first.

        Raises the request's own NabatError when an item is invalid (nothing of it is
        stored), :class:`Unavailable` when too much waits already, or the storage error
        when the transaction failed (then nothing of it was stored).
        """
        if self._waiting + len(items) > self._queue_limit:
            raise Unavailable(
                f"too many events are waiting to be stored ({self._waiting}); nothing of "
                "this request was stored, retry after the time in Retry-After"
            )
        checked = None
        if deferred:
            # Checked and converted here, outside the write lock, while earlier requests
            # are being written; the session is closed before the wait for the commit.
            async with self._sessions() as session:
                checked = await intake(session, project_id, items, now=self._clock.now())
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._pending.append(_Request(project_id, items, shape, idempotency, future, checked))
        self._waiting += len(items)
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._run())
        return await future

    async def drain(self) -> None:
        """Wait until every request handed in so far is stored (at shutdown)."""
        while self._runner is not None and not self._runner.done():
            await asyncio.gather(self._runner, return_exceptions=True)

    async def _run(self) -> None:
        while self._pending:
            batch: list[_Request] = []
            count = 0
            keys: set[tuple[int, str]] = set()
            later: list[_Request] = []
            while self._pending and (
                not batch or count + len(self._pending[0].items) <= MAX_EVENTS
            ):
                request = self._pending.pop(0)
                key = request.idempotency and (request.project_id, request.idempotency.key)
                if key and key in keys:
                    # The same key twice in one transaction: the second waits for the
                    # first's answer to be stored, then replays it.
                    later.append(request)
                    continue
                if key:
                    keys.add(key)
                batch.append(request)
                count += len(request.items)
            self._pending[:0] = later
            try:
                await self._store(batch)
            except Exception as exc:
                for request in batch:
                    if not request.future.done():
                        request.future.set_exception(exc)
            finally:
                self._waiting -= count

    async def _store(self, batch: list[_Request]) -> None:
        now = self._clock.now()
        lease = self._lease_for(sum(len(r.items) for r in batch if r.unrouted is None))
        queued: list[Claimed] = []
        async with self._sessions() as session, self._gate:
            fresh = [r for r in batch if await self._claimed(session, r, now)]
            unrouted = [r for r in fresh if r.unrouted is not None]
            for request in unrouted:
                assert request.unrouted is not None
                request.accepted = await store_unrouted(session, request.unrouted, now)
            routed = sorted((r for r in fresh if r.unrouted is None), key=lambda r: r.project_id)
            for project_id, group in groupby(routed, key=lambda r: r.project_id):
                queued.extend(await self._route(session, project_id, list(group), now, lease))
            for request in fresh:
                await self._settle_key(session, request)
            await session.commit()
        self._hand_over(queued, lease)
        if unrouted:
            self._stored_unrouted()
        for request in fresh:
            if not request.future.done():
                request.future.set_result(Answer(request.shape(request.accepted), False))

    async def _route(
        self,
        session: AsyncSession,
        project_id: int,
        group: list[_Request],
        now: datetime,
        lease: Lease | None,
    ) -> list[Claimed]:
        ingest = Ingest(session, project_id=project_id, now=now, limits=self._limits)
        await ingest.load()
        valid: list[_Request] = []
        for request in group:
            try:
                request.planned = ingest.prepare(request.items)
            except NabatError as exc:
                request.future.set_exception(exc)
            else:
                valid.append(request)
        if not valid:
            return []
        result = await ingest.store(
            [plan for request in valid for plan in request.planned], lease=lease
        )
        start = 0
        for request in valid:
            end = start + len(request.planned)
            request.accepted = result.accepted[start:end]
            start = end
        return result.queued

    async def _claimed(self, session: AsyncSession, request: _Request, now: datetime) -> bool:
        """Take the request's ``Idempotency-Key`` for it in this transaction; False when
        the request is answered already: a repeat of a stored key gets the first answer,
        another body under the same key a refusal."""
        if request.idempotency is None:
            return True
        key = request.idempotency.key
        if await self._replay(session, request, now):
            return False
        # An expired key of the same name is replaced, so the key can be used again.
        await session.execute(
            delete(EventKey).where(
                EventKey.project_id == request.project_id,
                EventKey.key == key,
                EventKey.expires_at <= now,
            )
        )
        # On PostgreSQL a concurrent holder of the key (another process) makes this wait
        # for its commit and then insert nothing: this request replays that answer.
        taken = await session.execute(
            upsert_for(session)(EventKey)
            .values(
                project_id=request.project_id,
                key=key,
                response=None,
                hits=0,
                expires_at=now + timedelta(hours=self._key_hours),
            )
            .on_conflict_do_nothing(index_elements=["project_id", "key"])
        )
        if getattr(taken, "rowcount", 1):
            return True
        if not await self._replay(session, request, now):
            request.future.set_exception(
                Conflict(
                    "a request with this Idempotency-Key is being stored right now; retry "
                    "in a moment to get its answer"
                )
            )
        return False

    async def _replay(self, session: AsyncSession, request: _Request, now: datetime) -> bool:
        assert request.idempotency is not None
        row = await session.scalar(
            select(EventKey).where(
                EventKey.project_id == request.project_id,
                EventKey.key == request.idempotency.key,
                EventKey.expires_at > now,
            )
        )
        if row is None or row.response is None:
            return False
        if row.response.get("fingerprint") != request.idempotency.digest:
            request.future.set_exception(
                ValidationFailed(
                    "this Idempotency-Key was used with a different request body; use a "
                    "new key for a new request",
                    details=[{"field": "Idempotency-Key", "message": "reused with another body"}],
                )
            )
            return True
        row.hits += 1
        request.future.set_result(Answer(row.response["body"], True))
        return True

    async def _settle_key(self, session: AsyncSession, request: _Request) -> None:
        """Store the request's answer under its key, or give the key up when the request
        failed (so that a corrected repeat may use it)."""
        if request.idempotency is None:
            return
        where = (
            EventKey.project_id == request.project_id,
            EventKey.key == request.idempotency.key,
        )
        if request.future.done():
            await session.execute(delete(EventKey).where(*where))
            return
        body = json.loads(json.dumps(request.shape(request.accepted)))
        await session.execute(
            update(EventKey)
            .where(*where)
            .values(response={"fingerprint": request.idempotency.digest, "body": body})
            .execution_options(synchronize_session=False)
        )
