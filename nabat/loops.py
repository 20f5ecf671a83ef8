"""The background loops a process runs (delivery worker, router, heartbeat, housekeeping,
and later the scheduler and the live hub), on one base that supervises them.

A loop is a series of rounds. A round that raises is logged with its cause, counted in
``/metrics`` (``nabat_loop_failures_total``), marks the loop down (``nabat_loop_up`` 0,
``/readyz`` not ready) and is tried again after a backoff that grows to
``MAX_BACKOFF`` seconds; the first round that succeeds marks the loop up again. No
exception ends a loop: only ``stop`` does.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge

from nabat.waiting import wake_or_stop

log = logging.getLogger("nabat.loops")

FIRST_BACKOFF = 0.5
MAX_BACKOFF = 30.0


@dataclass
class LoopState:
    """How one loop is doing: up or not, and its last failure (the count of failures is
    ``nabat_loop_failures_total``)."""

    up: bool = True
    last_error: str | None = None


class LoopHealth:
    """The state of every loop of this process, for ``/readyz`` and ``/metrics``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.states: dict[str, LoopState] = {}
        self._up = Gauge(
            "nabat_loop_up",
            "1 while a background loop runs, 0 while it is failing.",
            ["loop"],
            registry=registry,
        )
        self._failures = Counter(
            "nabat_loop_failures",
            "Rounds of a background loop that failed (each is logged with its cause).",
            ["loop"],
            registry=registry,
        )

    def started(self, name: str) -> None:
        """A loop begins: up, with nothing failed yet."""
        self.states.setdefault(name, LoopState())
        self._up.labels(name).set(1)

    def ok(self, name: str) -> None:
        """A round succeeded."""
        state = self.states.setdefault(name, LoopState())
        if not state.up:
            log.info("background loop %s works again", name)
        state.up = True
        self._up.labels(name).set(1)

    def failed(self, name: str, error: BaseException) -> None:
        """A round failed with ``error``."""
        state = self.states.setdefault(name, LoopState())
        state.up = False
        state.last_error = f"{type(error).__name__}: {error}"[:500]
        self._up.labels(name).set(0)
        self._failures.labels(name).inc()

    def down(self) -> dict[str, LoopState]:
        """The loops failing right now, by name."""
        return {name: state for name, state in self.states.items() if not state.up}


class BackgroundLoop(ABC):
    """A supervised loop of rounds; subclasses say what one round does."""

    #: The loop's name in logs, metrics and ``/readyz``.
    name: str = "loop"

    def __init__(self, *, health: LoopHealth | None, idle_seconds: float) -> None:
        self._health = health
        self._idle_seconds = idle_seconds
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Start the next round now rather than after the idle wait."""
        self._wake.set()

    @abstractmethod
    async def round(self) -> bool:
        """Do one round of work; True when there may be more right away."""

    async def started(self) -> None:
        """Called before the first round (and again after a failed start)."""
        return

    async def finished(self) -> None:
        """Called once ``stop`` is set and the last round ended."""
        return

    async def run(self, stop: asyncio.Event) -> None:
        """Run rounds until ``stop`` is set, surviving any failure (see the module)."""
        if self._health is not None:
            self._health.started(self.name)
        backoff = FIRST_BACKOFF
        begun = False
        try:
            while not stop.is_set():
                try:
                    if not begun:
                        await self.started()
                        begun = True
                    busy = await self.round()
                except Exception as exc:
                    log.exception(
                        "background loop %s failed; retrying in %.1f s", self.name, backoff
                    )
                    if self._health is not None:
                        self._health.failed(self.name, exc)
                    await wake_or_stop(asyncio.Event(), stop, backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF)
                    continue
                backoff = FIRST_BACKOFF
                if self._health is not None:
                    self._health.ok(self.name)
                if not busy:
                    await wake_or_stop(self._wake, stop, self._idle_seconds)
        finally:
            if begun:
                await self.finished()


async def run_loops(loops: Sequence[BackgroundLoop], stop: asyncio.Event) -> None:
    """Run ``loops`` side by side until ``stop`` is set; on the way out they finish in
    reverse order (the heartbeat, listed first, outlives the workers it vouches for)."""
    stops = [asyncio.Event() for _ in loops]
    tasks = [asyncio.create_task(loop.run(own)) for loop, own in zip(loops, stops, strict=True)]
    try:
        await stop.wait()
    finally:
        for own, task in zip(reversed(stops), reversed(tasks), strict=True):
            own.set()
            await asyncio.gather(task, return_exceptions=True)
