"""Signals between processes that share one SQLite file: Unix datagram sockets."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from nabat.signals import DELIVERIES, EVENTS, SocketSignals
from nabat.signals.sockets import directory_for


@pytest.fixture
async def pair(tmp_path: Path) -> AsyncIterator[tuple[SocketSignals, SocketSignals]]:
    """Two processes' signals (two instances on one directory), started."""
    first, second = SocketSignals(tmp_path / "s"), SocketSignals(tmp_path / "s")
    await first.start()
    await second.start()
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


async def test_a_signal_reaches_the_other_process_and_this_one_once(
    pair: tuple[SocketSignals, SocketSignals],
) -> None:
    first, second = pair
    here: list[tuple[str, str | None]] = []
    there: list[tuple[str, str | None]] = []
    both = asyncio.Event()

    def heard(topic: str, payload: str | None) -> None:
        there.append((topic, payload))
        if len(there) == 2:
            both.set()

    first.subscribe(DELIVERIES, lambda payload: here.append((DELIVERIES, payload)))
    second.subscribe(DELIVERIES, lambda payload: heard(DELIVERIES, payload))
    second.subscribe(EVENTS, lambda payload: heard(EVENTS, payload))
    first.publish(DELIVERIES, "42")
    first.publish(EVENTS)
    async with asyncio.timeout(5):
        await both.wait()
    assert there == [(DELIVERIES, "42"), (EVENTS, "")]
    await asyncio.sleep(0.05)
    assert here == [(DELIVERIES, "42")]


async def test_the_socket_of_a_process_that_died_is_removed(tmp_path: Path) -> None:
    directory = tmp_path / "s"
    directory.mkdir()
    # What kill -9 leaves: a bound socket's file, with nobody reading it.
    dead = directory / "999999-dead.sock"
    left = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    left.bind(str(dead))
    left.close()
    signals = SocketSignals(directory)
    await signals.start()
    try:
        signals.publish(DELIVERIES)
        assert not dead.exists()
    finally:
        await signals.close()
    assert not directory.exists()


def test_every_path_to_one_database_file_meets_in_one_short_directory(tmp_path: Path) -> None:
    database = tmp_path / "data" / "nabat.db"
    database.parent.mkdir()
    roundabout = tmp_path / "data" / ".." / "data" / "nabat.db"
    assert directory_for(database) == directory_for(roundabout)
    assert directory_for(database) != directory_for(tmp_path / "other.db")
    # Room for the socket's own name within the ~100 bytes a socket path may have.
    assert len(str(directory_for(database))) < 60
