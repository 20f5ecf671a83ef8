"""Login, registration, profile, users, projects and API keys."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, model_validator

from nabat.schemas.base import ApiModel, StrictApiModel


class LoginRequest(ApiModel):
    """PingTower's login: ``username`` may also hold the e-mail address."""

    username: str | None = Field(default=None, max_length=320)
    email: str | None = Field(default=None, max_length=320)
    password: str = Field(max_length=1024)

    @model_validator(mode="after")
    def _one_login(self) -> LoginRequest:
        if not (self.username or self.email):
            raise ValueError("give username (or email) and password")
        return self

    @property
    def login(self) -> str:
        """The name or address to look the user up by."""
        return (self.username or self.email or "").strip()


class LoginResponse(ApiModel):
    """The token and who it belongs to."""

    token: str
    type: str = "Bearer"
    id: int
    username: str
    email: str
    roles: list[str]


class RegisterRequest(StrictApiModel):
    """Self-registration, when switched on."""

    username: str = Field(max_length=100)
    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)
    display_name: str = Field(default="", max_length=200)


class ProjectOut(ApiModel):
    """A project with the caller's role in it."""

    id: int
    slug: str
    name: str
    role: str | None = None


class ProfileOut(ApiModel):
    """``GET /api/auth/profile``."""

    id: int
    username: str
    email: str
    display_name: str
    roles: list[str]
    is_superuser: bool
    projects: list[ProjectOut]


class UserCreate(StrictApiModel):
    """A user made by an instance administrator."""

    username: str = Field(max_length=100)
    email: str = Field(max_length=320)
    password: str | None = Field(default=None, max_length=1024)
    display_name: str = Field(default="", max_length=200)
    is_superuser: bool = False


class UserOut(ApiModel):
    """A user, without anything secret."""

    id: int
    username: str
    email: str
    display_name: str
    is_active: bool
    is_superuser: bool


class ProjectCreate(StrictApiModel):
    """A new project."""

    name: str = Field(max_length=200)
    slug: str | None = Field(default=None, max_length=64)


class MemberSet(StrictApiModel):
    """Give a user (by id, username or e-mail) a role in a project."""

    user: str = Field(max_length=320)
    role: str


class MemberOut(ApiModel):
    """A project member."""

    user_id: int
    username: str
    email: str
    role: str


class ApiKeyCreate(StrictApiModel):
    """A new API key; scopes default to sending and reading channels."""

    name: str = Field(max_length=200)
    scopes: list[str] | None = None


class ApiKeyOut(ApiModel):
    """A key as listed: never the key itself."""

    id: int
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    """A freshly created key: ``key`` is shown this once and cannot be read again."""

    key: str
