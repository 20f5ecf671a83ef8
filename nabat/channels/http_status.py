"""The generic classification of an HTTP answer, for providers without a finer table."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from nabat.channels.contract import DeliveryError, FailureClass

MAX_REASON_BODY = 200


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def snippet(body: str) -> str:
    """A short, single-line excerpt of a response body for an error reason."""
    flat = " ".join(body.split())
    return flat if len(flat) <= MAX_REASON_BODY else flat[: MAX_REASON_BODY - 1] + "…"


def classify_status(
    status: int, *, body: str = "", retry_after: float | None = None, what: str = "endpoint"
) -> DeliveryError | None:
    """Map an HTTP status to a :class:`DeliveryError`, or ``None`` for 2xx.

    3xx is a failure: redirects are not followed (a redirect to an internal address would
    bypass the SSRF guard), so the configured URL must be the final one.
    """
    if 200 <= status < 300:
        return None
    excerpt = snippet(body)
    said = f": {excerpt}" if excerpt else ""
    if status < 200:
        return DeliveryError(
            FailureClass.REJECTED,
            f"the {what} answered an informational status (HTTP {status}) as its final answer",
            status=status,
        )
    if 300 <= status < 400:
        return DeliveryError(
            FailureClass.REJECTED,
            f"the {what} answered a redirect (HTTP {status}); redirects are not followed, "
            "configure the final URL",
            status=status,
        )
    if status == 408:
        return DeliveryError(
            FailureClass.TIMEOUT,
            f"the {what} timed out reading the request (HTTP 408)",
            status=status,
        )
    if status == 429:
        wait = f"; asked to wait {retry_after:g} s" if retry_after is not None else ""
        return DeliveryError(
            FailureClass.THROTTLED,
            f"the {what} is rate limiting us (HTTP 429){wait}",
            status=status,
            retry_after=retry_after,
        )
    if status in (401, 403):
        return DeliveryError(
            FailureClass.AUTH,
            f"the {what} refused our credentials (HTTP {status}){said}; check the token, "
            "password or headers",
            status=status,
        )
    if status in (404, 410):
        return DeliveryError(
            FailureClass.GONE,
            f"the {what} does not exist any more (HTTP {status}){said}; check the URL",
            status=status,
        )
    if 400 <= status < 500:
        return DeliveryError(
            FailureClass.REJECTED,
            f"the {what} rejected the message (HTTP {status}){said}",
            status=status,
        )
    return DeliveryError(
        FailureClass.UPSTREAM,
        f"the {what} failed (HTTP {status}){said}; will retry",
        status=status,
        retry_after=retry_after,
    )
