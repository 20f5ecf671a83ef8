"""The delivery worker: claim due deliveries, send them concurrently, settle in batches."""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from nabat.channels.base import ChannelConfig
from nabat.channels.contract import DeliveryError, FailureClass, Receipt, Sender
from nabat.channels.registry import config_model
from nabat.clock import Clock
from nabat.db.gate import WriteGate
from nabat.delivery.attempt import attempt
from nabat.delivery.backoff import retry_delay
from nabat.delivery.circuit import CircuitPolicy, passage
from nabat.delivery.health import update_health
from nabat.delivery.inbox import store_items
from nabat.delivery.metrics import Metrics
from nabat.delivery.outcomes import Done, channel_runs, dead, failed, hopped, released, sent
from nabat.delivery.queue import (
    Claimed,
    Lease,
    Outcome,
    any_due,
    claim,
    enqueue,
    release,
    settle,
)
from nabat.delivery.ratelimit import RateLimits
from nabat.delivery.render import Wording, load_wording
from nabat.loops import BackgroundLoop, LoopHealth
from nabat.models.channel import Channel
from nabat.models.delivery import ChannelHealth, CircuitState, DeliveryStatus
from nabat.security.crypto import SecretBox
from nabat.services.channels import ChannelChanges, ChannelService
from nabat.services.routing_cache import CONTEXTS, ProjectCache
from nabat.settings import Settings
from nabat.signals.inbox import InboxNews

log = logging.getLogger("nabat.delivery")

# Outcomes are written together: at most this many per transaction...
_FLUSH_BATCH = 500
# ...waiting at most this long (seconds) for a batch to fill.
_FLUSH_WAIT = 0.02
# After a failed flush, the next one is tried this much later (seconds).
_FLUSH_RETRY = 1.0


@dataclass(frozen=True)
class ChannelInfo:
    """A channel as the worker needs it."""

    id: int
    name: str
    type: str
    enabled: bool
    config: ChannelConfig
    # The circuit breaker as last read: closed, or open until ``retry_at``.
    circuit: str = CircuitState.CLOSED.value
    retry_at: datetime | None = None


