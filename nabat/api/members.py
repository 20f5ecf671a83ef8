"""A project's members and the invitations it has sent (rules in
:mod:`nabat.services.members`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse

from nabat.api.deps import CurrentPrincipal, SessionDep, StateDep
from nabat.models.invitation import Invitation
from nabat.schemas.auth import MemberOut, MemberSet
from nabat.schemas.channels import DeletedOut
from nabat.schemas.members import InvitationSent, ProjectInvitationOut
from nabat.services import invitations, members
from nabat.services.access import Scope
from nabat.state import AppState

router = APIRouter(tags=["members"])

UserId = Annotated[int, Path(alias="userId", description="The member's user id.")]
InvitationId = Annotated[int, Path(alias="id", description="The invitation's id.")]


def _member_out(member: members.Member) -> MemberOut:
    return MemberOut(
        user_id=member.user_id,
        username=member.username,
        email=member.email,
        role=member.role.value,
    )


def _members_changed(state: AppState) -> None:
    # After the commit: a member's new role (or removal) applies to their next request
    # through this process; routing forgets the project's members by itself.
    state.principals.clear()


@router.get("/members", response_model=list[MemberOut])
async def list_members(caller: CurrentPrincipal, session: SessionDep) -> list[MemberOut]:
    """The members of the caller's project: who they are and their role, nothing of
    their contact points."""
    caller.require(Scope.CHANNELS_READ)
    listed = await members.list_members(session, caller.project_id)
    return [_member_out(member) for member in listed]


@router.put(
    "/members",
    response_model=MemberOut,
    responses={202: {"model": InvitationSent, "description": "not a member: invited"}},
)
async def set_member(
    body: MemberSet, caller: CurrentPrincipal, state: StateDep, session: SessionDep
) -> MemberOut | JSONResponse:
    """Change a member's role (200), or invite someone who is not a member yet (202).

    The 202 answer is the same whether or not an account answers to ``user``. Instance
    administrators add an existing user directly (200).
    """
    role = members.parse_role(body.role)
    outcome = await members.set_role(session, state.clock, caller, body.user, role)
    await session.commit()
    if isinstance(outcome, Invitation):
        return _sent(outcome)
    _members_changed(state)
    return _member_out(outcome)


def _sent(invitation: Invitation) -> JSONResponse:
    sent = InvitationSent(
        message=(
            f"invitation sent if an account answers to {invitation.invitee!r}: its user "
            "sees it in GET /api/v1/invitations and may accept it until it expires"
        ),
        invitation_id=invitation.id,
        invitee=invitation.invitee,
        role=invitation.role,
        expires_at=invitation.expires_at,
    )
    return JSONResponse(sent.model_dump(mode="json", by_alias=True), status_code=202)


@router.delete("/members/{userId:int}", response_model=DeletedOut)
async def remove_member(
    user_id: UserId, caller: CurrentPrincipal, state: StateDep, session: SessionDep
) -> DeletedOut:
    """Take a member out of the project (``members:manage``, or yourself to leave)."""
    member = await members.remove(session, caller, user_id)
    await session.commit()
    _members_changed(state)
    return DeletedOut(message=f"{member.username} is no longer a member of this project")


def _invitation_out(invitation: Invitation) -> ProjectInvitationOut:
    return ProjectInvitationOut(
        id=invitation.id,
        invitee=invitation.invitee,
        role=invitation.role,
        invited_by=invitation.invited_by,
        created_at=invitation.created_at,
        expires_at=invitation.expires_at,
    )


@router.get("/members/invitations", response_model=list[ProjectInvitationOut])
async def list_invitations(
    caller: CurrentPrincipal, state: StateDep, session: SessionDep
) -> list[ProjectInvitationOut]:
    """The project's invitations still waiting for an answer (``members:manage``)."""
    caller.require(Scope.MEMBERS_MANAGE)
    pending = await invitations.pending_in_project(session, state.clock, caller.project_id)
    return [_invitation_out(invitation) for invitation in pending]


@router.delete("/members/invitations/{id:int}", response_model=DeletedOut)
async def revoke_invitation(
    invitation_id: InvitationId, caller: CurrentPrincipal, state: StateDep, session: SessionDep
) -> DeletedOut:
    """Withdraw an invitation that was not answered yet (``members:manage``)."""
    caller.require(Scope.MEMBERS_MANAGE)
    await invitations.revoke(session, state.clock, caller.project_id, invitation_id)
    await session.commit()
    return DeletedOut(message=f"invitation {invitation_id} withdrawn")
