"""``/api/auth``: PingTower-compatible login, registration and profile."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, Request

from nabat.api.deps import CurrentUser, SessionDep, StateDep
from nabat.errors import ErrorCode, Forbidden
from nabat.models.account import Role, User
from nabat.schemas.auth import (
    LoginRequest,
    LoginResponse,
    ProfileOut,
    ProjectOut,
    RegisterRequest,
)
from nabat.security.clients import client_address
from nabat.security.tokens import issue_token
from nabat.services import accounts
from nabat.services.inapp_channels import add_inapp_channels
from nabat.services.login import log_in

router = APIRouter(prefix="/api/auth", tags=["auth"])


def _roles(user: User, memberships: Sequence[tuple[object, Role]]) -> list[str]:
    roles = {role.value.upper() for _, role in memberships}
    if user.is_superuser:
        roles.add("SUPERUSER")
    return sorted(roles)


@router.post("/login", response_model=LoginResponse)
async def login(
    body: LoginRequest, request: Request, state: StateDep, session: SessionDep
) -> LoginResponse:
    """Exchange a username (or e-mail) and password for a bearer token.

    At most ``NABAT_LOGIN_ATTEMPTS_PER_MINUTE`` failed attempts per account (by any of
    its names) and per client address (``X-Forwarded-For`` believed only from
    ``NABAT_TRUSTED_PROXIES``); after that the answer is 429 with ``Retry-After``.
    """
    address = client_address(
        request.client.host if request.client else None,
        request.headers.getlist("x-forwarded-for"),
        state.settings.trusted_proxies,
    )
    user = await log_in(
        session,
        login=body.login,
        password=body.password,
        address=address,
        by_account=state.login_by_user,
        by_address=state.login_by_address,
    )
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
    await add_inapp_channels(session, state.box, state.clock, [project.id])
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
