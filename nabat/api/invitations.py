"""The invited user's side: ``/api/v1/invitations`` to see, accept or decline them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from nabat.api.deps import CurrentUser, SessionDep, StateDep
from nabat.schemas.auth import ProjectOut
from nabat.schemas.channels import DeletedOut
from nabat.schemas.members import InvitationOut
from nabat.services import invitations

router = APIRouter(prefix="/invitations", tags=["members"])

InvitationId = Annotated[int, Path(alias="id", description="The invitation's id.")]


@router.get("", response_model=list[InvitationOut])
async def my_invitations(
    user: CurrentUser, state: StateDep, session: SessionDep
) -> list[InvitationOut]:
    """Your invitations still open, to projects you are not in yet."""
    return [
        InvitationOut(
            id=offer.invitation.id,
            project=ProjectOut(
                id=offer.project.id, slug=offer.project.slug, name=offer.project.name
            ),
            role=offer.invitation.role,
            invited_by=offer.invited_by,
            created_at=offer.invitation.created_at,
            expires_at=offer.invitation.expires_at,
        )
        for offer in await invitations.offers_to(session, state.clock, user.id)
    ]


@router.post("/{id:int}/accept", response_model=ProjectOut)
async def accept_invitation(
    invitation_id: InvitationId, user: CurrentUser, state: StateDep, session: SessionDep
) -> ProjectOut:
    """Join the project with the role offered; the answer is the project and your role."""
    project, role = await invitations.accept(session, state.clock, user, invitation_id)
    await session.commit()
    # After the commit: your next request may already name the project.
    state.principals.clear()
    return ProjectOut(id=project.id, slug=project.slug, name=project.name, role=role.value)


@router.post("/{id:int}/decline", response_model=DeletedOut)
async def decline_invitation(
    invitation_id: InvitationId, user: CurrentUser, state: StateDep, session: SessionDep
) -> DeletedOut:
    """Refuse an invitation; the project sees it is no longer pending."""
    await invitations.decline(session, state.clock, user, invitation_id)
    await session.commit()
    return DeletedOut(message=f"invitation {invitation_id} declined")
