"""Who belongs to a project and with which role: the rules for changing that.

- An instance administrator is owner in every project, whatever its membership rows say;
  only owners (and instance administrators) make owners or change or remove an owner.
- An admin, or an API key with ``members:manage`` (keys act as admin, never as owner),
  manages admins, members and viewers.
- A project keeps at least one owner among its members.
- Nobody joins without consent: a user who is not a member yet is invited
  (:mod:`nabat.services.invitations`); only an instance administrator adds one directly.

The caller commits; routing forgets the project's members after that commit
(:func:`nabat.services.accounts.set_membership`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from nabat.clock import Clock
from nabat.db.ids import as_id
from nabat.errors import Conflict, ErrorCode, Forbidden, NotFound, ValidationFailed
from nabat.models.account import Membership, Role, User
from nabat.models.invitation import Invitation
from nabat.sentences import Sentence
from nabat.services import accounts, invitations
from nabat.services.access import Principal, Scope


@dataclass(frozen=True)
class Member:
    """A member as their project sees them: who they are and their role, nothing of
    their contact points (those are theirs, not the project's)."""

    user_id: int
    username: str
    email: str
    role: Role


def parse_role(value: str) -> Role:
    """The role named ``value`` (any case).

    Raises :class:`ValidationFailed` naming ``role`` for anything but a role's name.
    """
    try:
        return Role(value.lower())
    except ValueError:
        message = Sentence("must be one of owner, admin, member, viewer")
        raise ValidationFailed(
            Sentence("{field}: {message}", field="role", message=message),
            details=[{"field": "role", "message": message}],
        ) from None


def _effective_role(user: User, stored: str) -> Role:
    """The role ``user`` acts with where their membership row says ``stored``."""
    return Role.OWNER if user.is_superuser else Role(stored)


def _member(user: User, membership: Membership) -> Member:
    return Member(user.id, user.username, user.email, _effective_role(user, membership.role))


def _members(project_id: int) -> Select[User, Membership]:
    return (
        select(User, Membership)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.project_id == project_id)
    )


async def list_members(session: AsyncSession, project_id: int) -> list[Member]:
    """The project's members, oldest account first."""
    rows = await session.execute(_members(project_id).order_by(User.id))
    return [_member(user, membership) for user, membership in rows]


async def _find(session: AsyncSession, project_id: int, ref: str) -> tuple[User, Membership] | None:
    """The member ``ref`` names: a user id first, then a username or e-mail (as at login)."""
    ref = ref.strip()
    user_id = as_id(ref)
    if user_id is not None:
        row = (await session.execute(_members(project_id).where(User.id == user_id))).first()
        if row is not None:
            return row[0], row[1]
    named = (func.lower(User.username) == ref.lower()) | (User.email == ref.lower())
    row = (await session.execute(_members(project_id).where(named))).first()
    return (row[0], row[1]) if row is not None else None


def _standing(caller: Principal) -> Role:
    """OWNER for owners and instance administrators, ADMIN for admins and API keys.

    Raises :class:`Forbidden` for a caller without ``members:manage``. An API key has no
    role: whatever its creator was, it never acts as an owner.
    """
    caller.require(Scope.MEMBERS_MANAGE)
    return Role.OWNER if caller.role is Role.OWNER else Role.ADMIN


def _may_manage(standing: Role, user: User, current: Role) -> None:
    """Refuse an admin's change to an owner or an instance administrator (``current`` is
    the role ``user`` acts with)."""
    if standing is not Role.OWNER and current is Role.OWNER:
        if user.is_superuser:
            refusal = Sentence(
                "{user} is an instance administrator of this project; only a project owner "
                "may change their role or remove them",
                user=user.username,
            )
        else:
            refusal = Sentence(
                "{user} is an owner of this project; only a project owner may change their "
                "role or remove them",
                user=user.username,
            )
        raise Forbidden(refusal)


async def _keep_an_owner(session: AsyncSession, project_id: int, user: User) -> None:
    """Refuse to take the owner's role from the project's last owner.

    The owners' rows are locked (PostgreSQL) so that two owners demoting each other at
    once cannot both pass this check.
    """
    owners = set(
        await session.scalars(
            select(Membership.user_id)
            .join(User, User.id == Membership.user_id)
            .where(
                Membership.project_id == project_id,
                or_(Membership.role == Role.OWNER.value, User.is_superuser),
            )
            .with_for_update(of=Membership)
        )
    )
    if owners <= {user.id}:
        raise Conflict(
            Sentence(
                "{user} is the last owner of this project; make another member owner first "
                "(PUT /api/v1/members with role owner)",
                user=user.username,
            )
        )


async def set_role(
    session: AsyncSession, clock: Clock, caller: Principal, ref: str, role: Role
) -> Member | Invitation:
    """Change a member's role, or invite the user ``ref`` names if they are not one.

    Returns the member with their new role, or the invitation (sent whether or not an
    account answers to ``ref``: nothing tells the caller which). An instance
    administrator adds an existing user directly instead. Raises :class:`Forbidden`
    (no ``members:manage``; an admin making an owner or changing an owner),
    :class:`Conflict` (the last owner; lowering an instance administrator) and, to an
    instance administrator only, :class:`NotFound` for a user that does not exist.
    """
    standing = _standing(caller)
    if role is Role.OWNER and standing is not Role.OWNER:
        raise Forbidden("only a project owner may make another owner; ask an owner of it")
    found = await _find(session, caller.project_id, invitations.invitee_of(ref))
    if found is None:
        if not caller.is_superuser:
            return await invitations.invite(
                session, clock, caller.project_id, ref, role, invited_by=caller.user_id
            )
        user = await accounts.find_user(session, ref)
        if user is None:
            raise NotFound(
                Sentence("user {user!r} not found", user=ref.strip()),
                code=ErrorCode.USER_NOT_FOUND,
            )
        current = None
    else:
        user, membership = found
        current = _effective_role(user, membership.role)
        _may_manage(standing, user, current)
    if user.is_superuser and role is not Role.OWNER:
        raise Conflict(
            Sentence(
                "{user} is an instance administrator and so owner of every project; their "
                "role cannot be lowered (remove them from the project if they should not "
                "hear from it)",
                user=user.username,
            )
        )
    if current is Role.OWNER and role is not Role.OWNER:
        await _keep_an_owner(session, caller.project_id, user)
    membership = await accounts.set_membership(
        session, project_id=caller.project_id, user_id=user.id, role=role
    )
    return _member(user, membership)


async def remove(session: AsyncSession, caller: Principal, user_id: int) -> Member:
    """Take ``user_id`` out of the caller's project; anyone may leave on their own.

    Returns the member as they were. Raises :class:`Forbidden` (no ``members:manage``; an
    admin removing an owner), :class:`NotFound` (``USER_NOT_FOUND``: not a member, the
    same answer for every account outside the project) and :class:`Conflict` (the last
    owner).
    """
    leaving = caller.user_id is not None and caller.user_id == user_id
    standing = Role.OWNER if leaving else _standing(caller)
    row = None
    if as_id(user_id) is not None:
        row = (await session.execute(_members(caller.project_id).where(User.id == user_id))).first()
    if row is None:
        raise NotFound(
            Sentence(
                "user {id} is not a member of this project; list members with GET /api/v1/members",
                id=user_id,
            ),
            code=ErrorCode.USER_NOT_FOUND,
        )
    user, membership = row
    member = _member(user, membership)
    _may_manage(standing, user, member.role)
    if member.role is Role.OWNER:
        await _keep_an_owner(session, caller.project_id, user)
    await accounts.remove_membership(session, membership)
    return member
