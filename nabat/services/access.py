"""Who is calling, in which project, and what they may do there."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from nabat.errors import Forbidden
from nabat.models.account import Role
from nabat.sentences import Sentence


class Scope(StrEnum):
    """A right within one project. Roles grant sets of them; API keys carry a chosen set."""

    CHANNELS_READ = "channels:read"
    CHANNELS_WRITE = "channels:write"
    CHANNELS_TEST = "channels:test"
    NOTIFICATIONS_SEND = "notifications:send"
    EVENTS_WRITE = "events:write"
    DELIVERIES_READ = "deliveries:read"
    EVENTS_READ = "events:read"
    ROUTING_READ = "routing:read"
    ROUTING_WRITE = "routing:write"
    SILENCES_WRITE = "silences:write"
    APIKEYS_MANAGE = "apikeys:manage"
    MEMBERS_MANAGE = "members:manage"


_VIEWER = frozenset(
    {Scope.CHANNELS_READ, Scope.DELIVERIES_READ, Scope.EVENTS_READ, Scope.ROUTING_READ}
)
_MEMBER = _VIEWER | {
    Scope.CHANNELS_TEST,
    Scope.NOTIFICATIONS_SEND,
    Scope.EVENTS_WRITE,
    Scope.SILENCES_WRITE,
}
_ADMIN = _MEMBER | {
    Scope.CHANNELS_WRITE,
    Scope.APIKEYS_MANAGE,
    Scope.MEMBERS_MANAGE,
    Scope.ROUTING_WRITE,
}

ROLE_SCOPES: dict[Role, frozenset[Scope]] = {
    Role.VIEWER: _VIEWER,
    Role.MEMBER: _MEMBER,
    Role.ADMIN: _ADMIN,
    Role.OWNER: _ADMIN,
}

DEFAULT_API_KEY_SCOPES = (Scope.CHANNELS_READ, Scope.NOTIFICATIONS_SEND, Scope.EVENTS_WRITE)


@dataclass(frozen=True)
class Principal:
    """The authenticated caller as seen inside one project.

    An instance administrator (``is_superuser``) is owner in every project, whatever its
    membership rows say; an API key has no user and no role, only its scopes.
    """

    project_id: int
    scopes: frozenset[Scope]
    user_id: int | None = None
    role: Role | None = None
    api_key_id: int | None = None
    is_superuser: bool = False

    def require(self, scope: Scope) -> None:
        """Raise :class:`Forbidden` unless the caller holds ``scope``."""
        if scope in self.scopes:
            return
        if self.api_key_id is not None:
            raise Forbidden(
                Sentence(
                    "this API key lacks the scope {scope!r}; "
                    "create a key with that scope to do this",
                    scope=scope.value,
                )
            )
        role = self.role.value if self.role else "none"
        raise Forbidden(
            Sentence(
                "your role in this project ({role}) does not allow {scope!r}; "
                "ask a project admin for a higher role",
                role=role,
                scope=scope.value,
            )
        )
