"""Reading Server-Sent Events in tests, frame by frame, as a browser's EventSource would
(and keeping what a browser hides: comments and ``retry:``)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class Frame:
    """One frame of a stream: an event (``name``, ``id``, ``data``), a comment, or a
    ``retry:``."""

    name: str | None = None
    id: str | None = None
    data_lines: list[str] = field(default_factory=list)
    comment: str | None = None
    retry: int | None = None

    @property
    def data(self) -> Any:
        """The event's data, read as JSON."""
        return json.loads("\n".join(self.data_lines))


class Reader:
    """The frames of one streamed response, in order."""

    def __init__(self, response: httpx.Response) -> None:
        self._lines = response.aiter_lines()
        # One generator for the reader's life: leaving a loop over it early keeps its place.
        self._all = self._frames()

    def __aiter__(self) -> AsyncIterator[Frame]:
        return self._all

    async def _frames(self) -> AsyncIterator[Frame]:
        frame = Frame()
        async for line in self._lines:
            if line == "":
                if frame != Frame():
                    yield frame
                frame = Frame()
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "":
                frame.comment = value
            elif name == "id":
                frame.id = value
            elif name == "event":
                frame.name = value
            elif name == "data":
                frame.data_lines.append(value)
            elif name == "retry":
                frame.retry = int(value)

    async def event(self, *names: str) -> Frame:
        """The next event named one of ``names`` (any event when none are named);
        comments, ``retry:`` and other events on the way are skipped."""
        async for frame in self:
            if frame.name is not None and (not names or frame.name in names):
                return frame
        raise AssertionError(f"the stream ended before an event {names or ''}")

    async def events_until(self, name: str) -> list[Frame]:
        """Every event up to and including the next one named ``name``."""
        found: list[Frame] = []
        async for frame in self:
            if frame.name is None:
                continue
            found.append(frame)
            if frame.name == name:
                return found
        raise AssertionError(f"the stream ended before an event {name!r}; got {found}")
