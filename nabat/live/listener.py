"""One open stream's doorbell: what the hub rings, and what the stream waits on."""

from __future__ import annotations

import asyncio


class Listener:
    """The hub's handle on one open stream.

    Ringing it any number of times before the stream looks counts once (the stream then
    reads everything after its ``cursor``), so a burst of signals never queues up: the
    memory a stream costs does not grow with the traffic.
    """

    __slots__ = ("_bell", "cursor", "ended")

    def __init__(self, cursor: int = 0) -> None:
        # The last change sent (inbox streams): the hub rings only streams behind a signal.
        self.cursor = cursor
        self.ended = False
        self._bell = asyncio.Event()

    def ring(self) -> None:
        """Ask the stream to look again."""
        self._bell.set()

    def end(self) -> None:
        """Ask the stream to finish now (the server is stopping)."""
        self.ended = True
        self._bell.set()

    async def wait(self, seconds: float) -> bool:
        """Wait at most ``seconds`` to be rung; whether it was (or ended)."""
        if not self._bell.is_set():
            try:
                async with asyncio.timeout(seconds):
                    await self._bell.wait()
            except TimeoutError:
                return False
        self._bell.clear()
        return True
