"""Circuit breakers per channel: stop hammering a provider that keeps failing.

After ``threshold`` transient failures in a row a channel's circuit **opens**: its
deliveries wait (or go to the next channel of their fallback chain) instead of being
attempted. When the open interval is over, one delivery is let through as a **trial**
(the circuit is half-open while it runs); its success closes the circuit, its failure
opens it again for twice as long, up to a cap. The state lives in ``channel_health`` so
that every process sharing the database sees it; the trial is taken by one conditional
``UPDATE``, so two workers never both send one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from nabat.models.delivery import ChannelHealth, CircuitState, Delivery, DeliveryStatus

# How long a trial may run before another worker may take the next one (a worker that
# died mid-trial must not keep the circuit half-open for ever).
TRIAL_HOLD_SECONDS = 60.0


@dataclass(frozen=True)
class CircuitPolicy:
    """When a circuit opens and for how long."""

    threshold: int
    open_seconds: float
    cap_seconds: float

    def open_for(self, opens: int) -> timedelta:
        """The interval of the ``opens``-th opening in a row (1 is the first)."""
        return timedelta(seconds=min(self.cap_seconds, self.open_seconds * 2 ** (opens - 1)))


def after_failures(
    health: ChannelHealth, policy: CircuitPolicy, *, transient: bool, now: datetime
) -> bool:
    """Fold failures (already counted in ``health.consecutive_failures``) into the
    circuit; True when it opened now. A failed trial reopens it at once; otherwise it
    opens after ``policy.threshold`` failures in a row, the last of them transient
    (a refused recipient says nothing about the provider)."""
    state = CircuitState(health.circuit or CircuitState.CLOSED.value)
    if state is CircuitState.OPEN:
        return False
    if state is CircuitState.CLOSED and (
        not transient or health.consecutive_failures < policy.threshold
    ):
        return False
    health.circuit_opens = (health.circuit_opens or 0) + 1
    health.circuit = CircuitState.OPEN.value
    health.circuit_retry_at = now + policy.open_for(health.circuit_opens)
    return True


def after_success(health: ChannelHealth) -> bool:
    """A message went through: the circuit closes; True when it was not closed."""
    was_closed = (health.circuit or CircuitState.CLOSED.value) == CircuitState.CLOSED.value
    health.circuit = CircuitState.CLOSED.value
    health.circuit_opens = 0
    health.circuit_retry_at = None
    return not was_closed


Gate = Literal["send", "trial", "wait"]


@dataclass(frozen=True)
class Passage:
    """Whether a delivery may go now: ``send`` (closed), ``trial`` (this one is the
    half-open trial), or ``wait`` until ``until``."""

    gate: Gate
    until: datetime | None = None


async def passage(session: AsyncSession, channel_id: int, *, now: datetime) -> Passage:
    """Ask the database whether a delivery over ``channel_id`` may go now, taking the
    trial when one is due (the caller commits)."""
    health = await session.get(ChannelHealth, channel_id, populate_existing=True)
    if health is None or health.circuit == CircuitState.CLOSED.value:
        return Passage("send")
    if health.circuit_retry_at is not None and health.circuit_retry_at > now:
        return Passage("wait", health.circuit_retry_at)
    hold = now + timedelta(seconds=TRIAL_HOLD_SECONDS)
    taken = await session.execute(
        update(ChannelHealth)
        .where(
            ChannelHealth.channel_id == channel_id,
            ChannelHealth.circuit != CircuitState.CLOSED.value,
            ChannelHealth.circuit_retry_at <= now,
        )
        .values(circuit=CircuitState.HALF_OPEN.value, circuit_retry_at=hold)
        .execution_options(synchronize_session=False)
    )
    if getattr(taken, "rowcount", 0) == 1:
        return Passage("trial")
    return Passage("wait", hold)


async def release_waiting(session: AsyncSession, channel_id: int, *, now: datetime) -> None:
    """The circuit closed: what waited for it (or for a backoff after the failures that
    opened it) is due now, instead of trickling out over the next retry intervals."""
    await session.execute(
        update(Delivery)
        .where(
            Delivery.channel_id == channel_id,
            Delivery.status.in_((DeliveryStatus.QUEUED.value, DeliveryStatus.FAILED.value)),
            Delivery.next_attempt_at > now,
        )
        .values(next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )
