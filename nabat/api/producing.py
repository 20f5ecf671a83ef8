"""The one way in for producers' HTTP requests: every producer route (send API, events,
receivers) hands its items to the accept use-case here, with one idempotency rule and
one answer shape."""

from __future__ import annotations

from collections.abc import Sequence

import orjson
from fastapi import Request
from fastapi.responses import Response

from nabat.services.accept import Idempotency, Shape
from nabat.services.access import Principal, Scope
from nabat.services.event_input import EventInput
from nabat.state import AppState


async def accept(
    request: Request,
    items: Sequence[EventInput],
    *,
    caller: Principal,
    state: AppState,
    scope: Scope,
    shape: Shape,
    status_code: int,
    deferred: bool = False,
) -> Response:
    """Store ``items`` durably for the caller's project and answer with ``shape``'s body
    (or, for a repeated ``Idempotency-Key``, the first answer with
    ``Idempotent-Replayed: true``). ``deferred``: the batch endpoints and receivers,
    whose items are routed right after the answer."""
    caller.require(scope)
    header = request.headers.get("idempotency-key")
    idempotency = Idempotency.of(header, await request.body()) if header is not None else None
    answer = await state.acceptor.accept(
        caller.project_id, items, shape=shape, deferred=deferred, idempotency=idempotency
    )
    return Response(
        orjson.dumps(answer.body),
        status_code=status_code,
        media_type="application/json",
        headers={"Idempotent-Replayed": "true"} if answer.replayed else None,
    )
