"""Users, projects and API keys; members and invitations (``api/members.py``,
``api/invitations.py``) are served under the same prefix."""

from __future__ import annotations

from fastapi import APIRouter

from nabat.api import invitations, members
from nabat.api.deps import CurrentPrincipal, CurrentUser, SessionDep, StateDep
from nabat.errors import Forbidden
from nabat.models.account import ApiKey, Role, User
from nabat.schemas.auth import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyOut,
    ProjectCreate,
    ProjectOut,
    UserCreate,
    UserOut,
)
from nabat.schemas.channels import DeletedOut
from nabat.services import accounts, apikeys
from nabat.services.access import DEFAULT_API_KEY_SCOPES, Scope
from nabat.services.inapp_channels import add_inapp_channels

router = APIRouter(prefix="/api/v1", tags=["admin"])
# Members and invitations have modules of their own, served under this router's prefix.
router.include_router(members.router)
router.include_router(invitations.router)


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
    await add_inapp_channels(session, state.box, state.clock, [project.id])
    await session.commit()
    return ProjectOut(id=project.id, slug=project.slug, name=project.name, role="owner")


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


@router.delete("/api-keys/{key_id:int}", response_model=DeletedOut)
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
