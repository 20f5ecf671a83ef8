"""The live hub's bookkeeping: a signal rings the streams it concerns and no others (a
person's streams behind the change, a project's feeds), a repeated signal costs one
look, a closed stream is forgotten, the resync finds a change whose signal was lost, and
ending the streams ends those opened later too."""

from __future__ import annotations

from fastapi import FastAPI

from nabat.live.hub import LiveHub
from nabat.signals import DELIVERIES, DELIVERY_CHANGES, INBOX, LocalSignals
from tests.support.live import add_item, state_of


def _hub(app: FastAPI, signals: LocalSignals) -> LiveHub:
    return LiveHub(
        signals=signals,
        sessions=state_of(app).sessions,
        keepalive_seconds=15.0,
        resync_seconds=3600.0,
    )


async def test_an_inbox_signal_rings_the_persons_streams_behind_it_only(app: FastAPI) -> None:
    signals = LocalSignals()
    hub = _hub(app, signals)
    await hub.start()
    with hub.inbox(7) as behind, hub.inbox(7) as ahead, hub.inbox(8) as other:
        behind.cursor, ahead.cursor = 40, 42
        signals.publish(INBOX, "7:42,9:50")
        assert await behind.wait(0) is True
        assert await ahead.wait(0) is False
        assert await other.wait(0) is False
        # Rung twice before it looked: one look.
        signals.publish(INBOX, "7:43")
        signals.publish(INBOX, "7:44")
        assert await behind.wait(0) is True
        assert await behind.wait(0) is False
        assert hub.open_streams == 3
        assert hub.streams_of(7) == 2
    assert hub.open_streams == 0
    assert hub.streams_of(7) == 0


async def test_delivery_signals_ring_the_feeds_of_the_projects_named(app: FastAPI) -> None:
    signals = LocalSignals()
    hub = _hub(app, signals)
    await hub.start()
    with hub.feed(1) as first, hub.feed(2) as second:
        signals.publish(DELIVERY_CHANGES, "2,3")
        assert (await first.wait(0), await second.wait(0)) == (False, True)
        # New deliveries queued, project unnamed: every feed looks.
        signals.publish(DELIVERIES)
        assert (await first.wait(0), await second.wait(0)) == (True, True)
        # Signals may have been missed (a lost connection): every feed looks.
        signals.missed()
        assert (await first.wait(0), await second.wait(0)) == (True, True)


async def test_the_resync_rings_a_stream_behind_a_change_nobody_announced(app: FastAPI) -> None:
    hub = _hub(app, LocalSignals())
    with hub.inbox(1) as listener:
        _, change = await add_item(app, 1, "unannounced", announce=False)
        listener.cursor = change - 1
        await hub.round()
        assert await listener.wait(0) is True
        listener.cursor = change
        await hub.round()
        assert await listener.wait(0) is False


async def test_ending_the_streams_ends_those_opened_later_too(app: FastAPI) -> None:
    hub = _hub(app, LocalSignals())
    with hub.inbox(1) as open_one:
        hub.end_streams()
        assert open_one.ended
        with hub.feed(1) as later:
            assert later.ended
            assert await later.wait(0) is True
