"""The common case of ``POST /api/v1/events`` and ``/events/batch``, served without the
framework's layers.

Producers that post one event per request send thousands a second, and batches carry a
thousand events each; nearly all of them are the same happy case: a known API key, a
valid body, no ``Idempotency-Key``. For those the routing, dependency and exception
layers of the framework cost more than storing the events. This middleware answers
exactly that case itself — the same checks, the same group-committed storage, the same
answer — and hands everything else (an unknown or uncached key, an invalid body, an
idempotency key, a project header, an oversized body) to the regular stack unchanged,
which then answers as it always does. It sits outside every other layer (see
``nabat.app.NabatAPI``), so it enforces the body limit itself and answers a storage
failure in the one error shape.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import orjson
from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nabat.api.errors import error_body
from nabat.api.events import Shape, batch, event_input, single
from nabat.errors import ErrorCode, NabatError
from nabat.schemas.events import EVENT, EVENT_BATCH
from nabat.services.access import Scope as Right
from nabat.services.event_input import EventInput
from nabat.state import AppState

log = logging.getLogger("nabat.api")


def _single(body: bytes) -> list[EventInput]:
    return [event_input(EVENT.validate_json(body))]


def _batch(body: bytes) -> list[EventInput]:
    return [event_input(event) for event in EVENT_BATCH.validate_json(body)["events"]]


# Path -> (the body's events, the answer's shape, stored for the router unrouted).
PATHS: dict[str, tuple[Callable[[bytes], list[EventInput]], Shape, bool]] = {
    "/api/v1/events": (_single, single, False),
    "/api/v1/events/batch": (_batch, batch, True),
}


class EventFastPath:
    """Serve the happy case of posting events; pass anything else on."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a plain, valid event post from a cached API key; else defer."""
        route = PATHS.get(scope["path"]) if scope["type"] == "http" else None
        if route is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        parse, shape, unrouted = route
        state: AppState = scope["app"].state.nabat
        headers = dict(scope["headers"])
        scheme, _, token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
        caller = state.key_cache.get(token.strip()) if scheme.lower() == "bearer" else None
        if (
            caller is None
            or Right.EVENTS_WRITE not in caller.scopes
            or b"idempotency-key" in headers
            or b"x-nabat-project" in headers
        ):
            await self.app(scope, receive, send)
            return
        messages, complete = await self._read(receive)
        if not complete:
            # Too big, or the client left: the regular stack answers (413) or ignores it.
            await self.app(scope, _replay(messages, receive), send)
            return
        body = b"".join(message.get("body", b"") for message in messages)
        try:
            items = parse(body)
        except ValidationError:
            # The regular stack answers it, in the one error shape.
            await self.app(scope, _replay(messages, receive), send)
            return
        now = state.clock.now()
        try:
            accepted = await state.batcher.submit(caller.project_id, items, unrouted=unrouted)
        except NabatError as exc:
            document = error_body(exc.code, exc.message, exc.details)
            await _answer(send, exc.status_code, document, exc.headers)
            return
        except Exception:
            log.exception("storing an event failed")
            document = error_body(
                ErrorCode.INTERNAL_ERROR, "the event could not be stored; try again"
            )
            await _answer(send, 500, document)
            return
        await _answer(send, 202, shape(accepted, now))

    async def _read(self, receive: Receive) -> tuple[list[Message], bool]:
        """The body's messages, and whether they are the whole body within the limit."""
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] == "http.disconnect":
                return messages, False
            size += len(message.get("body", b""))
            if size > self.limit:
                return messages, False
            if not message.get("more_body", False):
                return messages, True


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A ``receive`` that gives back what was read, then reads on."""
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


async def _answer(
    send: Send, status: int, document: Any, extra: dict[str, str] | None = None
) -> None:
    payload = orjson.dumps(document)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode("ascii")),
    ]
    headers += [
        (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (extra or {}).items()
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
