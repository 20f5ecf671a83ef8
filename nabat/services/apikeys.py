"""Project API keys: minting, listing, revoking and resolving a presented key."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from nabat.clock import Clock
from nabat.db.ids import as_id
from nabat.errors import ErrorCode, NotFound, ValidationFailed
from nabat.models.account import ApiKey
from nabat.security.apikeys import (
    digests_match,
    mint_api_key,
    split_api_key,
)
from nabat.sentences import Sentence
from nabat.services.access import Principal, Scope

# Writing last_used_at on every request would turn each authenticated read into a write.
_LAST_USED_GRANULARITY = timedelta(minutes=1)


def parse_scopes(requested: list[str]) -> list[Scope]:
    """Turn scope names into scopes; an unknown name is a 422 listing the valid ones."""
    valid = {scope.value: scope for scope in Scope}
    unknown = [name for name in requested if name not in valid]
    if unknown:
        allowed = ", ".join(valid)
        raise ValidationFailed(
            Sentence(
                "unknown scope {scope!r}; valid scopes are: {allowed}",
                scope=unknown[0],
                allowed=allowed,
            ),
            details=[
                {"field": "scopes", "message": Sentence("unknown scope {scope!r}", scope=name)}
                for name in unknown
            ],
        )
    return sorted({valid[name] for name in requested}, key=list(Scope).index)


async def create_api_key(
    session: AsyncSession,
    clock: Clock,
    *,
    creator: Principal,
    name: str,
    scopes: list[Scope],
) -> tuple[ApiKey, str]:
    """Mint a key for the creator's project; returns the row and the one-time plaintext.

    A key never gets a right its creator lacks.
    """
    name = name.strip()
    if not name or len(name) > 200:
        raise ValidationFailed(
            "name: must be 1-200 characters",
            details=[{"field": "name", "message": "must be 1-200 characters"}],
        )
    beyond = [scope.value for scope in scopes if scope not in creator.scopes]
    if beyond:
        raise ValidationFailed(
            Sentence("you cannot grant scopes you do not hold: {scopes}", scopes=", ".join(beyond)),
            details=[
                {"field": "scopes", "message": Sentence("not yours to grant: {scope}", scope=s)}
                for s in beyond
            ],
        )
    minted = mint_api_key()
    key = ApiKey(
        project_id=creator.project_id,
        name=name,
        prefix=minted.prefix,
        digest=minted.digest,
        scopes=[scope.value for scope in scopes],
        created_by=creator.user_id,
        created_at=clock.now(),
    )
    session.add(key)
    await session.flush()
    return key, minted.plaintext


async def list_api_keys(session: AsyncSession, project_id: int) -> list[ApiKey]:
    """The project's keys, revoked ones included, newest first."""
    rows = await session.scalars(
        select(ApiKey).where(ApiKey.project_id == project_id).order_by(ApiKey.id.desc())
    )
    return list(rows)


async def revoke_api_key(session: AsyncSession, clock: Clock, project_id: int, key_id: int) -> None:
    """Revoke a key of the project; another project's key looks missing."""
    key = await session.get(ApiKey, key_id) if as_id(key_id) else None
    if key is None or key.project_id != project_id:
        raise NotFound(
            Sentence("API key {id} not found", id=key_id), code=ErrorCode.API_KEY_NOT_FOUND
        )
    if key.revoked_at is None:
        key.revoked_at = clock.now()
    await session.flush()


async def resolve_api_key(session: AsyncSession, clock: Clock, token: str) -> Principal | None:
    """Return the principal a presented key stands for, or ``None`` if it is not valid.

    May mark the key used (``last_used_at``); the caller commits.
    """
    prefix = split_api_key(token)
    if prefix is None:
        return None
    key = await session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if key is None or key.revoked_at is not None or not digests_match(token, key.digest):
        return None
    now = clock.now()
    if key.last_used_at is None or now - key.last_used_at > _LAST_USED_GRANULARITY:
        key.last_used_at = now
    return Principal(
        project_id=key.project_id,
        scopes=frozenset(Scope(s) for s in key.scopes if s in Scope._value2member_map_),
        api_key_id=key.id,
    )
