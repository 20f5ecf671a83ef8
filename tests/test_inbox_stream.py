"""``GET /api/v1/inbox/stream`` on a real server: a change reaches the person's open
streams (every one of them, nobody else's), a reconnect gets exactly what it missed, a
lost signal is made up for by the hub's resync, streams leave nothing behind, keep-alive
comments, and who may open one."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from fastapi import FastAPI

from nabat.app import create_app, end_streams
from nabat.models.account import User
from nabat.settings import Settings
from tests.conftest import login
from tests.support.live import STREAM, add_item, mark, opened, state_of, user_id_of
from tests.support.serving import served
from tests.support.sse import Reader
from tests.test_isolation import PASSWORD, add_api_key, add_user
from tests.web.support import console_login

Headers = dict[str, str]
# Generous bounds on waits that end as soon as the awaited frame arrives: a test that
# hits one has found a stream that does not deliver, not a slow machine.
WAIT = 10.0


async def eventually(check: Callable[[], bool]) -> None:
    """Return once ``check()`` holds; fail if it never does within :data:`WAIT`."""
    async with asyncio.timeout(WAIT):
        while not check():  # noqa: ASYNC110 - the state has no event to await
            await asyncio.sleep(0.01)


@pytest.fixture
async def live(settings: Settings) -> AsyncIterator[FastAPI]:
    """The application with its lifespan, keep-alive comments every tenth of a second,
    and a resync too slow to be what delivers in any test but the one about it."""
    application = create_app(
        settings.model_copy(
            update={"stream_keepalive_seconds": 0.1, "stream_resync_seconds": 3600.0}
        )
    )
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def base(live: FastAPI) -> AsyncIterator[str]:
    """The application served on 127.0.0.1."""
    async with served(live) as url:
        yield url


@pytest.fixture
async def http(base: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=base, timeout=WAIT) as client:
        yield client


@pytest.fixture
async def anna(http: httpx.AsyncClient) -> Headers:
    admin = await login(http, "admin", "correct horse battery staple")
    return await add_user(http, admin, "anna", "member")


async def test_a_committed_change_reaches_the_stream_with_its_item_and_the_counts(
    live: FastAPI, http: httpx.AsyncClient, anna: Headers
) -> None:
    anna_id = await user_id_of(live, "anna")
    async with opened(http, anna) as stream, asyncio.timeout(WAIT):
        first = await stream.event()
        assert (first.name, first.data) == ("count", {"unread": 0, "unseen": 0})
        assert first.id == "0"
        item_id, change_id = await add_item(live, anna_id, "Billing API is down")
        new = await stream.event()
        assert (new.name, new.id) == ("item", str(change_id))
        assert new.data["kind"] == "new"
        assert new.data["itemId"] == item_id
        assert new.data["item"]["title"] == "Billing API is down"
        assert new.data["item"]["read"] is False
        count = await stream.event()
        assert (count.name, count.id, count.data) == (
            "count",
            str(change_id),
            {"unread": 1, "unseen": 1},
        )
        await mark(live, anna_id, item_id, "read")
        read = await stream.event()
        assert read.name == "read"
        assert int(read.id or 0) > change_id
        assert read.data["item"]["read"] is True
        assert (await stream.event()).data == {"unread": 0, "unseen": 0}


async def test_a_reconnect_gets_exactly_what_it_missed_once(
    live: FastAPI, http: httpx.AsyncClient, anna: Headers
) -> None:
    anna_id = await user_id_of(live, "anna")
    await add_item(live, anna_id, "before the first connection")
    async with opened(http, anna) as stream, asyncio.timeout(WAIT):
        # A fresh stream starts from now: the counts, not the history.
        first = await stream.event()
        assert (first.name, first.data["unread"]) == ("count", 1)
    last_seen = first.id
    assert last_seen is not None
    # The browser's EventSource resumes with the header, the console's new one with the
    # query parameter; the same either way.
    for number, resume in enumerate(({"headers": True}, {"headers": False})):
        missed = [await add_item(live, anna_id, f"missed {number}.{n}") for n in range(3)]
        if resume["headers"]:
            reconnect = opened(http, {**anna, "Last-Event-ID": last_seen})
        else:
            reconnect = opened(http, anna, lastEventId=last_seen)
        async with reconnect as stream:
            async with asyncio.timeout(WAIT):
                got = await stream.events_until("count")
            assert [(f.name, f.id) for f in got[:-1]] == [
                ("item", str(change)) for _, change in missed
            ]
            assert [f.data["item"]["title"] for f in got[:-1]] == [
                f"missed {number}.{n}" for n in range(3)
            ]
            assert (got[-1].id, got[-1].data["unread"]) == (str(missed[-1][1]), 4 + 4 * number)
            # Then live, with nothing sent twice: the next event is the next change.
            _, later = await add_item(live, anna_id, "after the reconnect")
            async with asyncio.timeout(WAIT):
                following = await stream.event()
            assert (following.name, following.id) == ("item", str(later))
        last_seen = str(later)


async def test_every_stream_of_a_person_gets_the_change_and_nobody_elses_does(
    live: FastAPI, http: httpx.AsyncClient, anna: Headers
) -> None:
    admin = await login(http, "admin", "correct horse battery staple")
    boris = await add_user(http, admin, "boris", "member")
    anna_id, boris_id = await user_id_of(live, "anna"), await user_id_of(live, "boris")
    async with (
        opened(http, anna) as tab_one,
        opened(http, anna) as tab_two,
        opened(http, boris) as other,
        asyncio.timeout(WAIT),
    ):
        for stream in (tab_one, tab_two, other):
            assert (await stream.event()).name == "count"
        _, for_anna = await add_item(live, anna_id, "for Anna")
        for stream in (tab_one, tab_two):
            got = await stream.event("item")
            assert (got.id, got.data["item"]["title"]) == (str(for_anna), "for Anna")
        # Had Anna's change reached Boris's stream it would come before his own.
        _, for_boris = await add_item(live, boris_id, "for Boris")
        first = await other.event()
        assert (first.name, first.id) == ("item", str(for_boris))
        assert first.data["item"]["title"] == "for Boris"


async def test_a_change_whose_signal_was_lost_arrives_with_the_resync(
    settings: Settings,
) -> None:
    application = create_app(settings.model_copy(update={"stream_resync_seconds": 0.2}))
    async with (
        application.router.lifespan_context(application),
        served(application) as url,
        httpx.AsyncClient(base_url=url, timeout=WAIT) as client,
    ):
        admin = await login(client, "admin", "correct horse battery staple")
        headers = await add_user(client, admin, "anna", "member")
        anna_id = await user_id_of(application, "anna")
        async with opened(client, headers) as stream, asyncio.timeout(WAIT):
            assert (await stream.event()).name == "count"
            _, change = await add_item(application, anna_id, "unannounced", announce=False)
            got = await stream.event()
            assert (got.name, got.id) == ("item", str(change))


async def test_a_quiet_stream_sends_keep_alive_comments_and_retry_first(
    http: httpx.AsyncClient, anna: Headers
) -> None:
    async with http.stream("GET", STREAM, headers=anna) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        assert response.headers["x-accel-buffering"] == "no"
        frames = aiter(Reader(response))
        async with asyncio.timeout(WAIT):
            assert (await anext(frames)).retry == 3000
            assert (await anext(frames)).name == "count"
            for _ in range(2):
                assert (await anext(frames)).comment == "keep-alive"


async def test_a_thousand_streams_opened_and_dropped_leave_nothing_behind(
    live: FastAPI, http: httpx.AsyncClient, anna: Headers
) -> None:
    hub = state_of(live).hub

    async def once() -> None:
        async with opened(http, anna) as stream:
            assert (await stream.event()).name == "count"

    async def tasks_when_closed() -> int:
        # The server ends a stream's task once it hears that the client left.
        await eventually(lambda: hub.open_streams == 0)
        return len(asyncio.all_tasks())

    await once()
    before = await tasks_when_closed()
    for _ in range(50):
        await asyncio.gather(*(once() for _ in range(20)))
    await eventually(lambda: hub.open_streams == 0 and len(asyncio.all_tasks()) <= before)
    assert hub.open_streams == 0
    assert len(asyncio.all_tasks()) <= before


async def test_a_stream_ends_when_the_server_begins_to_stop(
    live: FastAPI, http: httpx.AsyncClient, anna: Headers
) -> None:
    async with opened(http, anna) as stream, asyncio.timeout(WAIT):
        assert (await stream.event()).name == "count"
        end_streams(live)
        async for _ in stream:
            pass
    # A stream opened from then on ends at once.
    async with opened(http, anna) as late, asyncio.timeout(WAIT):
        assert [frame.retry async for frame in late] == [3000]


async def test_the_session_cookie_or_a_login_token_opens_a_stream_nothing_else_does(
    live: FastAPI, base: str, http: httpx.AsyncClient
) -> None:
    admin = await login(http, "admin", "correct horse battery staple")
    async with httpx.AsyncClient(base_url=base, timeout=WAIT) as browser:
        await console_login(browser)
        async with opened(browser) as stream, asyncio.timeout(WAIT):
            assert (await stream.event()).name == "count"
    async with opened(http, admin) as stream, asyncio.timeout(WAIT):
        assert (await stream.event()).name == "count"
    nobody = await http.get(STREAM)
    assert nobody.status_code == 401
    assert nobody.headers["www-authenticate"] == "Bearer"
    assert nobody.json()["code"] == "UNAUTHORIZED"
    forged = await http.get(STREAM, headers={"Authorization": "Bearer not-a-token"})
    assert forged.status_code == 401
    async with httpx.AsyncClient(base_url=base, cookies={"nabat_session": "stale"}) as stale:
        assert (await stale.get(STREAM)).status_code == 401
    _, key = await add_api_key(http, admin, None)
    robot = await http.get(STREAM, headers=key)
    assert robot.status_code == 403
    assert "no inbox" in robot.json()["error"]
    # A deactivated person's token opens nothing any more.
    await add_user(http, admin, "gone", "member")
    gone = await login(http, "gone", PASSWORD)
    async with state_of(live).sessions() as session:
        user = await session.get(User, await user_id_of(live, "gone"))
        assert user is not None
        user.is_active = False
        await session.commit()
    assert (await http.get(STREAM, headers=gone)).status_code == 401


async def test_an_event_routed_to_a_persons_inbox_reaches_their_open_stream(
    settings: Settings,
) -> None:
    application = create_app(
        settings.model_copy(update={"run_workers": True, "stream_resync_seconds": 3600.0})
    )
    async with (
        application.router.lifespan_context(application),
        served(application) as url,
        httpx.AsyncClient(base_url=url, timeout=WAIT) as client,
    ):
        admin = await login(client, "admin", "correct horse battery staple")
        anna = await add_user(client, admin, "anna", "member")
        channels = (await client.get("/api/v1/notifications/channels", headers=admin)).json()
        [inapp] = [channel for channel in channels if channel["type"] == "INAPP"]
        rule = {
            "name": "to Anna's inbox",
            "match": {"types": ["service.*"]},
            "actions": [{"channelId": inapp["id"], "recipients": ["anna"]}],
        }
        assert (await client.post("/api/v1/rules", json=rule, headers=admin)).status_code == 201
        async with opened(client, anna) as stream, asyncio.timeout(WAIT):
            assert (await stream.event()).name == "count"
            started = time.perf_counter()
            accepted = await client.post(
                "/api/v1/events",
                json={"type": "service.down", "severity": "CRITICAL", "message": "Billing"},
                headers=admin,
            )
            assert accepted.status_code == 202, accepted.text
            answered = (time.perf_counter() - started) * 1000
            new = await stream.event()
            arrived = (time.perf_counter() - started) * 1000
            assert new.name == "item"
            assert new.data["item"]["eventId"] == accepted.json()["eventId"]
            assert new.data["item"]["severity"] == "CRITICAL"
            print(f"\nevent posted: answered in {answered:.1f} ms, on the stream {arrived:.1f} ms")
