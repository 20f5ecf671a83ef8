"""Projects, users, memberships and the first administrator."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from functools import partial

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from nabat.clock import Clock
from nabat.db.ids import as_id
from nabat.db.unit import after_commit
from nabat.errors import Conflict, ErrorCode, NotFound, ValidationFailed
from nabat.models.account import Membership, Project, Role, User
from nabat.security.passwords import MIN_PASSWORD_LENGTH, hash_password
from nabat.sentences import Sentence
from nabat.services.routing_cache import CONTEXTS

_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,99}$")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")

DEFAULT_PROJECT_SLUG = "default"


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(
        Sentence("{field}: {message}", field=field, message=message),
        details=[{"field": field, "message": message}],
    )


def check_password_strength(password: str) -> None:
    """Refuse passwords too short to resist guessing."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise _invalid(
            "password",
            Sentence("must be at least {least} characters long", least=MIN_PASSWORD_LENGTH),
        )


async def create_user(
    session: AsyncSession,
    clock: Clock,
    *,
    username: str,
    email: str,
    password: str | None,
    display_name: str = "",
    is_superuser: bool = False,
) -> User:
    """Create a user; a taken username or e-mail is a :class:`Conflict`."""
    username = username.strip()
    email = email.strip().lower()
    if not _USERNAME.match(username):
        raise _invalid(
            "username",
            "must be 2-100 characters: letters, digits and . _ @ - (starting with a letter "
            "or digit)",
        )
    if not _EMAIL.match(email) or len(email) > 320:
        raise _invalid("email", "must be an e-mail address like name@example.com")
    if password is not None:
        check_password_strength(password)
    taken = await session.scalar(
        select(User.id).where(
            (func.lower(User.username) == username.lower()) | (User.email == email)
        )
    )
    if taken is not None:
        raise Conflict("a user with this username or e-mail already exists")
    user = User(
        username=username,
        email=email,
        display_name=display_name or username,
        password_hash=hash_password(password) if password is not None else None,
        is_active=True,
        is_superuser=is_superuser,
        created_at=clock.now(),
    )
    session.add(user)
    await session.flush()
    return user


async def create_project(
    session: AsyncSession, clock: Clock, *, name: str, slug: str | None = None
) -> Project:
    """Create a project; its slug defaults to one made from the name."""
    name = name.strip()
    if not name or len(name) > 200:
        raise _invalid("name", "must be 1-200 characters")
    slug = slug or re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:64] or "project"
    if not _SLUG.match(slug):
        raise _invalid("slug", "must be lowercase letters, digits and hyphens (max 64)")
    if await session.scalar(select(Project.id).where(Project.slug == slug)) is not None:
        raise Conflict(
            Sentence("a project with slug {slug!r} already exists; choose another slug", slug=slug)
        )
    project = Project(name=name, slug=slug, created_at=clock.now())
    session.add(project)
    await session.flush()
    return project


async def set_membership(
    session: AsyncSession, *, project_id: int, user_id: int, role: Role
) -> Membership:
    """Give ``user_id`` the ``role`` in a project, replacing any earlier role.

    Who may do this is decided by the caller (:mod:`nabat.services.members` for the API);
    routing knows the member as a recipient once the caller's commit succeeded.
    """
    membership = await session.scalar(
        select(Membership).where(Membership.project_id == project_id, Membership.user_id == user_id)
    )
    if membership is None:
        membership = Membership(project_id=project_id, user_id=user_id, role=role.value)
        session.add(membership)
    else:
        membership.role = role.value
    await session.flush()
    _members_changed(session, project_id)
    return membership


async def remove_membership(session: AsyncSession, membership: Membership) -> None:
    """Take a member out of their project; routing forgets them after the commit."""
    await session.delete(membership)
    await session.flush()
    _members_changed(session, membership.project_id)


def _members_changed(session: AsyncSession, project_id: int) -> None:
    # Routing caches the names the project's members go by (routing_context.member_refs).
    after_commit(session, partial(CONTEXTS.forget, session, project_id))


async def find_user(session: AsyncSession, login: str, *, by_id: bool = True) -> User | None:
    """Find a user by username or e-mail (case-insensitive), or by id when ``by_id``."""
    login = login.strip()
    user_id = as_id(login) if by_id else None
    if user_id is not None:
        found = await session.get(User, user_id)
        if found is not None:
            return found
    return await session.scalar(
        select(User).where(
            (func.lower(User.username) == login.lower()) | (User.email == login.lower())
        )
    )


async def memberships_of(session: AsyncSession, user_id: int) -> list[tuple[Project, Role]]:
    """The projects a user belongs to, with the role in each, oldest project first."""
    rows = await session.execute(
        select(Project, Membership.role)
        .join(Membership, Membership.project_id == Project.id)
        .where(Membership.user_id == user_id)
        .order_by(Project.id)
    )
    return [(project, Role(role)) for project, role in rows]


async def get_project(session: AsyncSession, ref: str) -> Project:
    """Find a project by id or slug."""
    project = None
    project_id = as_id(ref)
    if project_id is not None:
        project = await session.get(Project, project_id)
    if project is None:
        project = await session.scalar(select(Project).where(Project.slug == ref))
    if project is None:
        raise NotFound(
            Sentence("project {ref!r} not found", ref=ref), code=ErrorCode.PROJECT_NOT_FOUND
        )
    return project


@dataclass(frozen=True)
class FirstAdmin:
    """The administrator made on first start; ``generated_password`` is set only if made up."""

    user: User
    project: Project
    generated_password: str | None


async def ensure_first_admin(
    session: AsyncSession, clock: Clock, *, email: str | None, password: str | None
) -> FirstAdmin | None:
    """On an empty database, create the first admin and the default project.

    Returns ``None`` when users already exist: the settings only seed an empty
    installation and never overwrite a password changed later.
    """
    if await session.scalar(select(func.count()).select_from(User)):
        return None
    generated = None
    if not password:
        generated = password = secrets.token_urlsafe(15)
    email = email or "admin@localhost"
    user = await create_user(
        session,
        clock,
        username="admin",
        email=email,
        password=password,
        display_name="Administrator",
        is_superuser=True,
    )
    project = await create_project(
        session, clock, name="Default project", slug=DEFAULT_PROJECT_SLUG
    )
    await set_membership(session, project_id=project.id, user_id=user.id, role=Role.OWNER)
    return FirstAdmin(user=user, project=project, generated_password=generated)


async def list_users(session: AsyncSession) -> list[User]:
    """Every account of the instance, oldest first (for instance administrators)."""
    return list(await session.scalars(select(User).order_by(User.id)))
