"""The caller owns the unit of work: services flush, the caller commits, caches follow.

Services never commit; what must follow a change (forgetting a cache entry) is deferred
with ``nabat.db.unit.after_commit`` until the caller's commit succeeded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from nabat.db.unit import after_commit
from nabat.models.channel import Channel
from nabat.services import channels
from nabat.services.channels import ChannelService
from nabat.services.routing_cache import CONTEXTS, ProjectCache
from nabat.state import AppState
from tests.support.errors import expect_error

CHANNELS = "/api/v1/notifications/channels"


def _state(app: FastAPI) -> AppState:
    state: AppState = app.state.nabat
    return state


def recorded_forgets(monkeypatch: pytest.MonkeyPatch, cache: ProjectCache[Any]) -> list[int]:
    """The project ids ``cache.forget`` is called with from now on."""
    calls: list[int] = []

    def forget(_session: AsyncSession, project_id: int) -> None:
        calls.append(project_id)

    monkeypatch.setattr(cache, "forget", forget)
    return calls


# --- after_commit -----------------------------------------------------------------------


async def test_a_callback_runs_once_after_the_commit(app: FastAPI) -> None:
    ran: list[str] = []
    async with _state(app).sessions() as session:
        await session.execute(text("SELECT 1"))
        after_commit(session, lambda: ran.append("first"))
        after_commit(session, lambda: ran.append("second"))
        assert ran == []
        await session.commit()
        assert ran == ["first", "second"]
        await session.execute(text("SELECT 1"))
        await session.commit()
    assert ran == ["first", "second"]


@pytest.mark.parametrize(
    "end",
    [
        pytest.param(lambda session: session.rollback(), id="rollback"),
        pytest.param(lambda session: session.close(), id="close"),
    ],
)
async def test_a_callback_is_dropped_when_the_transaction_does_not_commit(
    app: FastAPI, end: Callable[[AsyncSession], Any]
) -> None:
    ran: list[str] = []
    async with _state(app).sessions() as session:
        await session.execute(text("SELECT 1"))
        after_commit(session, lambda: ran.append("dropped"))
        await end(session)
        # The next unit of work in the same session does not inherit it.
        await session.execute(text("SELECT 1"))
        await session.commit()
    assert ran == []


async def test_a_released_savepoint_waits_for_the_outer_commit(app: FastAPI) -> None:
    ran: list[str] = []
    async with _state(app).sessions() as session:
        await session.execute(text("SELECT 1"))
        async with session.begin_nested():
            after_commit(session, lambda: ran.append("outer"))
        assert ran == []
        await session.commit()
    assert ran == ["outer"]


# --- services under the caller's unit of work -------------------------------------------


async def test_a_channel_change_rolled_back_leaves_nothing_and_the_cache_untouched(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = _state(app)
    forgets = recorded_forgets(monkeypatch, CONTEXTS)
    async with state.sessions() as session:
        view = await ChannelService(session, state.box, state.clock).create(
            1, name="hook", type_name="WEBHOOK", configuration={"url": "http://127.0.0.1:9/"}
        )
        assert view.row.id is not None  # flushed: the id is known before the commit
        await session.rollback()
    async with state.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Channel)) == 0
    assert forgets == []


async def test_a_channel_change_forgets_the_cache_only_once_committed(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = _state(app)
    forgets = recorded_forgets(monkeypatch, CONTEXTS)
    async with state.sessions() as session:
        await ChannelService(session, state.box, state.clock).create(
            1, name="hook", type_name="WEBHOOK", configuration={"url": "http://127.0.0.1:9/"}
        )
        assert forgets == []
        await session.commit()
    assert forgets == [1]


async def test_a_default_taken_at_the_same_moment_is_a_409_and_stores_nothing(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    body = {"type": "WEBHOOK", "configuration": {"url": "http://127.0.0.1:9/"}, "isDefault": True}
    first = await client.post(CHANNELS, json={**body, "name": "a"}, headers=admin_headers)
    assert first.status_code == 201, first.text

    async def racing_make_default(self: ChannelService, row: Channel) -> None:
        # As if another request made its channel the default between our clearing of
        # the old default and our flush: the one-default index refuses the second.
        row.is_default = True

    monkeypatch.setattr(channels.ChannelService, "_make_default", racing_make_default)
    forgets = recorded_forgets(monkeypatch, CONTEXTS)
    response = await client.post(CHANNELS, json={**body, "name": "b"}, headers=admin_headers)
    error = expect_error(response, 409, "CONFLICT")
    assert error["error"] == "another request changed the default channel at the same time; retry"
    assert forgets == []
    listed = (await client.get(CHANNELS, headers=admin_headers)).json()
    assert [(c["name"], c["isDefault"]) for c in listed] == [("a", True)]
