"""How an attempt ended, as the queue records it, and what a batch says about channels."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from nabat.channels.contract import DeliveryError, FailureClass, Receipt
from nabat.delivery.health import ChannelRun
from nabat.delivery.queue import Claimed, Hop, Outcome
from nabat.models.delivery import DeliveryKind, DeliveryStatus


@dataclass(frozen=True)
class Done:
    """A finished delivery waiting to be settled."""

    item: Claimed
    outcome: Outcome
    config_update: dict[str, Any] | None = None


def sent(
    item: Claimed, started: datetime, seconds: float, receipt: Receipt, now: datetime
) -> Outcome:
    """The provider took the message (perhaps refusing some recipients)."""
    reason = receipt.detail
    if receipt.refused:
        reason += "; refused: " + "; ".join(f"{k}: {v}" for k, v in receipt.refused.items())
    return Outcome(
        delivery_id=item.id,
        status=DeliveryStatus.SENT,
        next_attempt_at=now,
        attempted=True,
        started_at=started,
        duration_ms=seconds * 1000,
        status_code=receipt.status,
        failure_class=None,
        reason=reason,
        provider_id=receipt.provider_id,
        attempt_number=item.attempts + 1,
        channel_id=item.channel_id,
        inbox=receipt.inbox,
    )


def failed(
    item: Claimed, started: datetime, seconds: float, error: DeliveryError, retry_at: datetime
) -> Outcome:
    """The attempt failed: retried at ``retry_at`` if worth it and allowed, else dead."""
    number = item.attempts + 1
    retry = error.transient and number < item.max_attempts
    return Outcome(
        delivery_id=item.id,
        status=DeliveryStatus.FAILED if retry else DeliveryStatus.DEAD,
        next_attempt_at=retry_at,
        attempted=True,
        started_at=started,
        duration_ms=seconds * 1000,
        status_code=error.status,
        failure_class=error.failure_class.value,
        reason=error.reason,
        provider_id=None,
        attempt_number=number,
        channel_id=item.channel_id,
    )


def dead(item: Claimed, now: datetime, failure_class: FailureClass, reason: str) -> Outcome:
    """The delivery cannot be attempted at all (its channel is gone or off)."""
    return Outcome(
        delivery_id=item.id,
        status=DeliveryStatus.DEAD,
        next_attempt_at=now,
        attempted=True,
        started_at=now,
        duration_ms=0.0,
        status_code=None,
        failure_class=failure_class.value,
        reason=reason,
        provider_id=None,
        attempt_number=item.attempts + 1,
        channel_id=item.channel_id,
    )


def released(item: Claimed, now: datetime, wait: float) -> Outcome:
    """Handed back unattempted, due again after ``wait`` seconds (rate limit)."""
    return Outcome(
        delivery_id=item.id,
        status=DeliveryStatus.QUEUED,
        next_attempt_at=now + timedelta(seconds=wait),
        attempted=False,
        started_at=now,
        duration_ms=0.0,
        status_code=None,
        failure_class=None,
        reason="rate limited before sending",
        provider_id=None,
        attempt_number=item.attempts,
        channel_id=item.channel_id,
    )


def hopped(item: Claimed, outcome: Outcome, now: datetime, *, per_hop: int) -> Outcome:
    """``outcome`` (a dead end on this channel, attempted or not) turned into the move to
    the next channel of the delivery's chain, which gets ``per_hop`` attempts of its own.

    The hop left behind is kept with its reason; nothing already tried is tried again, so
    a retry never sends the message twice through one chain.
    """
    assert item.fallback
    left = {
        "channelId": item.channel_id,
        "channelType": item.channel_type,
        "recipient": item.recipient,
        "failureClass": outcome.failure_class,
        "reason": outcome.reason,
        "at": now.isoformat(),
    }
    used = item.attempts + (1 if outcome.attempted else 0)
    hop = Hop(
        to=item.fallback[0],
        rest=item.fallback[1:],
        history=[*(item.hops or []), left],
        max_attempts=used + per_hop,
    )
    return replace(outcome, status=DeliveryStatus.QUEUED, next_attempt_at=now, hop=hop)


def channel_runs(batch: list[Done]) -> list[ChannelRun]:
    """Summarise a batch per channel, in order: successes, then the failures after them."""
    runs: dict[int, ChannelRun] = {}
    for done in batch:
        item, outcome = done.item, done.outcome
        if item.channel_id is None or not outcome.attempted:
            continue
        if item.kind == DeliveryKind.HEALTH.value or done.config_update:
            # A failing notice must not raise notices about itself, and a destination the
            # provider moved (saved, retried at once) is not a failure of the channel.
            continue
        run = runs.get(item.channel_id) or ChannelRun(item.project_id, item.channel_id)
        if outcome.status is DeliveryStatus.SENT:
            runs[item.channel_id] = ChannelRun(item.project_id, item.channel_id, had_success=True)
        else:
            ended = outcome.status is DeliveryStatus.DEAD or outcome.hop is not None
            runs[item.channel_id] = ChannelRun(
                item.project_id,
                item.channel_id,
                had_success=run.had_success,
                trailing_failures=run.trailing_failures + 1,
                permanent=run.permanent or ended,
                last_error=outcome.reason,
                transient=outcome.failure_class is not None
                and FailureClass(outcome.failure_class).transient,
            )
    return list(runs.values())
