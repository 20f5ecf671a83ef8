"""``/api/auth``: PingTower-compatible login, registration and profile."""

from __future__ import annotations

import math
from collections.abc import Sequence

from fastapi import APIRouter, Request

from nabat.api.deps import CurrentUser, SessionDep, StateDep
from nabat.errors import ErrorCode, Forbidden, TooManyRequests, Unauthorized
from nabat.models.account import Role, User
from nabat.schemas.auth import (
    LoginRequest,
    LoginResponse,
    ProfileOut,
    ProjectOut,
    RegisterRequest,
)
from nabat.security.tokens import issue_token
from nabat.services import accounts
from nabat.state import AppState

router = APIRouter(prefix="/api/auth", tags=["auth"])


def _roles(user: User, memberships: Sequence[tuple[object, Role]]) -> list[str]:
    roles = {role.value.upper() for _, role in memberships}
    if user.is_superuser:
        roles.add("SUPERUSER")
    return sorted(roles)


def _check_limits(state: AppState, user_key: str, address_key: str) -> None:
    wait = max(
        state.login_by_user.retry_after(user_key), state.login_by_address.retry_after(address_key)
    )
    if wait > 0:
        seconds = max(1, math.ceil(wait))
        raise TooManyRequests(
            f"too many login attempts; try again in {seconds} s",
            headers={"Retry-After": str(seconds)},
        )


@router.post("/login", response_model=LoginResponse)
async def login(
    body: LoginRequest, request: Request, state: StateDep, session: SessionDep
) -> LoginResponse:
    """Exchange a username (or e-mail) and password for a bearer token.

    At most ``NABAT_LOGIN_ATTEMPTS_PER_MINUTE`` failed attempts per user and per client
    address; after that the answer is 429 with ``Retry-After``.
    """
    user_key = body.login.lower()
    address_key = request.client.host if request.client else "unknown"
    _check_limits(state, user_key, address_key)
    user = await accounts.authenticate(session, body.login, body.password)
    if user is None:
        state.login_by_user.hit(user_key)
        state.login_by_address.hit(address_key)
        raise Unauthorized("wrong username or password", code=ErrorCode.INVALID_CREDENTIALS)
    memberships = await accounts.memberships_of(session, user.id)
    token = issue_token(
        state.keys.jwt_key, user.id, state.clock.now(), state.settings.jwt_ttl_seconds
    )
    return LoginResponse(
        token=token,
        id=user.id,
        username=user.username,
        email=user.email,
        roles=_roles(user, memberships),
    )


@router.post("/register", status_code=201, response_model=LoginResponse)
async def register(body: RegisterRequest, state: StateDep, session: SessionDep) -> LoginResponse:
    """Create an account with a project of its own, when registration is switched on."""
    if not state.settings.registration_enabled:
        raise Forbidden(
            "registration is switched off; ask an administrator for an account "
            "(or set NABAT_REGISTRATION_ENABLED=true)",
            code=ErrorCode.REGISTRATION_DISABLED,
        )
    user = await accounts.create_user(
        session,
        state.clock,
        username=body.username,
        email=body.email,
        password=body.password,
        display_name=body.display_name,
    )
    project = await accounts.create_project(
        session, state.clock, name=f"{user.username}'s project", slug=f"u-{user.id}"
    )
    await accounts.set_membership(session, project_id=project.id, user_id=user.id, role=Role.OWNER)
    await session.commit()
    token = issue_token(
        state.keys.jwt_key, user.id, state.clock.now(), state.settings.jwt_ttl_seconds
    )
    return LoginResponse(
        token=token, id=user.id, username=user.username, email=user.email, roles=["OWNER"]
    )


@router.get("/profile", response_model=ProfileOut)
async def profile(user: CurrentUser, session: SessionDep) -> ProfileOut:
    """The logged-in user and the projects they belong to."""
    memberships = await accounts.memberships_of(session, user.id)
    return ProfileOut(
        id=user.id,
        username=user.username,
        email=user.email,
        display_name=user.display_name,
        roles=_roles(user, memberships),
        is_superuser=user.is_superuser,
        projects=[
            ProjectOut(id=p.id, slug=p.slug, name=p.name, role=role.value)
            for p, role in memberships
        ],
    )
