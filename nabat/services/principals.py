"""Callers resolved in the last few seconds, so that the hot paths need no database read
to know who is calling.

A producer posting thousands of notifications a second presents the same login token or
API key each time; resolving it (key lookup, user, memberships) costs several queries.
An entry is kept for ``ttl`` seconds (and never past a login token's own expiry):

- a change made through this process (a key revoked, a member removed or demoted, a user
  disabled) clears the cache at once;
- one made through another process takes effect here within ``ttl`` seconds.

Entries are keyed by a digest of the presented token and the project asked for, so the
cache never holds a usable credential.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable

from nabat.clock import Clock
from nabat.services.access import Principal

DEFAULT_TTL = 5.0


class PrincipalCache:
    """Recently resolved callers by (token, project header)."""

    def __init__(self, clock: Clock, ttl: float = DEFAULT_TTL, size: int = 10_000) -> None:
        self._clock = clock
        self._ttl = ttl
        self._size = size
        self._entries: dict[tuple[bytes, str | None], tuple[Principal, float]] = {}
        self._resolving: dict[tuple[bytes, str | None], asyncio.Future[Principal]] = {}

    @staticmethod
    def _key(token: str, project: str | None) -> tuple[bytes, str | None]:
        digest = hashlib.blake2b(token.encode("utf-8", "surrogatepass"), digest_size=20)
        return digest.digest(), project

    def _get(self, token: str, project: str | None) -> Principal | None:
        """The caller behind ``token`` in ``project`` if resolved recently, else None."""
        entry = self._entries.get(self._key(token, project))
        if entry is None or entry[1] < self._clock.monotonic():
            return None
        return entry[0]

    def _put(
        self,
        token: str,
        project: str | None,
        principal: Principal,
        *,
        valid_for: float | None = None,
    ) -> None:
        """Remember a caller just resolved; ``valid_for`` caps the entry's life (seconds
        left before a login token expires)."""
        if len(self._entries) >= self._size:
            self._entries.clear()
        life = self._ttl if valid_for is None else max(0.0, min(self._ttl, valid_for))
        self._entries[self._key(token, project)] = (principal, self._clock.monotonic() + life)

    async def resolve(
        self,
        token: str,
        project: str | None,
        load: Callable[[], Awaitable[tuple[Principal, float | None]]],
    ) -> Principal:
        """The cached caller, or the one ``load()`` resolves (with how long it may be kept).

        Concurrent requests with the same credentials share one ``load()``: a burst of a
        producer's first requests costs one lookup, not one pooled connection each.
        """
        cached = self._get(token, project)
        if cached is not None:
            return cached
        key = self._key(token, project)
        pending = self._resolving.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Principal] = asyncio.get_running_loop().create_future()
        self._resolving[key] = future
        try:
            principal, valid_for = await load()
        except BaseException as exc:
            future.set_exception(exc)
            # Retrieved here, so that a failure nobody else waited for is not reported.
            future.exception()
            raise
        finally:
            del self._resolving[key]
        self._put(token, project, principal, valid_for=valid_for)
        future.set_result(principal)
        return principal

    def clear(self) -> None:
        """Forget every caller (a key, a membership or a user changed)."""
        self._entries.clear()
