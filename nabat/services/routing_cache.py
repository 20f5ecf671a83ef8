"""A per-process cache of what routing reads for every event: rules and silences.

Ingest asks for a project's rules and silences on every event; loading and compiling them
each time would cost a query and regex compilation per event. An entry is reused

- until this process changes the project's rows (the services register :meth:`forget` with
  ``nabat.db.unit.after_commit``, so it runs once the caller's commit succeeded), so a
  change made through this process's API is seen by the next event;
- for at most ``ttl`` seconds otherwise, which bounds how long a change made by another
  process (another ``nabat api`` on the same PostgreSQL) goes unseen.

Entries are kept per database engine, so two databases in one process (tests, tools)
never share them, and they go away with their engine.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy import Engine
from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")

DEFAULT_TTL = 1.0


@dataclass(frozen=True)
class _Entry(Generic[T]):
    value: T
    generation: int
    loaded_at: float


def _engine(session: AsyncSession) -> Engine:
    # A session bound to a connection gives the connection; both know their engine.
    return session.get_bind().engine


class ProjectCache(Generic[T]):
    """Values loaded per (database, project), reloaded after a local change or ``ttl``."""

    def __init__(
        self,
        ttl: float = DEFAULT_TTL,
        monotonic: Callable[[], float] = time.monotonic,
        follows: ProjectCache[Any] | None = None,
    ) -> None:
        """``follows``: share that cache's generations, so that its ``forget`` drops this
        cache's entries too (values derived from the same rows)."""
        self._ttl = ttl
        self._monotonic = monotonic
        self._entries: WeakKeyDictionary[Engine, dict[int, _Entry[T]]] = WeakKeyDictionary()
        self._loading: WeakKeyDictionary[Engine, dict[int, asyncio.Lock]] = WeakKeyDictionary()
        self._generations: WeakKeyDictionary[Engine, dict[int, int]] = (
            follows._generations if follows is not None else WeakKeyDictionary()
        )

    async def get(
        self,
        session: AsyncSession,
        project_id: int,
        load: Callable[[], Awaitable[T]],
        usable: Callable[[T], bool] | None = None,
    ) -> T:
        """The cached value for the project, or a fresh one from ``load()``.

        ``usable`` lets the caller refuse an entry for reasons of its own (a silence list
        loaded for a later moment than the one asked about).
        """
        engine = _engine(session)
        entry = self._fresh(engine, project_id, usable)
        if entry is not None:
            return entry.value
        # One load at a time per project: when an entry expires under a burst, the
        # concurrent misses wait for the first one's load instead of each holding a pooled
        # connection for a load of its own (500 of them exhaust any pool).
        lock = self._loading.setdefault(engine, {}).setdefault(project_id, asyncio.Lock())
        async with lock:
            entry = self._fresh(engine, project_id, usable)
            if entry is not None:
                return entry.value
            # The generation is read before loading: if a change is committed while this
            # load runs, the entry is stored under the old generation and not reused.
            generation = self._generations.setdefault(engine, {}).get(project_id, 0)
            loaded_at = self._monotonic()
            value = await load()
            self._entries.setdefault(engine, {})[project_id] = _Entry(value, generation, loaded_at)
            return value

    def _fresh(
        self, engine: Engine, project_id: int, usable: Callable[[T], bool] | None
    ) -> _Entry[T] | None:
        entry = self._entries.get(engine, {}).get(project_id)
        if (
            entry is not None
            and entry.generation == self._generations.get(engine, {}).get(project_id, 0)
            and self._monotonic() - entry.loaded_at < self._ttl
            and (usable is None or usable(entry.value))
        ):
            return entry
        return None

    def forget(self, session: AsyncSession, project_id: int) -> None:
        """Drop the project's entry after a committed change to what it caches."""
        generations = self._generations.setdefault(_engine(session), {})
        generations[project_id] = generations.get(project_id, 0) + 1


# What ingest reads besides rules and silences: the project's notification types,
# channels, message settings and templates. The services that change those call
# ``forget``; the worker's caches of channels and wording follow it.
CONTEXTS: ProjectCache[Any] = ProjectCache()
