"""One attempt at one delivery: render → rate limit → ``Sender.send`` → receipt or failure.

The worker and test sends both go through :func:`attempt`, so templates, the project's
mail settings, provider rate limits and the classification of sender bugs are the same
for every delivery. It never raises for a delivery's sake: whatever goes wrong comes back
as a classified :class:`DeliveryError` for the caller to record.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from nabat.channels.base import ChannelConfig
from nabat.channels.contract import DeliveryError, FailureClass, Receipt, Sender
from nabat.channels.redact import scrubbed
from nabat.channels.registry import channel_type as descriptor
from nabat.delivery.queue import Claimed
from nabat.delivery.ratelimit import RateLimits
from nabat.delivery.render import Wording, mail_config, render

log = logging.getLogger("nabat.delivery")

# Waiting in memory for a rate-limit token is cheaper than a round trip through the
# database, up to a point; beyond it the caller decides (the worker requeues).
MAX_INLINE_WAIT = 1.0


@dataclass(frozen=True)
class Attempted:
    """How :func:`attempt` ended.

    Exactly one holds: ``receipt`` (the provider took it), ``error`` (classified failure;
    ``sent`` says whether the sender was called at all), or ``wait`` > 0 (not attempted:
    the provider's rate limit allows the next message in ``wait`` seconds).
    """

    receipt: Receipt | None = None
    error: DeliveryError | None = None
    seconds: float = 0.0
    sent: bool = False
    wait: float = 0.0


async def attempt(
    item: Claimed,
    *,
    channel_type: str,
    config: ChannelConfig,
    wording: Wording | None,
    sender: Sender[Any],
    limits: RateLimits,
    max_wait: float = MAX_INLINE_WAIT,
) -> Attempted:
    """Make one attempt at ``item`` over a channel of ``channel_type`` set up as ``config``.

    The message is worded with the project's ``wording`` (templates, language, signature,
    mail settings); a wording that cannot be used is a ``config`` failure and nothing is
    sent. A rate-limit token is then waited for up to ``max_wait`` seconds; a longer wait
    is returned unattempted. A sender that raises anything but :class:`DeliveryError` is
    a bug of ours: logged with its trace and returned as ``internal``. A sender's
    failure reason comes back with the channel's secrets redacted. A ``throttled``
    answer pauses the destination's bucket for the provider's ``retry_after``.
    """
    kind = descriptor(channel_type)
    if kind is None:
        return Attempted(error=DeliveryError(FailureClass.INTERNAL, f"no such type {channel_type}"))
    try:
        message = render(item, wording, kind)
        if wording is not None:
            config = mail_config(kind, config, wording)
    except DeliveryError as exc:
        return Attempted(error=exc)
    except Exception as exc:
        log.exception("wording a %s delivery failed unexpectedly", channel_type)
        return Attempted(error=_internal("wording the message", channel_type, exc))
    buckets = kind.limits(config, item.recipient)
    if buckets:
        wait = limits.reserve(buckets)
        while 0 < wait <= max_wait:
            await asyncio.sleep(wait)
            wait = limits.reserve(buckets)
        if wait > 0:
            return Attempted(wait=wait)
    tick = time.perf_counter()
    try:
        receipt = await sender.send(config, message)
    except DeliveryError as exc:
        # Whatever the sender scrubbed, a provider may echo any secret of the channel
        # (a URL's password, its Basic header) back in the text of its answer.
        error = scrubbed(exc, *config.secret_texts())
    except Exception as exc:
        log.exception("sender for %s raised an unclassified error", channel_type)
        error = _internal("the sender", channel_type, exc)
    else:
        return Attempted(receipt=receipt, seconds=time.perf_counter() - tick, sent=True)
    seconds = time.perf_counter() - tick
    if error.failure_class is FailureClass.THROTTLED and buckets:
        limits.pause(buckets[0][0], error.retry_after or 1.0)
    return Attempted(error=error, seconds=seconds, sent=True)


def _internal(where: str, channel_type: str, exc: Exception) -> DeliveryError:
    # The exception's text may hold a secret; its type is enough to find the logged trace.
    return DeliveryError(
        FailureClass.INTERNAL,
        f"internal error in {where} for {channel_type}: {type(exc).__name__} "
        "(the server log has the details)",
    )
