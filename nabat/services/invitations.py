"""Invitations: a project offers a role, and only the invited user can take it.

What the project sees of an invitation is what it wrote (the invitee as given, the role,
the dates), never whether an account answers to it: an invitation naming nobody is
stored and listed like any other and simply expires. The invited user sees theirs in
``GET /api/v1/invitations`` and accepts or declines it within :data:`INVITATION_TTL`.
The caller commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from nabat.clock import Clock
from nabat.db.ids import as_id
from nabat.errors import Conflict, ErrorCode, NotFound, ValidationFailed
from nabat.models.account import Membership, Project, Role, User
from nabat.models.invitation import Invitation, InvitationStatus
from nabat.sentences import Sentence
from nabat.services import accounts

# Long enough for someone away for a long weekend; short enough that a forgotten offer
# does not stay valid for good.
INVITATION_TTL = timedelta(days=7)

_ANSWERED = {
    InvitationStatus.ACCEPTED: Sentence("was already accepted"),
    InvitationStatus.DECLINED: Sentence("was declined"),
    InvitationStatus.REVOKED: Sentence("was withdrawn by the project"),
}


def invitee_of(ref: str) -> str:
    """``ref`` (a user id, username or e-mail) as invitations store it: trimmed, lowercased.

    Raises :class:`ValidationFailed` naming ``user`` when nothing is left.
    """
    invitee = ref.strip().lower()
    if not invitee:
        message = Sentence("give the user's id, username or e-mail address")
        raise ValidationFailed(
            Sentence("{field}: {message}", field="user", message=message),
            details=[{"field": "user", "message": message}],
        )
    return invitee


async def invite(
    session: AsyncSession,
    clock: Clock,
    project_id: int,
    ref: str,
    role: Role,
    *,
    invited_by: int | None,
) -> Invitation:
    """Invite whoever ``ref`` names to the project with ``role``.

    The same steps run whether or not an account answers to ``ref``. Inviting the same
    invitee again renews the pending invitation (new role, new expiry, same id). Whether
    the caller may invite with ``role`` is the caller's check
    (:func:`nabat.services.members.set_role`).
    """
    invitee = invitee_of(ref)
    user = await accounts.find_user(session, invitee)
    now = clock.now()
    invitation = await session.scalar(
        select(Invitation).where(
            Invitation.project_id == project_id,
            Invitation.invitee == invitee,
            Invitation.status == InvitationStatus.PENDING,
        )
    )
    if invitation is None:
        invitation = Invitation(
            project_id=project_id, invitee=invitee, status=InvitationStatus.PENDING
        )
        session.add(invitation)
    invitation.user_id = user.id if user is not None else None
    invitation.role = role.value
    invitation.invited_by = invited_by
    invitation.created_at = now
    invitation.expires_at = now + INVITATION_TTL
    try:
        await session.flush()
    except IntegrityError as exc:
        # Two requests inviting the same invitee at once: the partial unique index decides.
        await session.rollback()
        raise Conflict(
            Sentence(
                "an invitation for {invitee!r} was just sent by another request; list them "
                "with GET /api/v1/members/invitations",
                invitee=invitee,
            )
        ) from exc
    return invitation


async def pending_in_project(
    session: AsyncSession, clock: Clock, project_id: int
) -> list[Invitation]:
    """The project's invitations that may still be accepted, oldest first."""
    rows = await session.scalars(
        select(Invitation)
        .where(
            Invitation.project_id == project_id,
            Invitation.status == InvitationStatus.PENDING,
            Invitation.expires_at > clock.now(),
        )
        .order_by(Invitation.id)
    )
    return list(rows)


async def revoke(
    session: AsyncSession, clock: Clock, project_id: int, invitation_id: int
) -> Invitation:
    """Withdraw one of the project's open invitations.

    Raises :class:`NotFound` for another project's or a missing one and :class:`Conflict`
    for one already answered, withdrawn or expired.
    """
    invitation = await session.get(Invitation, invitation_id) if as_id(invitation_id) else None
    if invitation is None or invitation.project_id != project_id:
        raise _not_found(invitation_id, "GET /api/v1/members/invitations")
    _require_open(invitation, clock, Sentence("there is nothing to withdraw"))
    invitation.status = InvitationStatus.REVOKED
    invitation.answered_at = clock.now()
    await session.flush()
    return invitation


