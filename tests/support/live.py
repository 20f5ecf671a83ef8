"""Helpers for tests of the live hub: people's inbox changes made in the database as the
inbox's writers make them (the row, its change, the signal after the commit), and
streams opened on a served application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from nabat.models.account import Project, User
from nabat.models.inbox import InboxChange, InboxItem
from nabat.services.inbox import InboxService, Mark
from nabat.signals.inbox import InboxNews
from nabat.state import AppState
from tests.support.sse import Reader

STREAM = "/api/v1/inbox/stream"


def state_of(app: FastAPI) -> AppState:
    """The running application's state."""
    state: AppState = app.state.nabat
    return state


async def user_id_of(app: FastAPI, username: str) -> int:
    """The id of the user called ``username``."""
    async with state_of(app).sessions() as session:
        found = await session.scalar(select(User.id).where(User.username == username))
    assert found is not None, username
    return found


async def add_item(
    app: FastAPI, user_id: int, title: str, *, announce: bool = True
) -> tuple[int, int]:
    """A new inbox item of ``user_id`` and its ``new`` change, committed, then announced
    on the signal seam unless ``announce`` is False (a lost signal); their ids."""
    state = state_of(app)
    now = state.clock.now()
    async with state.sessions() as session, state.write_gate:
        project_id = await session.scalar(select(Project.id).order_by(Project.id).limit(1))
        assert project_id is not None
        item = InboxItem(
            project_id=project_id,
            user_id=user_id,
            type_key="service.down",
            severity="CRITICAL",
            title=title,
            body=f"{title}: no answer within 10 s.",
            link=None,
            created_at=now,
        )
        session.add(item)
        await session.flush()
        change = InboxChange(
            user_id=user_id, project_id=project_id, kind="new", item_id=item.id, at=now
        )
        session.add(change)
        await session.flush()
        ids = (item.id, change.id)
        await session.commit()
    if announce:
        state.publish_inbox([InboxNews(user_id, ids[1])])
    return ids


async def mark(app: FastAPI, user_id: int, item_id: int, kind: Mark) -> None:
    """Mark an item as the inbox API does (the service announces after the commit)."""
    state = state_of(app)
    async with state.sessions() as session, state.write_gate:
        service = InboxService(session, state.clock, user_id, published=state.publish_inbox)
        await service.mark(item_id, kind)
        await session.commit()


@asynccontextmanager
async def opened(
    http: httpx.AsyncClient, headers: dict[str, str] | None = None, **params: str
) -> AsyncIterator[Reader]:
    """An inbox stream of the person ``headers`` (or ``http``'s cookies) sign in."""
    async with http.stream("GET", STREAM, headers=headers, params=params) as response:
        assert response.status_code == 200, await response.aread()
        yield Reader(response)
