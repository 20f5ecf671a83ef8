"""``/api/v1/notifications/channels``: seed 002's channel API."""

from __future__ import annotations

from fastapi import APIRouter

from nabat.api.deps import CurrentPrincipal, SessionDep, StateDep
from nabat.schemas.channels import ChannelCreate, ChannelOut, ChannelUpdate, DeletedOut
from nabat.schemas.deliveries import TestSendRequest, TestSendResponse
from nabat.services.access import Scope
from nabat.services.channels import ChannelChanges, ChannelService, ChannelView
from nabat.services.deliveries import channel_status as channel_health
from nabat.services.test_send import TestRequest, send_test

router = APIRouter(prefix="/api/v1/notifications/channels", tags=["channels"])


def _out(view: ChannelView) -> ChannelOut:
    row = view.row
    return ChannelOut(
        id=row.id,
        name=row.name,
        type=row.type,
        configuration=view.config.to_public(),
        enabled=row.enabled,
        is_default=row.is_default,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _service(state: StateDep, session: SessionDep) -> ChannelService:
    return ChannelService(session, state.box, state.clock)


@router.post("", status_code=201, response_model=ChannelOut)
async def create_channel(
    body: ChannelCreate, caller: CurrentPrincipal, state: StateDep, session: SessionDep
) -> ChannelOut:
    """Create a channel; the answer carries its ``id``."""
    caller.require(Scope.CHANNELS_WRITE)
    view = await _service(state, session).create(
        caller.project_id,
        name=body.name,
        type_name=body.type,
        configuration=body.configuration,
        enabled=body.enabled,
        is_default=body.is_default,
        check_interval_seconds=body.check_interval_seconds,
    )
    await session.commit()
    return _out(view)


@router.get("", response_model=list[ChannelOut])
async def list_channels(
    caller: CurrentPrincipal, state: StateDep, session: SessionDep
) -> list[ChannelOut]:
    """The project's channels."""
    caller.require(Scope.CHANNELS_READ)
    return [_out(view) for view in await _service(state, session).list(caller.project_id)]


@router.get("/default", response_model=ChannelOut)
async def default_channel(
    caller: CurrentPrincipal, state: StateDep, session: SessionDep
) -> ChannelOut:
    """The project's default channel (404 when none is set)."""
    caller.require(Scope.CHANNELS_READ)
    return _out(await _service(state, session).get_default(caller.project_id))


@router.get("/{channel_id:int}", response_model=ChannelOut)
async def get_channel(
    channel_id: int, caller: CurrentPrincipal, state: StateDep, session: SessionDep
) -> ChannelOut:
    """One channel."""
    caller.require(Scope.CHANNELS_READ)
    return _out(await _service(state, session).get(caller.project_id, channel_id))


@router.put("/{channel_id:int}", response_model=ChannelOut)
async def update_channel(
    channel_id: int,
    body: ChannelUpdate,
    caller: CurrentPrincipal,
    state: StateDep,
    session: SessionDep,
) -> ChannelOut:
    """Change any subset of name, type, configuration, enabled, isDefault and
    checkIntervalSeconds."""
    caller.require(Scope.CHANNELS_WRITE)
    changes = ChannelChanges(
        name=body.name,
        type=body.type,
        configuration=body.configuration,
        enabled=body.enabled,
        is_default=body.is_default,
        check_interval_seconds=body.check_interval_seconds,
    )
    view = await _service(state, session).update(caller.project_id, channel_id, changes)
    await session.commit()
    return _out(view)


@router.delete("/{channel_id:int}", response_model=DeletedOut)
async def delete_channel(
    channel_id: int,
    caller: CurrentPrincipal,
    state: StateDep,
    session: SessionDep,
) -> DeletedOut:
    """Delete a channel."""
    caller.require(Scope.CHANNELS_WRITE)
    await _service(state, session).delete(caller.project_id, channel_id)
    await session.commit()
    return DeletedOut(message=f"channel {channel_id} deleted")


@router.post("/{channel_id:int}/test", response_model=TestSendResponse)
async def send_test_message(
    channel_id: int,
    caller: CurrentPrincipal,
    state: StateDep,
    session: SessionDep,
    body: TestSendRequest | None = None,
) -> TestSendResponse:
    """Send a test message now: one attempt, no retry, recorded as a delivery.

    200 when the provider accepted it; 502 with the provider's reason (code
    ``EMAIL_ERROR``, ``TELEGRAM_ERROR``, …) when not. Both are worded in the project's
    language (seed 001: «Тестовое письмо успешно отправлено»).
    """
    caller.require(Scope.CHANNELS_TEST)
    view = await _service(state, session).get(caller.project_id, channel_id)
    request = body or TestSendRequest()
    result = await send_test(
        session,
        state.test_parts(),
        view=view,
        request=TestRequest(
            message=request.message,
            username=request.username,
            recipient=request.recipient,
            subject=request.subject,
        ),
        sender=state.senders[view.row.type],
        commit=session.commit,
        user_id=caller.user_id,
    )
    if result.failure is not None:
        raise result.failure
    return TestSendResponse(
        message=result.message,
        detail=result.detail,
        delivery_id=result.delivery_id,
        duration_ms=round(result.duration_ms, 3),
    )


@router.get("/{channel_id:int}/status")
async def channel_status(
    channel_id: int, caller: CurrentPrincipal, state: StateDep, session: SessionDep
) -> dict[str, object]:
    """Health: last use, success rate, failures, last error, last 24 h / 7 d counts."""
    caller.require(Scope.CHANNELS_READ)
    await _service(state, session).get(caller.project_id, channel_id)
    return await channel_health(session, channel_id, now=state.clock.now())
