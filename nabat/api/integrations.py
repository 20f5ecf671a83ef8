"""``/api/v1/integrations``: receivers for Alertmanager and Grafana webhooks, and
Grafana's signature settings.

The senders retry 5xx and give up on 4xx, so: a malformed payload is a 4xx naming the
problem, and a storage failure or overload surfaces as a 5xx (never swallowed; overload
as 503 with ``Retry-After``); a 2xx means every alert is stored as an event, routed
right after the answer like every batch.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from nabat.api.deps import CurrentPrincipal, SessionDep, StateDep
from nabat.api.events import batch
from nabat.api.producing import accept
from nabat.channels.base import MASK
from nabat.errors import ErrorCode, NabatError
from nabat.integrations import alertmanager, grafana
from nabat.integrations.signature import verify
from nabat.schemas.integrations import (
    AlertsAccepted,
    SignatureSettingsOut,
    SignatureSettingsUpdate,
)
from nabat.services import integration_settings as settings
from nabat.services.access import Principal, Scope
from nabat.services.event_input import EventInput
from nabat.services.integration_settings import (
    GRAFANA,
    SignatureChanges,
    SignatureSettings,
)
from nabat.state import AppState

router = APIRouter(prefix="/api/v1/integrations", tags=["integrations"])

ACCEPTED: dict[int | str, dict[str, Any]] = {
    202: {"model": AlertsAccepted, "description": "Every alert stored as an event."}
}


def _not_json(name: str) -> Any:
    # Python's json reads NaN and Infinity; JSON has no such numbers, and PostgreSQL's
    # JSON columns refuse them at commit, where they would become a 5xx retried forever.
    raise ValueError(f"{name} is not a JSON number")


def parse_json(body: bytes) -> Any:
    """The request body as JSON; raises a 400 ``MALFORMED_JSON`` saying why not."""
    try:
        parsed = json.loads(body, parse_constant=_not_json)
    except RecursionError:
        reason = "nested too deeply"
    except ValueError as exc:  # JSONDecodeError, or bytes that are not UTF-8
        reason = "empty body" if not body.strip() else str(exc)
    else:
        return parsed
    raise NabatError(
        f"the request body is not valid JSON ({reason}); send the tool's webhook payload",
        code=ErrorCode.MALFORMED_JSON,
    )


@router.post("/alertmanager", status_code=202, responses=ACCEPTED)
async def alertmanager_webhook(
    request: Request, caller: CurrentPrincipal, state: StateDep
) -> Response:
    """Alertmanager's webhook (payload version 4): one event per alert.

    Point a ``webhook_config`` here with the project API key as its bearer token.
    """
    caller.require(Scope.EVENTS_WRITE)
    items = alertmanager.events_from(parse_json(await request.body()))
    return await _accept(request, items, caller, state)


async def _accept(
    request: Request, items: list[EventInput], caller: Principal, state: AppState
) -> Response:
    now = state.clock.now()
    return await accept(
        request,
        items,
        caller=caller,
        state=state,
        scope=Scope.EVENTS_WRITE,
        shape=lambda accepted: batch(accepted, now),
        status_code=202,
        deferred=True,
    )


# Grafana's contact point sends POST or PUT, as configured: two routes, two operations.
@router.post("/grafana", status_code=202, responses=ACCEPTED)
@router.put("/grafana", status_code=202, responses=ACCEPTED)
async def grafana_webhook(request: Request, caller: CurrentPrincipal, state: StateDep) -> Response:
    """Grafana's webhook contact point (POST or PUT, payload version 1): one event per
    alert. With a secret set in the settings, the request must carry its HMAC signature.
    """
    caller.require(Scope.EVENTS_WRITE)
    body = await request.body()
    # A session of its own, closed before the wait for the shared commit.
    async with state.sessions() as session:
        check = await settings.signature_check(session, state.box, caller.project_id, GRAFANA)
    if check is not None:
        verify(check, request.headers, body, state.clock.now())
    items = grafana.events_from(parse_json(body))
    return await _accept(request, items, caller, state)


def _out(view: SignatureSettings) -> SignatureSettingsOut:
    return SignatureSettingsOut(
        secret=MASK if view.secret_set else None,
        signature_header=view.signature_header,
        timestamp_header=view.timestamp_header,
    )


@router.get("/grafana/settings", response_model=SignatureSettingsOut)
async def get_grafana_settings(
    caller: CurrentPrincipal, session: SessionDep
) -> SignatureSettingsOut:
    """Grafana's signature check: whether a secret is set, and the header names."""
    caller.require(Scope.ROUTING_READ)
    return _out(await settings.settings_of(session, caller.project_id, GRAFANA))


@router.put("/grafana/settings", response_model=SignatureSettingsOut)
async def update_grafana_settings(
    body: SignatureSettingsUpdate, caller: CurrentPrincipal, state: StateDep, session: SessionDep
) -> SignatureSettingsOut:
    """Set the keys given. A secret turns the signature check on, ``null`` turns it off."""
    caller.require(Scope.ROUTING_WRITE)
    given: dict[str, Any] = {name: getattr(body, name) for name in body.model_fields_set}
    if body.secret is not None:
        given["secret"] = body.secret.get_secret_value()
    updated = await settings.update_settings(
        session, state.box, state.clock, caller.project_id, GRAFANA, SignatureChanges(**given)
    )
    await session.commit()
    return _out(updated)
