"""``GET /api/v1/inbox/stream``: the signed-in person's inbox, live (Server-Sent Events).

Signed in by a login token (``Authorization: Bearer``) or by the console's session
cookie, which holds the same token; an API key acts for no person and has no inbox. The
stream ends when the token expires (the browser reconnects and is asked to sign in
again) and when the server stops. What is sent is described in ``nabat.live.inbox``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse
from fastapi.security import APIKeyCookie

from nabat.api.deps import BearerDep, StateDep
from nabat.errors import Forbidden, TooManyRequests, Unauthorized
from nabat.live.inbox import inbox_stream
from nabat.live.sse import MEDIA_TYPE, event_stream
from nabat.models.account import User
from nabat.security.apikeys import split_api_key
from nabat.security.tokens import read_token
from nabat.web.session import SESSION_COOKIE

router = APIRouter(prefix="/api/v1/inbox", tags=["inbox"])

# Browsers open at most six connections per host over HTTP/1.1, a stream per tab; more
# than this many at once from one person is a runaway script, not tabs.
MAX_STREAMS_PER_USER = 32

# Declared so that the OpenAPI document names the cookie; the check is ours.
_COOKIE = APIKeyCookie(
    name=SESSION_COOKIE,
    scheme_name="ConsoleSession",
    auto_error=False,
    description="The console's session cookie (it holds a login token).",
)


@dataclass(frozen=True)
class StreamOwner:
    """Whose stream it is, and how many seconds their token has left."""

    user_id: int
    seconds_left: float


def _token(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.cookies.get(SESSION_COOKIE, "")


async def stream_owner(
    request: Request,
    state: StateDep,
    _bearer: BearerDep,
    _cookie: Annotated[str | None, Depends(_COOKIE)],
) -> StreamOwner:
    """The person signed in by the bearer token or the session cookie; the user row is
    read in a session of its own, closed before the stream begins to wait."""
    token = _token(request)
    if not token:
        raise Unauthorized(
            "authentication required: send 'Authorization: Bearer <token>' with a token "
            "from POST /api/auth/login, or sign in to the console",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if split_api_key(token) is not None:
        raise Forbidden(
            "an API key acts for a project, not for a person, so it has no inbox; use a "
            "login token from POST /api/auth/login"
        )
    claims = read_token(state.keys.jwt_key, token)
    active = False
    if claims is not None:
        async with state.sessions() as session:
            user = await session.get(User, claims.user_id)
            active = user is not None and user.is_active
    if claims is None or not active:
        raise Unauthorized(
            "the token is invalid or expired; log in again with POST /api/auth/login",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return StreamOwner(claims.user_id, claims.expires_at - state.clock.now().timestamp())


def _change_id(text: str | None) -> int | None:
    """An event id this stream sent (a change id), or None for anything else."""
    if text is None:
        return None
    text = text.strip()
    if not (text.isascii() and text.isdecimal()) or len(text) > 18:
        return None
    return int(text)


@router.get(
    "/stream",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {MEDIA_TYPE: {}},
            "description": "Server-Sent Events: item, seen, read, unread, archived, "
            "unarchived, deleted, read_all, count; each with its change id.",
        }
    },
)
async def stream_inbox(
    owner: Annotated[StreamOwner, Depends(stream_owner)],
    state: StateDep,
    last_event_id: Annotated[
        str | None,
        Header(
            alias="Last-Event-ID",
            description="Resume after this event id (browsers send it when they reconnect).",
        ),
    ] = None,
    last_event_id_query: Annotated[
        str | None,
        Query(
            alias="lastEventId",
            max_length=20,
            description="The same, for a new EventSource that resumes where an old one was.",
        ),
    ] = None,
) -> StreamingResponse:
    """Your inbox as it changes: new items, read state, the unread count, live."""
    if state.hub.streams_of(owner.user_id) >= MAX_STREAMS_PER_USER:
        raise TooManyRequests(
            f"you have {MAX_STREAMS_PER_USER} inbox streams open already; close some tabs",
            headers={"Retry-After": "30"},
        )
    resume = _change_id(last_event_id)
    if resume is None:
        resume = _change_id(last_event_id_query)
    return event_stream(
        inbox_stream(
            state.hub,
            state.sessions,
            state.clock,
            owner.user_id,
            resume_after=resume,
            lifetime_seconds=max(owner.seconds_left, 0.0),
        )
    )
