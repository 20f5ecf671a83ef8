"""Outbound HTTP for senders: SSRF-guarded, no redirects, no proxies, bounded bodies.

Errors come back as :class:`DeliveryError` whose reason names the destination by its
role and host only: URLs of Slack, Discord and Telegram carry credentials in their path.
"""

from __future__ import annotations

import asyncio
import json as json_lib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from multidict import CIMultiDictProxy

from nabat.channels.contract import DeliveryError, FailureClass
from nabat.security.ssrf import BlockedDestination, GuardedResolver, OutboundPolicy, blocked_cause

MAX_RESPONSE_BYTES = 64 * 1024
USER_AGENT = "Nabat/0.1 (+https://github.com/nabat)"


@dataclass(frozen=True)
class HttpAnswer:
    """What the destination answered."""

    status: int
    headers: CIMultiDictProxy[str]
    text: str

    def json(self) -> Any:
        """The body parsed as JSON, or ``None`` when it is not JSON."""
        try:
            return json_lib.loads(self.text)
        except ValueError:
            return None


class Outbound:
    """A pooled HTTP client that only reaches addresses the policy allows."""

    def __init__(self, policy: OutboundPolicy, *, connections: int = 1024) -> None:
        self.policy = policy
        self._connections = connections
        self._session: aiohttp.ClientSession | None = None
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}

    @property
    def session(self) -> aiohttp.ClientSession:
        """The shared session, created on first use inside the running loop."""
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                resolver=GuardedResolver(self.policy),
                limit=self._connections,
                limit_per_host=0,
                ttl_dns_cache=30,
            )
            # trust_env=False: HTTP(S)_PROXY from the environment must not route around
            # the guard.
            self._session = aiohttp.ClientSession(
                connector=connector,
                trust_env=False,
                headers={"User-Agent": USER_AGENT},
                auto_decompress=True,
            )
        return self._session

    def _timeout(self, seconds: float) -> aiohttp.ClientTimeout:
        timeout = self._timeouts.get(seconds)
        if timeout is None:
            timeout = self._timeouts[seconds] = aiohttp.ClientTimeout(total=seconds)
        return timeout

    async def close(self) -> None:
        """Close pooled connections."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def request(
        self,
        method: str,
        url: str,
        *,
        what: str,
        timeout_s: float,
        json: Any = None,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> HttpAnswer:
        """Make one request and return the answer, whatever its status.

        Raises :class:`DeliveryError` when no answer came: refused destination (``config``),
        timeout, or network failure.
        """
        try:
            self.policy.check_url(url)
        except BlockedDestination as exc:
            raise DeliveryError(FailureClass.CONFIG, f"{what} URL refused: {exc.reason}") from None
        try:
            async with self.session.request(
                method,
                url,
                json=json,
                data=data,
                headers=headers,
                allow_redirects=False,
                timeout=self._timeout(timeout_s),
            ) as response:
                body = await response.content.read(MAX_RESPONSE_BYTES)
                return HttpAnswer(
                    status=response.status,
                    headers=response.headers,
                    text=body.decode(response.charset or "utf-8", errors="replace"),
                )
        except TimeoutError:
            raise DeliveryError(
                FailureClass.TIMEOUT,
                f"{what} at {_host(url)} did not answer within {timeout_s:g} s",
            ) from None
        except aiohttp.ClientError as exc:
            blocked = blocked_cause(exc)
            if blocked is not None:
                raise DeliveryError(
                    FailureClass.CONFIG, f"{what} URL refused: {blocked.reason}"
                ) from None
            raise DeliveryError(
                FailureClass.NETWORK, f"cannot reach {what} at {_host(url)}: {_describe(exc)}"
            ) from None
        except asyncio.CancelledError:
            raise
        except OSError as exc:
            raise DeliveryError(
                FailureClass.NETWORK, f"cannot reach {what} at {_host(url)}: {exc.strerror or exc}"
            ) from None


def _host(url: str) -> str:
    # Only the host: URLs of Slack, Discord and Telegram carry credentials in the path.
    return urlsplit(url).hostname or "?"


def _describe(exc: aiohttp.ClientError) -> str:
    if isinstance(exc, aiohttp.ClientConnectorError):
        return exc.os_error.strerror or type(exc.os_error).__name__
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the server closed the connection before answering"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return "the answer was cut off"
    return type(exc).__name__
