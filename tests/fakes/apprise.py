"""A fake receiver of Apprise's ``json://`` notifications, and a listener that counts
connections.

Apprise's JSON service (``json://user:password@host:port/path``) POSTs
``{"version": "1.0", "title", "message", "attachments", "type"}`` with HTTP Basic
credentials from the URL's userinfo. The fake answers 200 to the right path and
credentials, 401 to wrong credentials and 404 to another path; scripted replies (any
status) go first, as in every fake. With :attr:`AppriseFake.gate` set, it holds each answer
until the gate opens, so a test can tell whether the event loop kept running meanwhile.
"""

from __future__ import annotations

import asyncio
import base64
from types import TracebackType
from typing import Any, Self

from tests.fakes.provider import FakeProvider, Recorded, Reply

# The channel types this fake speaks for (tests/test_channel_registry.py checks them).
SERVES = ("APPRISE",)

USER = "nabat-hook"
PASSWORD = "AppriseHookPass-7c1e9b"
PATH = "/hooks/AppriseHookPathToken-5d2f8a"


class AppriseFake(FakeProvider):
    """One JSON endpoint; ``received`` holds the notifications it accepted."""

    def __init__(self) -> None:
        super().__init__()
        self.received: list[dict[str, Any]] = []
        self.gate: asyncio.Event | None = None

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self.base_url.rsplit(":", 1)[1])

    @property
    def json_url(self) -> str:
        """The Apprise URL of this endpoint, credentials included."""
        return f"json://{USER}:{PASSWORD}@127.0.0.1:{self.port}{PATH}"

    async def answer(self, request: Recorded) -> Reply:
        """What the endpoint answers: 200 ``{"ok": true}`` to a good notification."""
        if self.gate is not None:
            await self.gate.wait()
        if request.path != PATH:
            return Reply.json(404, {"error": "no such hook"})
        expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        if request.headers.get("authorization") != expected:
            return Reply.json(401, {"error": "bad credentials"})
        body = request.json()
        if not isinstance(body, dict) or not body.get("message"):
            return Reply.json(400, {"error": "no message"})
        self.received.append(body)
        return Reply.json(200, {"ok": True})


class ConnectionCounter:
    """A TCP listener on 127.0.0.1 that counts the connections made to it and closes
    each at once: proof that nothing connected, where a request log could miss a
    connection that never sent a request."""

    def __init__(self) -> None:
        self.connections = 0
        self.port = 0
        self._server: asyncio.Server | None = None

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.close()
        await writer.wait_closed()

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