@dataclass(frozen=True)
class Offer:
    """An invitation as its invitee sees it: which project, what role, from whom."""

    invitation: Invitation
    project: Project
    invited_by: str | None


async def offers_to(session: AsyncSession, clock: Clock, user_id: int) -> list[Offer]:
    """The user's open invitations to projects they are not in yet, oldest first."""
    inviter = aliased(User)
    already = select(Membership.id).where(
        Membership.user_id == user_id, Membership.project_id == Invitation.project_id
    )
    rows = await session.execute(
        select(Invitation, Project, inviter.username)
        .join(Project, Project.id == Invitation.project_id)
        .outerjoin(inviter, inviter.id == Invitation.invited_by)
        .where(
            Invitation.user_id == user_id,
            Invitation.status == InvitationStatus.PENDING,
            Invitation.expires_at > clock.now(),
            ~already.exists(),
        )
        .order_by(Invitation.id)
    )
    return [Offer(invitation, project, name) for invitation, project, name in rows]


async def accept(
    session: AsyncSession, clock: Clock, user: User, invitation_id: int
) -> tuple[Project, Role]:
    """Join the project with the invited role; returns the project and the role held.

    Raises :class:`NotFound` unless the invitation is the user's, and :class:`Conflict`
    when it is no longer open or the user is a member already.
    """
    invitation = await _own(session, clock, user, invitation_id)
    project = await session.get_one(Project, invitation.project_id)
    joined = await session.scalar(
        select(Membership.id).where(
            Membership.project_id == project.id, Membership.user_id == user.id
        )
    )
    if joined is not None:
        raise Conflict(
            Sentence(
                "you are already a member of project {project!r}; its admins change your "
                "role there",
                project=project.slug,
            )
        )
    # An instance administrator is owner everywhere; the row says so too.
    role = Role.OWNER if user.is_superuser else Role(invitation.role)
    invitation.status = InvitationStatus.ACCEPTED
    invitation.answered_at = clock.now()
    await accounts.set_membership(session, project_id=project.id, user_id=user.id, role=role)
    return project, role


async def decline(session: AsyncSession, clock: Clock, user: User, invitation_id: int) -> None:
    """Refuse an invitation of the user's. Raises like :func:`accept`."""
    invitation = await _own(session, clock, user, invitation_id)
    invitation.status = InvitationStatus.DECLINED
    invitation.answered_at = clock.now()
    await session.flush()


async def _own(session: AsyncSession, clock: Clock, user: User, invitation_id: int) -> Invitation:
    invitation = await session.get(Invitation, invitation_id) if as_id(invitation_id) else None
    if invitation is None or invitation.user_id != user.id:
        raise _not_found(invitation_id, "GET /api/v1/invitations")
    _require_open(invitation, clock, Sentence("ask the project's admins to invite you again"))
    return invitation


def _require_open(invitation: Invitation, clock: Clock, if_expired: str) -> None:
    """Refuse an invitation that was answered, withdrawn or has expired."""
    answered = _ANSWERED.get(InvitationStatus(invitation.status))
    if answered is not None:
        raise Conflict(Sentence("invitation {id} {answered}", id=invitation.id, answered=answered))
    if invitation.expires_at <= clock.now():
        raise Conflict(
            Sentence(
                "invitation {id} expired at {expired}; {hint}",
                id=invitation.id,
                expired=invitation.expires_at.isoformat(),
                hint=if_expired,
            )
        )


def _not_found(invitation_id: int, listing: str) -> NotFound:
    return NotFound(
        Sentence(
            "invitation {id} not found; list invitations with {listing}",
            id=invitation_id,
            listing=listing,
        ),
        code=ErrorCode.INVITATION_NOT_FOUND,
    )
