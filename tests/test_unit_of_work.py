"""The caller owns the unit of work: services flush, the caller commits, caches follow.

Services never commit; what must follow a change (forgetting a cache entry) is deferred
with ``nabat.db.unit.after_commit`` until the caller's commit succeeded.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from nabat.db.unit import after_commit
from nabat.models.channel import Channel
from nabat.models.routing import NotificationTypeRow, Rule, Silence
from nabat.services import channels, notification_types, rules, silences
from nabat.services.channels import ChannelService
from nabat.services.notification_types import create_type
from nabat.services.routing_cache import CONTEXTS, ProjectCache
from nabat.services.rules import RuleFields, RuleService
from nabat.services.silences import SilenceFields, SilenceService
from nabat.state import AppState
from tests.support.channels import made_by_people
from tests.support.errors import expect_error

CHANNELS = "/api/v1/notifications/channels"
TYPES = "/api/v1/notification-types"


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


def routing_forgets(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[int]]:
    """The forgets of each cache routing reads, recorded from now on."""
    caches = {"contexts": CONTEXTS, "rules": rules._cache, "silences": silences._cache}
    return {name: recorded_forgets(monkeypatch, cache) for name, cache in caches.items()}


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


async def _change_everything(state: AppState, session: AsyncSession) -> None:
    """One change through each service that keeps a routing cache, in one session."""
    view = await ChannelService(session, state.box, state.clock).create(
        1, name="hook", type_name="WEBHOOK", configuration={"url": "http://127.0.0.1:9/"}
    )
    assert view.row.id is not None  # flushed: the id is known before the commit
    await RuleService(session, state.clock).create(
        1, RuleFields(name="r", actions=[{"channelId": view.row.id, "recipients": ["alice"]}])
    )
    await SilenceService(session, state.clock).create(
        1,
        SilenceFields(
            matchers=[{"name": "env", "op": "=", "value": "prod"}],
            ends_at=state.clock.now() + timedelta(hours=1),
            comment="maintenance",
            author="admin",
        ),
    )
    await create_type(session, state.clock, 1, key="backup.failed", title="Backup failed")


async def _stored(state: AppState) -> list[int]:
    # The in-app channel Nabat makes in every project is none of these changes.
    people_made = Channel.type != "INAPP"
    async with state.sessions() as session:
        return [
            int(await session.scalar(select(func.count()).select_from(table).where(*where)) or 0)
            for table, where in (
                (Channel, [people_made]),
                (Rule, []),
                (Silence, []),
                (NotificationTypeRow, []),
            )
        ]


async def test_changes_rolled_back_leave_nothing_stored_and_the_caches_untouched(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = _state(app)
    forgets = routing_forgets(monkeypatch)
    async with state.sessions() as session:
        await _change_everything(state, session)
        await session.rollback()
    assert await _stored(state) == [0, 0, 0, 0]
    assert forgets == {"contexts": [], "rules": [], "silences": []}


async def test_changes_forget_the_caches_only_once_committed(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = _state(app)
    forgets = routing_forgets(monkeypatch)
    async with state.sessions() as session:
        await _change_everything(state, session)
        assert forgets == {"contexts": [], "rules": [], "silences": []}
        await session.commit()
    assert await _stored(state) == [1, 1, 1, 1]
    assert forgets == {"contexts": [1, 1], "rules": [1], "silences": [1]}


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
    listed = made_by_people((await client.get(CHANNELS, headers=admin_headers)).json())
    assert [(c["name"], c["isDefault"]) for c in listed] == [("a", True)]


async def test_a_type_key_taken_at_the_same_moment_is_a_409_and_stores_nothing_more(
    client: httpx.AsyncClient, admin_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    body = {"key": "backup.failed", "title": "Backup failed"}
    first = await client.post(TYPES, json=body, headers=admin_headers)
    assert first.status_code == 201, first.text

    async def none_yet(session: AsyncSession, project_id: int) -> dict[str, Any]:
        # As if another request created the key just after this one looked.
        return {}

    monkeypatch.setattr(notification_types, "_rows", none_yet)
    forgets = recorded_forgets(monkeypatch, CONTEXTS)
    response = await client.post(TYPES, json={**body, "title": "Again"}, headers=admin_headers)
    error = expect_error(response, 409, "CONFLICT")
    assert error["error"] == (
        "another request changed notification type 'backup.failed' at the same moment; "
        "read it and send your change again"
    )
    assert forgets == []
    monkeypatch.undo()
    listed = (await client.get(TYPES, headers=admin_headers)).json()
    assert [t["title"] for t in listed if t["key"] == "backup.failed"] == ["Backup failed"]
