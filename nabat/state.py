"""The long-lived parts of a running Nabat, built once at start and shared by requests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from nabat.channels.contract import Sender
from nabat.channels.descriptor import SenderParts
from nabat.channels.outbound import Outbound
from nabat.channels.smtp_pool import SmtpPools
from nabat.clock import Clock
from nabat.db.gate import WriteGate
from nabat.delivery.liveness import Liveness
from nabat.delivery.metrics import Metrics
from nabat.delivery.queue import Claimed, Lease
from nabat.delivery.ratelimit import RateLimits
from nabat.delivery.worker import Worker
from nabat.live.hub import LiveHub
from nabat.loops import BackgroundLoop, LoopHealth
from nabat.scheduler import Recurring, Scheduler
from nabat.security.crypto import SecretBox
from nabat.security.keys import Keys
from nabat.security.ratelimit import AttemptLimiter
from nabat.services.accept import Acceptor
from nabat.services.channel_checks import ChannelChecks
from nabat.services.event_router import EventRouter
from nabat.services.housekeeping import EVERY_SECONDS, Housekeeper
from nabat.services.ingest import Limits
from nabat.services.principals import PrincipalCache
from nabat.services.test_send import TestParts
from nabat.settings import Settings
from nabat.signals import DELIVERIES, EVENTS, INBOX, LocalSignals, Signals
from nabat.signals.inbox import InboxNews, inbox_payloads


@dataclass
class AppState:
    """Everything a request handler or worker may need beyond the request itself."""

    settings: Settings
    clock: Clock
    keys: Keys
    box: SecretBox
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    login_by_user: AttemptLimiter
    login_by_address: AttemptLimiter
    outbound: Outbound
    smtp: SmtpPools
    senders: dict[str, Sender[Any]]
    metrics: Metrics
    write_gate: WriteGate
    worker: Worker | None = None
    # Started by build_state; the default serves a state built without one (one process).
    signals: Signals = field(default_factory=LocalSignals)
    acceptor: Acceptor = field(init=False)
    router: EventRouter = field(init=False)
    housekeeper: Housekeeper = field(init=False)
    liveness: Liveness = field(init=False)
    checks: ChannelChecks = field(init=False)
    scheduler: Scheduler = field(init=False)
    principals: PrincipalCache = field(init=False)
    loop_health: LoopHealth = field(init=False)
    # The open live streams of this process (started by the lifespan of an HTTP server).
    hub: LiveHub = field(init=False)
    # One set of provider buckets per process: workers and test sends draw on the same.
    rate_limits: RateLimits = field(init=False)

    def __post_init__(self) -> None:
        self.loop_health = LoopHealth(self.metrics.registry)
        self.principals = PrincipalCache(self.clock)
        self.rate_limits = RateLimits(self.clock)
        self.hub = LiveHub(
            signals=self.signals,
            sessions=self.sessions,
            keepalive_seconds=self.settings.stream_keepalive_seconds,
            resync_seconds=self.settings.stream_resync_seconds,
            health=self.loop_health,
        )
        self.acceptor = Acceptor(
            sessions=self.sessions,
            gate=self.write_gate,
            clock=self.clock,
            limits=self.limits,
            key_hours=self.settings.idempotency_hours,
            queue_limit=self.settings.accept_queue_limit,
            lease_for=self.lease_for,
            hand_over=self.hand_over,
            stored_unrouted=self.wake_router,
        )
        self.router = EventRouter(
            sessions=self.sessions,
            gate=self.write_gate,
            clock=self.clock,
            limits=self.limits,
            poll_seconds=self.settings.poll_seconds,
            lease_for=self.lease_for,
            hand_over=self.hand_over,
            health=self.loop_health,
        )
        self.housekeeper = Housekeeper(
            sessions=self.sessions,
            gate=self.write_gate,
            clock=self.clock,
            inbox_retention=timedelta(days=self.settings.inbox_retention_days),
        )
        # This process's worker and router hear what any process queued or stored.
        self.signals.subscribe(DELIVERIES, self._wake_worker)
        self.signals.subscribe(EVENTS, self._wake_router)
        # One lease owner per process: its workers share the id its heartbeat keeps alive.
        self.liveness = Liveness(
            sessions=self.sessions,
            gate=self.write_gate,
            clock=self.clock,
            settings=self.settings,
            health=self.loop_health,
        )
        self.checks = ChannelChecks(
            sessions=self.sessions,
            gate=self.write_gate,
            clock=self.clock,
            box=self.box,
            senders=self.senders,
            parts=SenderParts(self.outbound, self.smtp, self.clock),
            tests=self.test_parts(),
            settings=self.settings,
            wake_workers=self.wake_workers,
        )
        self.scheduler = Scheduler(
            sessions=self.sessions,
            gate=self.write_gate,
            clock=self.clock,
            owner=self.liveness.owner,
            dead_after=timedelta(seconds=self.settings.dead_after_seconds),
            recurring=[
                Recurring("housekeeping", EVERY_SECONDS, self.housekeeper.fire),
                Recurring(
                    "channel-checks",
                    max(1, round(self.settings.check_poll_seconds)),
                    self.checks.fire,
                ),
            ],
            poll_seconds=self.settings.scheduler_poll_seconds,
            health=self.loop_health,
        )

    def test_parts(self) -> TestParts:
        """This process's parts a test send needs (the API, the console, the checks)."""
        return TestParts(
            clock=self.clock,
            gate=self.write_gate,
            owner=self.liveness.owner,
            lease_seconds=self.settings.lease_seconds,
            limits=self.rate_limits,
            inbox_published=self.publish_inbox,
        )

    @property
    def limits(self) -> Limits:
        """The engine settings ingest needs."""
        return Limits(
            max_attempts=self.settings.max_attempts,
            dedup_window_seconds=self.settings.dedup_window_seconds,
        )

    def delivery_loops(self) -> list[BackgroundLoop]:
        """The loops of a delivering process (``nabat serve``, ``nabat worker``), the
        heartbeat first: it is started before and stopped after the workers it vouches
        for. Makes this process's worker."""
        self.worker = self.new_worker(supervised=True)
        return [self.liveness, self.worker, self.router, self.scheduler]

    def new_worker(self, name: str | None = None, *, supervised: bool = False) -> Worker:
        """A delivery worker sharing this state's clients, metrics and keys; it leases as
        this process's liveness owner unless named otherwise. ``supervised``: it reports
        to this process's loop health (``/readyz``)."""
        return Worker(
            sessions=self.sessions,
            senders=self.senders,
            box=self.box,
            clock=self.clock,
            settings=self.settings,
            metrics=self.metrics,
            write_gate=self.write_gate,
            limits=self.rate_limits,
            name=name or self.liveness.owner,
            health=self.loop_health if supervised else None,
            inbox_published=self.publish_inbox,
            settled=self.hub.deliveries_changed,
        )

    def wake_workers(self) -> None:
        """Tell the workers of every process that deliveries were queued; call it after
        the commit (a worker that missed it finds them at its next poll)."""
        self.signals.publish(DELIVERIES)

    def wake_router(self) -> None:
        """Tell the routers of every process that batched events wait; after the commit."""
        self.signals.publish(EVENTS)

    def publish_inbox(self, news: list[InboxNews]) -> None:
        """Tell the live streams of every process whose inboxes changed; after the commit
        that stored the changes."""
        for payload in inbox_payloads(news):
            self.signals.publish(INBOX, payload)

    def _wake_worker(self, _payload: str | None) -> None:
        # Whatever the payload (or None after a missed signal): it claims what is due.
        if self.worker is not None:
            self.worker.wake()

    def _wake_router(self, _payload: str | None) -> None:
        self.router.wake()

    def lease_for(self, count: int) -> Lease | None:
        """A lease to the in-process worker for ``count`` new deliveries, if it has room.

        Deliveries stored leased to it skip the queue's claim step: the worker gets them
        in memory the moment they are committed. Without room (or a running worker) they
        are queued as usual.
        """
        if self.worker is None or not self.worker.can_adopt(count):
            return None
        return self.worker.lease(self.clock.now())

    def hand_over(self, queued: list[Claimed], lease: Lease | None) -> None:
        """Give committed deliveries leased to the in-process worker to it, or wake the
        workers of every process to claim queued ones."""
        if self.worker is not None and lease is not None and lease.owner == self.worker.owner:
            self.worker.adopt(queued)
            # Adopted rows are not queued for the others to claim: only the feeds hear.
            self.hub.deliveries_changed({item.project_id for item in queued})
        elif queued:
            self.wake_workers()

    async def close(self) -> None:
        """Release network clients and database connections."""
        await self.acceptor.drain()
        # After the drain: the last stored requests' signals still go out.
        await self.hub.close()
        await self.signals.close()
        await self.outbound.close()
        await self.smtp.close()
        await self.engine.dispose()
