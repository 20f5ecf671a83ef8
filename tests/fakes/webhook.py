"""A webhook receiver on 127.0.0.1 that records requests and verifies Standard Webhooks
signatures the way a careful consumer would (constant-time, timestamp tolerance)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

# The channel types this fake speaks for (tests/test_channel_registry.py checks them).
SERVES = ("WEBHOOK", "PYTHON_BOT")

TOLERANCE_SECONDS = 300


@dataclass
class Received:
    """One request as the receiver saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    signature_valid: bool | None

    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.body)


def verify(secret_key: bytes, headers: dict[str, str], body: bytes) -> bool:
    """Standard Webhooks verification: any ``v1`` signature matching, timestamp fresh."""
    msg_id = headers.get("webhook-id", "")
    stamp = headers.get("webhook-timestamp", "")
    if not msg_id or not stamp.isdigit() or abs(time.time() - int(stamp)) > TOLERANCE_SECONDS:
        return False
    expected = base64.b64encode(
        hmac.new(secret_key, f"{msg_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
    ).decode()
    for candidate in headers.get("webhook-signature", "").split():
        version, _, value = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(value, expected):
            return True
    return False


@dataclass
class Scripted:
    """A canned answer."""

    status: int = 200
    body: str = "ok"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class WebhookReceiver:
    """Records what it receives; answers from a script, else 200."""

    def __init__(self, secret_key: bytes | None = None) -> None:
        self.secret_key = secret_key
        self.received: list[Received] = []
        self.script: list[Scripted] = []
        self.default = Scripted()
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._arrived = asyncio.Event()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        valid = verify(self.secret_key, headers, body) if self.secret_key else None
        self.received.append(Received(request.method, request.path_qs, headers, body, valid))
        self._arrived.set()
        answer = self.script.pop(0) if self.script else self.default
        if answer.delay:
            await asyncio.sleep(answer.delay)
        return web.Response(status=answer.status, text=answer.body, headers=answer.headers)

    def requests_for(self, delivery_id: str) -> list[Received]:
        """The requests that carried one delivery (its ``X-Nabat-Delivery-Id``)."""
        return [r for r in self.received if r.headers.get("x-nabat-delivery-id") == delivery_id]

    async def until(self, count: int) -> None:
        """Return once ``count`` requests have arrived (bound it with ``asyncio.timeout``)."""
        while len(self.received) < count:
            self._arrived.clear()
            await self._arrived.wait()

    async def start(self) -> None:
        """Listen on a free port of 127.0.0.1."""
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()


async def running_receiver(secret_key: bytes | None = None) -> AsyncIterator[WebhookReceiver]:
    """Start a receiver for a fixture and stop it afterwards."""
    receiver = WebhookReceiver(secret_key)
    await receiver.start()
    try:
        yield receiver
    finally:
        await receiver.stop()
