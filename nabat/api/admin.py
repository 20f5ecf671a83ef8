"""Users, projects, memberships and API keys."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from nabat.api.deps import CurrentPrincipal, CurrentUser, SessionDep, StateDep
from nabat.errors import ErrorCode, Forbidden, NotFound, ValidationFailed
from nabat.models.account import ApiKey, Membership, Role, User
from nabat.schemas.auth import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyOut,
    MemberOut,
    MemberSet,
    ProjectCreate,
    ProjectOut,
    UserCreate,
    UserOut,
)
from nabat.schemas.channels import DeletedOut
from nabat.services import accounts, apikeys
from nabat.services.access import DEFAULT_API_KEY_SCOPES, Scope
from nabat.services.routing_cache import CONTEXTS

router = APIRouter(prefix="/api/v1", tags=["admin"])


def _require_superuser(user: User) -> None:
    if not user.is_superuser:
        raise Forbidden("only an instance administrator may do this")


def _user_out(user: User) -> UserOut:
    return UserOut(
        id=user.id,
        username=user.username,
        email=user.email,
        display_name=user.display_name,
        is_active=user.is_active,
        is_superuser=user.is_superuser,
    )


@router.post("/users", status_code=201, response_model=UserOut)
async def create_user(
    body: UserCreate, user: CurrentUser, state: StateDep, session: SessionDep
) -> UserOut:
    """Create a user (instance administrators only)."""
    _require_superuser(user)
    created = await accounts.create_user(
        session,
        state.clock,
        username=body.username,
        email=body.email,
        password=body.password,
        display_name=body.display_name,
        is_superuser=body.is_superuser,
    )
    await session.commit()
    return _user_out(created)


@router.get("/projects", response_model=list[ProjectOut])
async def list_projects(user: CurrentUser, session: SessionDep) -> list[ProjectOut]:
    """The projects the caller belongs to."""
    return [
        ProjectOut(id=p.id, slug=p.slug, name=p.name, role=role.value)
        for p, role in await accounts.memberships_of(session, user.id)
    ]


@router.post("/projects", status_code=201, response_model=ProjectOut)
async def create_project(
    body: ProjectCreate, user: CurrentUser, state: StateDep, session: SessionDep
) -> ProjectOut:
    """Create a project owned by the caller (instance administrators only)."""
    _require_superuser(user)
    project = await accounts.create_project(session, state.clock, name=body.name, slug=body.slug)
    await accounts.set_membership(session, project_id=project.id, user_id=user.id, role=Role.OWNER)
    await session.commit()
    return ProjectOut(id=project.id, slug=project.slug, name=project.name, role="owner")


@router.get("/members", response_model=list[MemberOut])
async def list_members(caller: CurrentPrincipal, session: SessionDep) -> list[MemberOut]:
    """The members of the caller's project."""
    caller.require(Scope.CHANNELS_READ)
    rows = await session.execute(
        select(User, Membership.role)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.project_id == caller.project_id)
        .order_by(User.id)
    )
    return [
        MemberOut(user_id=u.id, username=u.username, email=u.email, role=role) for u, role in rows
    ]


def _parse_role(value: str) -> Role:
    try:
        return Role(value.lower())
    except ValueError:
        raise ValidationFailed(
            "role: must be one of owner, admin, member, viewer",
            details=[{"field": "role", "message": "must be one of owner, admin, member, viewer"}],
        ) from None


@router.put("/members", response_model=MemberOut)
async def set_member(
    body: MemberSet, caller: CurrentPrincipal, state: StateDep, session: SessionDep
) -> MemberOut:
    """Add a user to the caller's project or change their role; only owners make owners."""
    caller.require(Scope.MEMBERS_MANAGE)
    role = _parse_role(body.role)
    if role is Role.OWNER and caller.role is not Role.OWNER:
        raise Forbidden("only a project owner may make another owner")
    target = await accounts.find_user(session, body.user)
    if target is None:
        raise NotFound(f"user {body.user!r} not found", code=ErrorCode.USER_NOT_FOUND)
    await accounts.set_membership(
        session, project_id=caller.project_id, user_id=target.id, role=role
    )
    await session.commit()
    # The member's new role applies to their next request through this process, and
    # routing knows them as a recipient from the next event.
    state.principals.clear()
    CONTEXTS.forget(session, caller.project_id)
    return MemberOut(
        user_id=target.id, username=target.username, email=target.email, role=role.value
    )


def _key_out(key: ApiKey) -> ApiKeyOut:
    return ApiKeyOut(
        id=key.id,
        name=key.name,
        prefix=key.prefix,
        scopes=key.scopes,
        created_at=key.created_at,
        last_used_at=key.last_used_at,
        revoked_at=key.revoked_at,
    )


@router.get("/api-keys", response_model=list[ApiKeyOut])
async def list_keys(caller: CurrentPrincipal, session: SessionDep) -> list[ApiKeyOut]:
    """The project's API keys (never the keys themselves)."""
    caller.require(Scope.APIKEYS_MANAGE)
    return [_key_out(key) for key in await apikeys.list_api_keys(session, caller.project_id)]


@router.post("/api-keys", status_code=201, response_model=ApiKeyCreated)
async def create_key(
    body: ApiKeyCreate, caller: CurrentPrincipal, state: StateDep, session: SessionDep
) -> ApiKeyCreated:
    """Create an API key; the answer is the only time the key is shown."""
    caller.require(Scope.APIKEYS_MANAGE)
    scopes = (
        apikeys.parse_scopes(body.scopes) if body.scopes is not None else DEFAULT_API_KEY_SCOPES
    )
    key, plaintext = await apikeys.create_api_key(
        session, state.clock, creator=caller, name=body.name, scopes=list(scopes)
    )
    await session.commit()
    return ApiKeyCreated(**_key_out(key).model_dump(), key=plaintext)


@router.delete("/api-keys/{key_id}", response_model=DeletedOut)
async def revoke_key(
    key_id: int, caller: CurrentPrincipal, state: StateDep, session: SessionDep
) -> DeletedOut:
    """Revoke an API key at once."""
    caller.require(Scope.APIKEYS_MANAGE)
    await apikeys.revoke_api_key(session, state.clock, caller.project_id, key_id)
    await session.commit()
    # After the commit: a request verifying the key meanwhile must not cache it again.
    state.principals.clear()
    return DeletedOut(message=f"API key {key_id} revoked")
