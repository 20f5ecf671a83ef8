"""What a failed Apprise notification was, read from the log lines apprise wrote for it.

Apprise answers a notification with success or failure only; why it failed is in the
warnings its service wrote during the call. Most of its HTTP services write the status as
``error=<code>`` ("Failed to send JSON POST notification: Unauthorized, error=401.") and a
connection failure as "A Connection error occurred …". Those are classified here like any
HTTP answer; anything else is an upstream failure, worth retrying. The limits of this
reading are in docs/channels.md (APPRISE).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nabat.channels.contract import FailureClass
from nabat.channels.http_status import snippet

_STATUS = re.compile(r"\berror=([1-5]\d\d)\b")
_CONNECTION = re.compile(r"connection error|could not connect|connection refused", re.I)
_TIMEOUT = re.compile(r"timed out|timeout", re.I)


@dataclass(frozen=True)
class Diagnosis:
    """A failure's class, the HTTP status when apprise wrote one, and what to say."""

    failure_class: FailureClass
    status: int | None
    said: str


def _by_status(status: int) -> tuple[FailureClass, str]:
    if status in (401, 403):
        return FailureClass.AUTH, "the service refused the URL's credentials; check them"
    if status in (404, 410):
        return FailureClass.GONE, "the service does not know this destination; check the URL"
    if status == 429:
        return FailureClass.THROTTLED, "the service is rate limiting us"
    if 300 <= status < 400:
        return (
            FailureClass.REJECTED,
            "the service answered a redirect, which is not followed; configure the final URL",
        )
    if status == 408:
        return FailureClass.TIMEOUT, "the service timed out reading the request"
    if 400 <= status < 500:
        return FailureClass.REJECTED, "the service rejected the message"
    if status >= 500:
        return FailureClass.UPSTREAM, "the service failed; will retry"
    return FailureClass.UPSTREAM, "the service answered an unexpected status; will retry"


def diagnose(lines: list[str]) -> Diagnosis:
    """Classify a failed notification from apprise's log lines for it (last word wins:
    the service's own warning comes after any earlier, recovered trouble)."""
    quoted = snippet(lines[-1]) if lines else ""
    said = f" (Apprise said {quoted!r})" if quoted else ""
    for line in reversed(lines):
        found = _STATUS.search(line)
        if found:
            status = int(found.group(1))
            failure_class, what = _by_status(status)
            return Diagnosis(failure_class, status, f"{what} (HTTP {status}){said}")
        if _CONNECTION.search(line):
            return Diagnosis(FailureClass.NETWORK, None, f"cannot reach the service{said}")
        if _TIMEOUT.search(line):
            return Diagnosis(FailureClass.TIMEOUT, None, f"the service did not answer{said}")
    return Diagnosis(FailureClass.UPSTREAM, None, f"Apprise could not notify the service{said}")
