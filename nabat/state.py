"""The long-lived parts of a running Nabat, built once at start and shared by requests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from nabat.channels.contract import Sender
from nabat.channels.outbound import Outbound
from nabat.channels.smtp_pool import SmtpPools
from nabat.clock import Clock
from nabat.delivery.metrics import Metrics
from nabat.delivery.worker import Worker
from nabat.security.crypto import SecretBox
from nabat.security.keys import Keys
from nabat.security.ratelimit import AttemptLimiter
from nabat.settings import Settings


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
    worker: Worker | None = None

    def new_worker(self, name: str | None = None) -> Worker:
        """A delivery worker sharing this state's clients, metrics and keys."""
        return Worker(
            sessions=self.sessions,
            senders=self.senders,
            box=self.box,
            clock=self.clock,
            settings=self.settings,
            metrics=self.metrics,
            name=name,
        )

    def wake_workers(self) -> None:
        """Tell the in-process worker that deliveries were queued."""
        if self.worker is not None:
            self.worker.wake()

    async def close(self) -> None:
        """Release network clients and database connections."""
        await self.outbound.close()
        await self.smtp.close()
        await self.engine.dispose()
