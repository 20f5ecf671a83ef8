"""The base of the provider fakes: a real HTTP server on 127.0.0.1 that records every
request and answers either from a script (exact provider bodies, queued by a test) or by
speaking the provider's protocol."""

from __future__ import annotations

import asyncio
import json
from collections import deque
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from aiohttp import web


@dataclass(frozen=True)
class Recorded:
    """One request as the fake saw it (header names lower-cased)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON (``None`` when it is not JSON)."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None


@dataclass(frozen=True)
class Reply:
    """An answer, byte for byte: status, body text and headers."""

    status: int
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "text/plain"
    delay: float = 0.0

    @classmethod
    def json(cls, status: int, document: Any, headers: dict[str, str] | None = None) -> Reply:
        """An ``application/json`` answer."""
        return cls(status, json.dumps(document), headers or {}, "application/json")


class FakeProvider:
    """Listens on a free port of 127.0.0.1. Scripted replies go first (one per request, in
    order); with the script empty, :meth:`answer` speaks the protocol."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.base_url = ""
        self._script: deque[Reply] = deque()
        self._runner: web.AppRunner | None = None

    def respond(self, *replies: Reply) -> None:
        """Queue the answers to the next requests."""
        self._script.extend(replies)

    async def answer(self, request: Recorded) -> Reply:
        """The protocol's own answer to ``request``; subclasses implement it."""
        raise NotImplementedError

    async def start(self) -> None:
        """Start listening."""
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # No access log: request paths carry the credentials under test, and the
        # secret-leak assertions must only see what Nabat itself logs.
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self.base_url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        """Stop listening and close connections."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _handle(self, request: web.Request) -> web.Response:
        recorded = Recorded(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers={name.lower(): value for name, value in request.headers.items()},
            body=await request.read(),
        )
        self.requests.append(recorded)
        reply = self._script.popleft() if self._script else await self.answer(recorded)
        if reply.delay:
            await asyncio.sleep(reply.delay)
        return web.Response(
            status=reply.status,
            text=reply.body,
            headers=reply.headers,
            content_type=reply.content_type,
        )
