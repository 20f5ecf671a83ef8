"""uvicorn's server, ending the live streams the moment it begins to shut down.

uvicorn's graceful shutdown stops accepting connections, then waits for every open
response to finish before it tells the application to shut down; a live stream never
finishes by itself, so the wait would last until the browser went away. This server
calls ``before_shutdown`` (the hub's ``end_streams``) first: each stream sends its last
frame and ends, and the shutdown goes on at once.
"""

from __future__ import annotations

import socket
from collections.abc import Callable

import uvicorn


class Server(uvicorn.Server):
    """A uvicorn server that runs ``before_shutdown`` as its shutdown begins."""

    def __init__(self, config: uvicorn.Config, *, before_shutdown: Callable[[], None]) -> None:
        super().__init__(config)
        self._before_shutdown = before_shutdown

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """End the streams, then shut down as uvicorn does."""
        self._before_shutdown()
        await super().shutdown(sockets)
