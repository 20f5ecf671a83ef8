"""Server-Sent Events on the wire: the frames, the response, the loop that paces them.

Written here rather than taken from sse-starlette (not among the project's
dependencies): the format is a few lines (html.spec.whatwg.org, "Server-sent events"),
and the pacing belongs to the live hub anyway, which decides when a stream wakes, when
it keeps the connection alive, and when it ends (server shutdown, an expired token).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable

from fastapi.responses import StreamingResponse
from sqlalchemy.exc import SQLAlchemyError

from nabat.live.listener import Listener

log = logging.getLogger("nabat.live")

# How long a browser waits before it reconnects after a stream ended or broke.
RECONNECT_MS = 3000
# Proxies (nginx, Cloudflare) hold back small chunks and drop quiet connections; the
# response asks them not to buffer, and a comment every so often keeps it from idling.
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
MEDIA_TYPE = "text/event-stream"


def _field(value: str) -> str:
    # A line break inside a field would start another field (or end the event).
    if "\n" in value or "\r" in value:
        raise ValueError(f"an event's id or name is one line, not {value!r}")
    return value


def event(name: str, data: str, event_id: int | str) -> str:
    """One event: ``id:``, ``event:`` and its data (one ``data:`` line per line)."""
    lines = [f"id: {_field(str(event_id))}", f"event: {_field(name)}"]
    lines += [f"data: {line}" for line in data.splitlines() or [""]]
    return "\n".join(lines) + "\n\n"


def comment(text: str) -> str:
    """A comment: browsers ignore it, proxies see traffic."""
    return f": {_field(text)}\n\n"


def retry(milliseconds: int) -> str:
    """Tell the browser how long to wait before reconnecting."""
    return f"retry: {milliseconds}\n\n"


def event_stream(frames: AsyncIterator[str]) -> StreamingResponse:
    """The response carrying ``frames``, with the headers that keep proxies from
    buffering or caching it."""
    return StreamingResponse(frames, media_type=MEDIA_TYPE, headers=HEADERS)


async def paced(
    listener: Listener,
    news: Callable[[], AsyncIterator[str]],
    *,
    keepalive_seconds: float,
    lifetime_seconds: float | None = None,
) -> AsyncIterator[str]:
    """The frames of one stream: ``retry:``, then ``news()`` at once and again each time
    the listener is rung, a keep-alive comment after ``keepalive_seconds`` without a
    frame; until the hub ends the listener or ``lifetime_seconds`` have passed.

    ``news`` reads the database and closes its session before it yields, so a stream
    holds no pooled connection while it waits, nor while a slow client reads. A read
    the database fails ends the stream (logged); the browser reconnects and resumes.
    """
    began = time.monotonic()
    ends_at = None if lifetime_seconds is None else began + lifetime_seconds
    yield retry(RECONNECT_MS)
    woken = True
    last_write = began
    while not listener.ended:
        if woken:
            try:
                async for chunk in news():
                    yield chunk
                    last_write = time.monotonic()
            except (SQLAlchemyError, OSError, TimeoutError) as exc:
                # The database is down or busy: every stream would say so, without a trace.
                log.warning("a live stream ends, its news unread (%s); the browser resumes", exc)
                return
        now = time.monotonic()
        if ends_at is not None and now >= ends_at:
            return
        if now - last_write >= keepalive_seconds:
            yield comment("keep-alive")
            last_write = now
        wait = last_write + keepalive_seconds - now
        if ends_at is not None:
            wait = min(wait, ends_at - now)
        woken = await listener.wait(max(wait, 0.0))
