"""Dependency aliases for routes: the app state, a session, the caller."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from nabat.errors import ErrorCode, NotFound, Unauthorized
from nabat.models.account import Role, User
from nabat.security.tokens import read_token
from nabat.services import accounts
from nabat.services.access import ROLE_SCOPES, Principal
from nabat.services.apikeys import resolve_api_key
from nabat.state import AppState


async def get_state(request: Request) -> AppState:
    """The running app's state.

    Async on purpose: FastAPI runs a plain ``def`` dependency in a worker thread, a
    costly hop for every request.
    """
    state: AppState = request.app.state.nabat
    return state


StateDep = Annotated[AppState, Depends(get_state)]


async def get_session(state: StateDep) -> AsyncIterator[AsyncSession]:
    """A database session for the length of one request."""
    async with state.sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


# Declared so that the OpenAPI document says how to authenticate; the check is ours, for
# the error's wording.
_BEARER = HTTPBearer(
    auto_error=False,
    description="A login token from POST /api/auth/login, or a project API key.",
)

BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)]


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(
            "authentication required: send 'Authorization: Bearer <token>' with a token "
            "from POST /api/auth/login or a project API key",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return token.strip()


async def _user(session: AsyncSession, state: AppState, token: str) -> tuple[User, float]:
    """The active user behind a login token, and how many seconds the token has left."""
    claims = read_token(state.keys.jwt_key, token)
    user = await session.get(User, claims.user_id) if claims is not None else None
    if claims is None or user is None or not user.is_active:
        raise Unauthorized(
            "the token is invalid or expired; log in again with POST /api/auth/login",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return user, claims.expires_at - state.clock.now().timestamp()


async def get_current_user(
    request: Request, state: StateDep, session: SessionDep, _credentials: BearerDep
) -> User:
    """The logged-in user behind a JWT (API keys are not users)."""
    user, _ = await _user(session, state, _bearer(request))
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


async def _resolve(
    session: AsyncSession, state: AppState, token: str, x_project: str | None
) -> tuple[Principal, float | None]:
    """The caller inside the project asked for, and for how long that answer may be
    reused (None: the cache's own limit)."""
    key_principal = await resolve_api_key(session, state.clock, token)
    if key_principal is not None:
        if x_project is not None:
            project = await accounts.get_project(session, x_project)
            if project.id != key_principal.project_id:
                raise NotFound(f"project {x_project!r} not found", code=ErrorCode.PROJECT_NOT_FOUND)
        return key_principal, None
    user, left = await _user(session, state, token)
    memberships = await accounts.memberships_of(session, user.id)
    if x_project is None:
        if memberships:
            project, role = memberships[0]
            return _user_principal(user, project.id, role), left
        raise NotFound(
            "you are not a member of any project; ask an administrator to add you",
            code=ErrorCode.PROJECT_NOT_FOUND,
        )
    for project, role in memberships:
        if x_project in (str(project.id), project.slug):
            return _user_principal(user, project.id, role), left
    if user.is_superuser:
        project = await accounts.get_project(session, x_project)
        return _user_principal(user, project.id, Role.OWNER), left
    raise NotFound(f"project {x_project!r} not found", code=ErrorCode.PROJECT_NOT_FOUND)


def _user_principal(user: User, project_id: int, role: Role) -> Principal:
    # An instance administrator is owner everywhere: a membership row that says less (a
    # demotion by someone else) must never lock them out of repairing the project.
    if user.is_superuser:
        role = Role.OWNER
    return Principal(
        project_id=project_id,
        scopes=ROLE_SCOPES[role],
        user_id=user.id,
        role=role,
        is_superuser=user.is_superuser,
    )


async def caller_of(state: AppState, token: str, x_project: str | None) -> Principal:
    """The caller a bearer token stands for in the project asked for.

    Answered from the principal cache when it was resolved in the last few seconds (no
    database round trip on the hot path); otherwise resolved once for all concurrent
    requests with the same credentials, in a session of its own that is closed before this
    returns, so a request never holds a pooled connection while it waits for something
    else that needs one.
    """

    async def load() -> tuple[Principal, float | None]:
        async with state.sessions() as session:
            found = await _resolve(session, state, token, x_project)
            await session.commit()  # the key's last use, when it was marked
        return found

    return await state.principals.resolve(token, x_project, load)


async def get_principal(
    request: Request,
    state: StateDep,
    _credentials: BearerDep,
    x_project: Annotated[
        str | None,
        Header(
            alias="X-Nabat-Project",
            description="Project id or slug; defaults to your first project.",
        ),
    ] = None,
) -> Principal:
    """The caller inside the project the request is about.

    An API key belongs to one project; a user picks one with ``X-Nabat-Project`` or gets
    their first. A project the caller is not in answers exactly like a missing one.
    """
    return await caller_of(state, _bearer(request), x_project)


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
