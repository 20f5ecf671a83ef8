"""Scheduled channel checks: a channel with a check interval is checked that often, and
its result raises ``channel.failing`` or ``channel.recovered`` like real deliveries do.

A type whose provider can be asked without sending a message (its descriptor's
``probe``: Telegram's ``getMe``, an SMTP login, an SMS provider's balance, a Microsoft
token) is checked that way, with the configuration a send would have (a mail type's
sender completed from the project's mail settings); any other type gets
a test message to its own destination, through the same test-send path as the Test
button (so it is recorded as a test delivery). Every process that delivers runs the
sweep (the scheduler's ``channel-checks`` job); a check is claimed by moving the
channel's ``next_check_at`` on in one conditional ``UPDATE``, so two processes never
check one channel at the same moment.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from nabat.channels.contract import DeliveryError, FailureClass, Receipt, Sender
from nabat.channels.descriptor import ChannelType, SenderParts
from nabat.channels.registry import channel_type
from nabat.clock import Clock
from nabat.db.gate import WriteGate
from nabat.delivery.circuit import CircuitPolicy
from nabat.delivery.health import ChannelRun, update_health
from nabat.delivery.queue import enqueue
from nabat.delivery.render import Wording, mail_config, project_wording
from nabat.models.channel import Channel
from nabat.models.delivery import ChannelHealth
from nabat.scheduler import Firing
from nabat.security.crypto import SecretBox
from nabat.services.channels import ChannelService, ChannelView
from nabat.services.test_send import TestParts, TestRequest, send_test
from nabat.settings import Settings

log = logging.getLogger("nabat.checks")

# Channels claimed per round; the loop comes back at once while there were that many.
CLAIM = 20


@dataclass(frozen=True)
class Due:
    """A channel whose check this process claimed."""

    project_id: int
    channel_id: int


@dataclass(frozen=True)
class Checked:
    """A check's result: what answered, or why it failed."""

    ok: bool
    detail: str
    failure_class: FailureClass | None = None


class ChannelChecks:
    """Checks channels whose check interval has come round (see the module's doc); the
    scheduler fires its sweep every ``check_poll_seconds``."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        gate: WriteGate,
        clock: Clock,
        box: SecretBox,
        senders: Mapping[str, Sender[Any]],
        parts: SenderParts,
        tests: TestParts,
        settings: Settings,
        wake_workers: Callable[[], None],
    ) -> None:
        self._sessions = sessions
        self._gate = gate
        self._clock = clock
        self._box = box
        self._senders = senders
        self._parts = parts
        self._tests = tests
        self._settings = settings
        self._wake_workers = wake_workers
        self._circuit = CircuitPolicy(
            threshold=settings.circuit_failure_threshold,
            open_seconds=settings.circuit_open_seconds,
            cap_seconds=settings.circuit_open_cap_seconds,
        )

    async def fire(self, firing: Firing) -> None:
        """The scheduler's recurring ``channel-checks`` job: check every channel due."""
        while await self.sweep() == CLAIM:
            pass

    async def sweep(self) -> int:
        """Claim up to ``CLAIM`` channels due for a check and check them one after the
        other; how many were checked."""
        due = await self._claim()
        for item in due:
            await self.check(item)
        return len(due)

    async def _claim(self) -> list[Due]:
        now = self._clock.now()
        async with self._sessions() as session, self._gate:
            pick = (
                select(Channel.id, Channel.project_id, Channel.check_interval_seconds)
                .add_columns(Channel.next_check_at)
                .where(
                    Channel.check_interval_seconds.is_not(None),
                    Channel.enabled,
                    Channel.next_check_at <= now,
                )
                .order_by(Channel.next_check_at)
                .limit(CLAIM)
            )
            if session.get_bind().dialect.name == "postgresql":
                pick = pick.with_for_update(skip_locked=True)
            claimed: list[Due] = []
            for channel_id, project_id, interval, at in (await session.execute(pick)).all():
                moved = await session.execute(
                    update(Channel)
                    .where(Channel.id == channel_id, Channel.next_check_at == at)
                    .values(next_check_at=now + timedelta(seconds=interval))
                    .execution_options(synchronize_session=False)
                )
                if getattr(moved, "rowcount", 0) == 1:
                    claimed.append(Due(project_id, channel_id))
            await session.commit()
        return claimed

    async def check(self, due: Due) -> Checked:
        """Check one channel now and record the result (health, notices)."""
        async with self._sessions() as session:
            view = await ChannelService(session, self._box, self._clock).get(
                due.project_id, due.channel_id
            )
            kind = channel_type(view.row.type)
            assert kind is not None, view.row.type
            if kind.probe is not None:
                wording = (await project_wording(session, [due.project_id]))[due.project_id]
                await session.rollback()
                result = await self._probe(kind, view, wording)
            else:
                result = await self._test_message(session, view)
            await self._record(session, due, result)
        return result

    async def _probe(self, kind: ChannelType[Any], view: ChannelView, wording: Wording) -> Checked:
        assert kind.probe is not None
        try:
            config = mail_config(kind, view.config, wording)
            receipt: Receipt = await kind.probe(self._parts).check(config)
        except DeliveryError as exc:
            return Checked(False, exc.reason, exc.failure_class)
        except Exception as exc:
            log.exception("the check of channel %s failed unexpectedly", view.row.id)
            reason = f"internal error in the check: {type(exc).__name__} (the log has it)"
            return Checked(False, reason, FailureClass.INTERNAL)
        return Checked(True, receipt.detail)

    async def _test_message(self, session: AsyncSession, view: ChannelView) -> Checked:
        sender = self._senders[view.row.type]
        result = await send_test(
            session,
            self._tests,
            view=view,
            request=TestRequest(),
            sender=sender,
            user_id=None,
            commit=session.commit,
        )
        if result.failure is not None:
            return Checked(False, result.detail or result.failure.message, FailureClass.UPSTREAM)
        return Checked(True, result.detail or result.message)

    async def _record(self, session: AsyncSession, due: Due, result: Checked) -> None:
        now = self._clock.now()
        run = (
            ChannelRun(due.project_id, due.channel_id, had_success=True)
            if result.ok
            else ChannelRun(
                due.project_id,
                due.channel_id,
                trailing_failures=1,
                # A deliberate check that fails is a failing channel at once.
                permanent=True,
                last_error=result.detail,
                transient=result.failure_class is not None and result.failure_class.transient,
            )
        )
        async with self._gate:
            changes = await update_health(
                session,
                [run],
                now=now,
                threshold=self._settings.health_failure_threshold,
                circuit=self._circuit,
            )
            health = await session.get(ChannelHealth, due.channel_id)
            assert health is not None  # update_health made it
            health.last_check_at = now
            health.last_check_ok = result.ok
            health.last_check_error = None if result.ok else result.detail
            if changes.notices:
                await enqueue(
                    session, changes.notices, now=now, max_attempts=self._settings.max_attempts
                )
            await session.commit()
        if changes.notices:
            self._wake_workers()