class Worker(BackgroundLoop):
    """Sends queued deliveries. Many may run, in one process or many, on one database.

    A supervised loop (``nabat.loops``): a round claims what is due and starts sending
    it; a failing database makes rounds fail, and the loop retries them with backoff.
    In-app deliveries' inbox items are stored as they are settled, and announced through
    ``inbox_published`` after the commit; ``settled`` hears which projects' deliveries
    each flush settled, after its commit (the console's live feeds).
    """

    name = "worker"

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        senders: Mapping[str, Sender[Any]],
        box: SecretBox,
        clock: Clock,
        settings: Settings,
        metrics: Metrics,
        write_gate: WriteGate | None = None,
        limits: RateLimits | None = None,
        name: str | None = None,
        rng: random.Random | None = None,
        health: LoopHealth | None = None,
        inbox_published: Callable[[list[InboxNews]], None] | None = None,
        settled: Callable[[set[int]], None] | None = None,
    ) -> None:
        super().__init__(health=health, idle_seconds=settings.poll_seconds)
        self._inbox_published = inbox_published
        self._settled = settled
        self._sessions = sessions
        self._senders = senders
        self._box = box
        self._clock = clock
        self._settings = settings
        self._metrics = metrics
        self._gate = write_gate or WriteGate(serialise=False)
        self._limits = limits or RateLimits(clock)
        self.owner = name or f"{socket.gethostname()}:{os.getpid()}:{id(self) % 10_000}"
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not secrecy
        self._inflight: set[asyncio.Task[None]] = set()
        self._done: list[Done] = []
        self._done_ready = asyncio.Event()
        self._flush_lock = asyncio.Lock()
        self._flusher: asyncio.Task[None] | None = None
        # A failed settle, raised by the next round so that the loop reports it.
        self._flush_error: Exception | None = None
        self._channel_cache: ProjectCache[dict[int, ChannelInfo]] = ProjectCache(follows=CONTEXTS)
        self._active: dict[int, Claimed] = {}
        self._adopting: set[asyncio.Task[None]] = set()
        self._pending_adoption = 0
        self._running = False
        self._circuit = CircuitPolicy(
            threshold=settings.circuit_failure_threshold,
            open_seconds=settings.circuit_open_seconds,
            cap_seconds=settings.circuit_open_cap_seconds,
        )

    def can_adopt(self, count: int) -> bool:
        """Whether this running worker can take ``count`` more deliveries in memory."""
        limit = 2 * self._settings.worker_concurrency
        return self._running and len(self._inflight) + self._pending_adoption + count <= limit

    def lease(self, now: datetime) -> Lease:
        """A lease to this worker, for deliveries it will be handed directly."""
        return Lease(owner=self.owner, until=now + timedelta(seconds=self._settings.lease_seconds))

    def adopt(self, items: list[Claimed]) -> None:
        """Start sending committed deliveries already leased to this worker."""
        self._pending_adoption += len(items)
        task = asyncio.create_task(self._adopt(items))
        self._adopting.add(task)
        task.add_done_callback(self._adopting.discard)

    async def _adopt(self, items: list[Claimed]) -> None:
        try:
            async with self._sessions() as session:
                channels = await self._channels(session, items)
                wording = await load_wording(session, items)
        finally:
            self._pending_adoption -= len(items)
        self._spawn(items, channels, wording)

    async def started(self) -> None:
        """Start the settling of outcomes; from now on deliveries may be handed over."""
        self._flusher = asyncio.create_task(self._flush_loop())
        self._running = True

    async def round(self) -> bool:
        """Claim due deliveries and start sending them; True when some were claimed."""
        if self._flush_error is not None:
            error, self._flush_error = self._flush_error, None
            raise error
        return bool(await self._tick())

    async def finished(self) -> None:
        """Finish in-flight sends (or hand them back) and settle them."""
        self._running = False
        if self._adopting:
            await asyncio.gather(*self._adopting, return_exceptions=True)
        await self._drain()
        if self._flusher is not None:
            await self._stop_flusher(self._flusher)

    async def run_until_idle(self) -> None:
        """Burst mode: work until nothing is due and nothing is in flight (tests, CLI)."""
        flusher = asyncio.create_task(self._flush_loop())
        try:
            while True:
                claimed = await self._tick()
                if claimed:
                    continue
                if self._inflight:
                    await asyncio.wait(self._inflight, return_when="FIRST_COMPLETED")
                    continue
                # Settle what finished: retries due now and health notices become claimable.
                await self._flush()
                if not await self._tick():
                    return
        finally:
            await self._stop_flusher(flusher)

    async def _tick(self) -> int:
        concurrency = self._settings.worker_concurrency
        room = concurrency - len(self._inflight)
        # Claiming a handful of rows at a time costs a write transaction each; wait until
        # a useful share of the slots is free.
        if self._inflight and room < max(1, concurrency // 4):
            await asyncio.wait(self._inflight, return_when="FIRST_COMPLETED")
            return 1
        limit = min(room, self._settings.worker_batch)
        async with self._sessions() as session:
            now = self._clock.now()
            # A read first: an idle poll must not take the write lock.
            dead_after = timedelta(seconds=self._settings.dead_after_seconds)
            if not await any_due(session, now=now, worker=self.owner, dead_after=dead_after):
                return 0
            async with self._gate:
                claimed = await claim(
                    session,
                    worker=self.owner,
                    now=now,
                    lease=timedelta(seconds=self._settings.lease_seconds),
                    limit=limit,
                    dead_after=dead_after,
                )
            if not claimed:
                return 0
            channels = await self._channels(session, claimed)
            wording = await load_wording(session, claimed)
        self._spawn(claimed, channels, wording)
        return len(claimed)

    def _spawn(
        self, items: list[Claimed], channels: dict[int, ChannelInfo], wording: dict[int, Wording]
    ) -> None:
        for item in items:
            self._active[item.id] = item
            info = channels.get(item.channel_id) if item.channel_id is not None else None
            task = asyncio.create_task(self._deliver(item, info, wording.get(item.project_id)))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)

    async def _channels(
        self, session: AsyncSession, items: Collection[Claimed]
    ) -> dict[int, ChannelInfo]:
        """The channels ``items`` go out over, by id, from a per-project cache that is
        reread after a second or at once after a change through this process (a channel
        switched off elsewhere stops being used within that second)."""
        found: dict[int, ChannelInfo] = {}
        for project in {item.project_id for item in items if item.channel_id is not None}:
            found.update(
                await self._channel_cache.get(
                    session, project, partial(self._load_channels, session, project)
                )
            )
        return found

    async def _load_channels(self, session: AsyncSession, project: int) -> dict[int, ChannelInfo]:
        rows = await session.execute(
            select(Channel, ChannelHealth.circuit, ChannelHealth.circuit_retry_at)
            .outerjoin(ChannelHealth, ChannelHealth.channel_id == Channel.id)
            .where(Channel.project_id == project)
        )
        found: dict[int, ChannelInfo] = {}
        for row, circuit, retry_at in rows:
            model = config_model(row.type)
            if model is None:
                continue
            config = model.model_validate(self._box.decrypt_json(row.config_sealed))
            found[row.id] = ChannelInfo(
                row.id,
                row.name,
                row.type,
                row.enabled,
                config,
                circuit or CircuitState.CLOSED.value,
                retry_at,
            )
        return found

    async def _deliver(
        self, item: Claimed, channel: ChannelInfo | None, wording: Wording | None
    ) -> None:
        started = self._clock.now()
        if channel is None:
            self._dead_end(
                item, dead(item, started, FailureClass.CONFIG, "the channel was deleted")
            )
            return
        if not channel.enabled:
            reason = (
                f"channel {channel.id} ({channel.name}) is disabled; enable it and retry "
                "the delivery"
            )
            self._dead_end(item, dead(item, started, FailureClass.CONFIG, reason))
            return
        sender = self._senders.get(channel.type)
        if sender is None:
            reason = f"no sender for channel type {channel.type}"
            self._dead_end(item, dead(item, started, FailureClass.INTERNAL, reason))
            return
        if channel.circuit != CircuitState.CLOSED.value and not await self._may_pass(
            item, channel, started
        ):
            return
        result = await attempt(
            item,
            channel_type=channel.type,
            config=channel.config,
            wording=wording,
            sender=sender,
            limits=self._limits,
        )
        if result.wait > 0:
            self._finish(item, released(item, started, result.wait))
            return
        error = result.error
        outcome = self._outcome(item, started, result.seconds, result.receipt, error)
        if result.sent:
            failure = error.failure_class if error else None
            self._metrics.attempt(channel.type, outcome.status.value, result.seconds, failure)
        if outcome.status is DeliveryStatus.DEAD:
            self._dead_end(item, outcome)
            return
        self._finish(item, outcome, error.config_update if error else None)

    async def _may_pass(self, item: Claimed, channel: ChannelInfo, now: datetime) -> bool:
        """Whether a delivery over a channel whose circuit was open when last read may be
        attempted now (the circuit closed since, or this is its trial); if not, the
        delivery goes on to its chain's next channel, or waits for the trial."""
        async with self._sessions() as session, self._gate:
            through = await passage(session, channel.id, now=now)
            await session.commit()
        if through.gate != "wait":
            return True
        until = through.until or now
        reason = (
            f"channel {channel.id} ({channel.name}) is paused after repeated failures "
            f"(circuit open) until {until.isoformat()}"
        )
        if item.fallback:
            outcome = released(item, now, 0.0)
            self._finish(
                item, hopped(item, replace(outcome, reason=reason), now, per_hop=self._hop_attempts)
            )
        else:
            wait = max((until - now).total_seconds(), 0.0)
            self._finish(item, replace(released(item, now, wait), reason=reason))
        return False

    def _dead_end(self, item: Claimed, outcome: Outcome) -> None:
        """A delivery that cannot go over this channel: on to the next of its chain, or
        dead when it has none."""
        if item.fallback:
            outcome = hopped(item, outcome, self._clock.now(), per_hop=self._hop_attempts)
        self._finish(item, outcome)

    @property
    def _hop_attempts(self) -> int:
        return self._settings.max_attempts

    def _outcome(
        self,
        item: Claimed,
        started: datetime,
        seconds: float,
        receipt: Receipt | None,
        error: DeliveryError | None,
    ) -> Outcome:
        now = self._clock.now()
        if error is None:
            assert receipt is not None
            return sent(item, started, seconds, receipt, now)
        delay = 0.0
        if error.config_update is None:
            delay = retry_delay(
                item.attempts + 1,
                base=self._settings.retry_base_seconds,
                cap=self._settings.retry_cap_seconds,
                retry_after=error.retry_after,
                rng=self._rng,
            )
        return failed(item, started, seconds, error, now + timedelta(seconds=delay))

    def _finish(
        self, item: Claimed, outcome: Outcome, config_update: dict[str, Any] | None = None
    ) -> None:
        self._active.pop(item.id, None)
        self._done.append(Done(item, outcome, config_update))
        self._done_ready.set()

    async def _flush_loop(self) -> None:
        while True:
            await self._done_ready.wait()
            # A little patience turns many small commits into one; a full batch goes at once.
            for _ in range(4):
                if len(self._done) >= _FLUSH_BATCH:
                    break
                await asyncio.sleep(_FLUSH_WAIT / 4)
            try:
                await self._flush()
            except Exception as exc:
                # The outcomes are kept and settled by a later flush; the next round
                # reports the failure. Pausing keeps a dead database from being hammered.
                self._flush_error = exc
                await asyncio.sleep(_FLUSH_RETRY)

    async def _stop_flusher(self, flusher: asyncio.Task[None]) -> None:
        # Cancelling the flusher halfway through a write would lose the outcomes it holds
        # (their deliveries would stay SENDING until the lease ran out): stop it only
        # between flushes, then settle what is left.
        async with self._flush_lock:
            flusher.cancel()
        await asyncio.gather(flusher, return_exceptions=True)
        await self._flush()

    async def _flush(self) -> None:
        async with self._flush_lock:
            await self._flush_now()

    async def _flush_now(self) -> None:
        self._done_ready.clear()
        if not self._done:
            return
        batch, self._done = self._done, []
        now = self._clock.now()
        try:
            async with self._sessions() as session, self._gate:
                owned = await settle(
                    session, [d.outcome for d in batch], worker=self.owner, now=now
                )
                mine = [d for d in batch if d.outcome.delivery_id in owned]
                runs = channel_runs(mine)
                changes = await update_health(
                    session,
                    runs,
                    now=now,
                    threshold=self._settings.health_failure_threshold,
                    circuit=self._circuit,
                )
                notices = changes.notices
                if notices:
                    await enqueue(
                        session, notices, now=now, max_attempts=self._settings.max_attempts
                    )
                news = await store_items(
                    session,
                    [(d.item, d.outcome.inbox) for d in mine if d.outcome.inbox is not None],
                    now=now,
                )
                await session.commit()
        except Exception:
            # Nothing was written: keep the outcomes for the next flush (their leases are
            # renewed meanwhile, so nobody else sends them again).
            self._done[:0] = batch
            self._done_ready.set()
            raise
        if news and self._inbox_published is not None:
            self._inbox_published(news)
        if mine and self._settled is not None:
            self._settled({done.item.project_id for done in mine})
        for project in changes.circuits:
            self._channel_cache.forget(session, project)
        for done in batch:
            if done.config_update:
                await self._apply_config_update(done.item, done.config_update)
        if notices or any(done.outcome.hop is not None for done in batch):
            self.wake()

    async def _apply_config_update(self, item: Claimed, changes: dict[str, Any]) -> None:
        if item.channel_id is None:
            return
        async with self._sessions() as session:
            service = ChannelService(session, self._box, self._clock)
            try:
                await service.update(
                    item.project_id, item.channel_id, ChannelChanges(configuration=changes)
                )
                await session.commit()
            except Exception:
                log.exception("could not save the provider's configuration change")
            else:
                log.info("channel %s configuration updated by the provider", item.channel_id)

    async def _drain(self) -> None:
        # Shutdown: give in-flight sends a grace period, then hand the rest back unsent.
        if not self._inflight:
            return
        _, pending = await asyncio.wait(self._inflight, timeout=10.0)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        if self._active:
            async with self._sessions() as session, self._gate:
                await release(session, list(self._active), worker=self.owner, at=self._clock.now())
                await session.commit()
            self._active.clear()
