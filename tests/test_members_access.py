"""Who may change whose role in a project, joining by invitation only, and whose contact
points a project sees (docs/api.md, "Who may do what")."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from nabat.app import create_app
from nabat.clock import FrozenClock
from nabat.models.account import Membership, Project, Role, User
from nabat.models.invitation import Invitation
from nabat.security.tokens import issue_token
from nabat.services import accounts, apikeys
from nabat.services.access import ROLE_SCOPES, Principal, Scope
from nabat.services.invitations import INVITATION_TTL
from nabat.services.routing_context import load_context
from nabat.settings import Settings
from nabat.state import AppState
from tests.support.errors import expect_error

MEMBERS = "/api/v1/members"
PENDING = "/api/v1/members/invitations"
MINE = "/api/v1/invitations"


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    """The application on a clock that moves only when a test says so."""
    application = create_app(settings, clock=FrozenClock(datetime.now(UTC)))
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
def state(app: FastAPI) -> AppState:
    """The running app's state: its sessions, keys and clock."""
    found: AppState = app.state.nabat
    return found


def clock_of(state: AppState) -> FrozenClock:
    """The app's clock, which this module's ``app`` fixture made movable."""
    assert isinstance(state.clock, FrozenClock)
    return state.clock


def bearer(state: AppState, user: User, project: str | None = None) -> dict[str, str]:
    """Authorization for ``user`` (issued directly: logging in hashes a password), in
    ``project`` when given."""
    # PyJWT checks expiry against the real time, which the frozen clock does not move.
    token = issue_token(state.keys.jwt_key, user.id, datetime.now(UTC), 30 * 24 * 3600)
    headers = {"Authorization": f"Bearer {token}"}
    if project is not None:
        headers["X-Nabat-Project"] = project
    return headers


async def new_project(state: AppState, slug: str) -> Project:
    """A project with nobody in it."""
    async with state.sessions() as session:
        project = await accounts.create_project(session, state.clock, name=slug, slug=slug)
        await session.commit()
    return project


async def person(
    session: AsyncSession,
    state: AppState,
    name: str,
    project: Project | None = None,
    role: Role | None = None,
    *,
    superuser: bool = False,
) -> User:
    """A user without a password (no hashing), with ``role`` in ``project`` when given;
    the caller commits."""
    user = await accounts.create_user(
        session,
        state.clock,
        username=name,
        email=f"{name}@example.org",
        password=None,
        is_superuser=superuser,
    )
    if project is not None and role is not None:
        await accounts.set_membership(session, project_id=project.id, user_id=user.id, role=role)
    return user


async def new_user(
    state: AppState,
    name: str,
    project: Project | None = None,
    role: Role | None = None,
    *,
    superuser: bool = False,
) -> User:
    """:func:`person`, committed."""
    async with state.sessions() as session:
        user = await person(session, state, name, project, role, superuser=superuser)
        await session.commit()
    return user


async def key_of(
    session: AsyncSession, state: AppState, project: Project, scopes: list[Scope]
) -> dict[str, str]:
    """Authorization for a new API key of ``project``; the caller commits."""
    creator = Principal(project_id=project.id, scopes=ROLE_SCOPES[Role.ADMIN])
    _, plaintext = await apikeys.create_api_key(
        session, state.clock, creator=creator, name="robot", scopes=scopes
    )
    return {"Authorization": f"Bearer {plaintext}"}


async def new_key(state: AppState, project: Project, scopes: list[Scope]) -> dict[str, str]:
    """:func:`key_of`, committed."""
    async with state.sessions() as session:
        headers = await key_of(session, state, project, scopes)
        await session.commit()
    return headers


async def role_in(state: AppState, project: Project, user: User) -> str | None:
    """The role ``user``'s membership row in ``project`` says, or None without one."""
    async with state.sessions() as session:
        found: str | None = await session.scalar(
            select(Membership.role).where(
                Membership.project_id == project.id, Membership.user_id == user.id
            )
        )
    return found


def masked(error: str, ref: object) -> str:
    """An error sentence with the id it names replaced, to compare two answers."""
    return re.sub(rf"(?<![\w/]){re.escape(str(ref))}(?![\w/])", "N", error)


# --- the role matrix ---------------------------------------------------------------------

ACTORS = ["superuser", "owner", "admin", "member", "viewer", "key"]
TARGETS = ["superuser", "owner", "last-owner", "admin", "member", "viewer", "outsider"]
ACTIONS = ["owner", "admin", "member", "viewer", "remove"]
MANAGERS = {"superuser", "owner", "admin", "key"}
OWNERS = {"superuser", "owner"}


def expected(actor: str, target: str, action: str) -> int:
    """The status docs/api.md promises when ``actor`` does ``action`` to ``target``."""
    if actor not in MANAGERS:
        return 403  # viewers and members manage nobody
    if action == "owner" and actor not in OWNERS:
        return 403  # only owners make owners
    if target == "outsider":
        if action == "remove":
            return 404
        return 200 if actor == "superuser" else 202  # only instance admins add directly
    if target in {"superuser", "owner", "last-owner"} and actor not in OWNERS:
        return 403  # an admin touches no owner and no instance administrator
    if target == "superuser" and action != "owner" and action != "remove":
        return 409  # an instance administrator is owner everywhere
    if target == "last-owner" and action != "owner":
        return 409  # a project keeps an owner
    return 200


ROW = {
    "superuser": Role.OWNER,
    "owner": Role.OWNER,
    "last-owner": Role.OWNER,
    "admin": Role.ADMIN,
    "member": Role.MEMBER,
    "viewer": Role.VIEWER,
}


@dataclass
class Case:
    """One project staged for one actor, target and action."""

    project: Project
    target: User
    headers: dict[str, str]


async def stage(state: AppState, n: int, actor: str, target: str) -> Case:
    """A project where ``actor`` and ``target`` are what their names say.

    Besides them there is another owner, except when the target is the last owner (then
    an acting owner is that owner). The acting instance administrator is no member.
    """
    async with state.sessions() as session:
        project = await accounts.create_project(session, state.clock, name=f"m{n}", slug=f"m{n}")
        if target != "last-owner":
            await person(session, state, f"m{n}-keeper", project, Role.OWNER)
        victim = await person(
            session,
            state,
            f"m{n}-target",
            project,
            ROW.get(target),
            superuser=target == "superuser",
        )
        if actor == "key":
            headers = await key_of(session, state, project, [Scope.MEMBERS_MANAGE])
        elif actor == "owner" and target == "last-owner":
            headers = bearer(state, victim, project.slug)
        else:
            acting = await person(
                session,
                state,
                f"m{n}-actor",
                project,
                None if actor == "superuser" else Role(actor),
                superuser=actor == "superuser",
            )
            headers = bearer(state, acting, project.slug)
        await session.commit()
    return Case(project, victim, headers)


async def act(client: httpx.AsyncClient, case: Case, action: str) -> httpx.Response:
    """Do ``action`` to the case's target over HTTP."""
    if action == "remove":
        return await client.delete(f"{MEMBERS}/{case.target.id}", headers=case.headers)
    body = {"user": case.target.username, "role": action}
    return await client.put(MEMBERS, json=body, headers=case.headers)


async def check(state: AppState, case: Case, target: str, action: str, status: int) -> None:
    """The stored outcome matches the answer: changed, removed, invited or untouched."""
    async with state.sessions() as session:
        row = await session.scalar(
            select(Membership.role).where(
                Membership.project_id == case.project.id, Membership.user_id == case.target.id
            )
        )
        invited = [
            tuple(row)
            for row in await session.execute(
                select(Invitation.user_id, Invitation.role).where(
                    Invitation.project_id == case.project.id
                )
            )
        ]
    if status == 200:
        assert row == (None if action == "remove" else action)
    elif status == 202:
        assert (row, invited) == (None, [(case.target.id, action)])
    else:
        before = ROW.get(target)
        assert (row, invited) == (before.value if before else None, [])


CODES = {403: "FORBIDDEN", 404: "USER_NOT_FOUND", 409: "CONFLICT"}


@pytest.mark.parametrize("actor", ACTORS)
async def test_the_role_matrix(client: httpx.AsyncClient, state: AppState, actor: str) -> None:
    wrong = []
    n = 0
    for target in TARGETS:
        for action in ACTIONS:
            n += 1
            case = await stage(state, n, actor, target)
            response = await act(client, case, action)
            want = expected(actor, target, action)
            if response.status_code != want:
                wrong.append((target, action, want, response.status_code, response.text))
                continue
            if want in CODES:
                expect_error(response, want, CODES[want])
            await check(state, case, target, action, want)
    assert wrong == []


async def test_the_matrix_says_what_to_fix(client: httpx.AsyncClient, state: AppState) -> None:
    admin_case = await stage(state, 1, "admin", "owner")
    refused = expect_error(await act(client, admin_case, "viewer"), 403, "FORBIDDEN")
    assert "only a project owner may change their role or remove them" in refused["error"]
    making = expect_error(await act(client, admin_case, "owner"), 403, "FORBIDDEN")
    assert "only a project owner may make another owner" in making["error"]
    last = await stage(state, 2, "superuser", "last-owner")
    kept = expect_error(await act(client, last, "remove"), 409, "CONFLICT")
    assert "last owner" in kept["error"]
    assert "make another member owner first" in kept["error"]
    viewer = await stage(state, 3, "viewer", "member")
    scope = expect_error(await act(client, viewer, "admin"), 403, "FORBIDDEN")
    assert "members:manage" in scope["error"]
    key = await stage(state, 4, "key", "owner")
    assert (
        "only a project owner"
        in expect_error(await act(client, key, "remove"), 403, "FORBIDDEN")["error"]
    )


async def test_a_changed_role_answers_the_member_shape_and_applies_at_once(
    client: httpx.AsyncClient, state: AppState
) -> None:
    project = await new_project(state, "shape")
    owner = await new_user(state, "shape-owner", project, Role.OWNER)
    admin = await new_user(state, "shape-admin", project, Role.ADMIN)
    as_admin = bearer(state, admin, "shape")
    # The admin's rights are cached for the next request...
    assert (await client.get(PENDING, headers=as_admin)).status_code == 200
    changed = await client.put(
        MEMBERS, json={"user": "SHAPE-ADMIN", "role": "VIEWER"}, headers=bearer(state, owner)
    )
    assert changed.status_code == 200, changed.text
    assert changed.json() == {
        "userId": admin.id,
        "username": "shape-admin",
        "email": "shape-admin@example.org",
        "role": "viewer",
    }
    # ...and forgotten when the role changes.
    expect_error(await client.get(PENDING, headers=as_admin), 403, "FORBIDDEN")


async def test_an_instance_administrator_demoted_by_a_row_is_still_owner(
    client: httpx.AsyncClient, state: AppState
) -> None:
    # The tester's project: every owner row, the instance administrator's too, says
    # viewer (as an admin could make them before this fix).
    project = await new_project(state, "orphan")
    root = await new_user(state, "root", project, Role.VIEWER, superuser=True)
    former = await new_user(state, "former", project, Role.VIEWER)
    as_root = bearer(state, root, "orphan")
    listed = await client.get(MEMBERS, headers=as_root)
    assert [(m["username"], m["role"]) for m in listed.json()] == [
        ("root", "owner"),
        ("former", "viewer"),
    ]
    for body in ({"user": "root", "role": "owner"}, {"user": "former", "role": "owner"}):
        repaired = await client.put(MEMBERS, json=body, headers=as_root)
        assert repaired.status_code == 200, repaired.text
    assert await role_in(state, project, former) == "owner"
    assert await role_in(state, project, root) == "owner"


async def test_anyone_may_leave_but_the_last_owner(
    client: httpx.AsyncClient, state: AppState
) -> None:
    project = await new_project(state, "leave")
    owner = await new_user(state, "leave-owner", project, Role.OWNER)
    viewer = await new_user(state, "leave-viewer", project, Role.VIEWER)
    left = await client.delete(f"{MEMBERS}/{viewer.id}", headers=bearer(state, viewer))
    assert left.status_code == 200, left.text
    assert left.json()["message"] == "leave-viewer is no longer a member of this project"
    assert await role_in(state, project, viewer) is None
    stays = await client.delete(f"{MEMBERS}/{owner.id}", headers=bearer(state, owner))
    expect_error(stays, 409, "CONFLICT")
    assert await role_in(state, project, owner) == "owner"


async def test_the_members_list_shows_who_not_where(
    client: httpx.AsyncClient, state: AppState
) -> None:
    project = await new_project(state, "roster")
    owner = await new_user(state, "roster-owner", project, Role.OWNER)
    member = await new_user(state, "roster-member", project, Role.MEMBER)
    added = await client.post(
        "/api/v1/users/me/contact-points",
        json={"kind": "TELEGRAM", "value": "4242"},
        headers=bearer(state, member),
    )
    assert added.status_code == 201, added.text
    listed = await client.get(MEMBERS, headers=bearer(state, owner, "roster"))
    assert listed.status_code == 200, listed.text
    assert [set(entry) for entry in listed.json()] == [{"userId", "username", "email", "role"}] * 2
    assert "4242" not in listed.text


async def test_removing_an_unknown_or_foreign_user_is_the_same_404(
    client: httpx.AsyncClient, state: AppState
) -> None:
    project = await new_project(state, "gone")
    owner = await new_user(state, "gone-owner", project, Role.OWNER)
    elsewhere = await new_user(state, "gone-elsewhere")
    headers = bearer(state, owner)
    foreign = await client.delete(f"{MEMBERS}/{elsewhere.id}", headers=headers)
    absent = await client.delete(f"{MEMBERS}/{elsewhere.id + 1000}", headers=headers)
    error = expect_error(foreign, 404, "USER_NOT_FOUND")["error"]
    other = expect_error(absent, 404, "USER_NOT_FOUND")["error"]
    assert masked(error, elsewhere.id) == masked(other, elsewhere.id + 1000)


# --- invitations -------------------------------------------------------------------------


@dataclass
class Inviting:
    """A project with an owner, and a user who is not in it yet."""

    project: Project
    owner: dict[str, str]
    carol: User
    as_carol: dict[str, str]


@pytest.fixture
async def inviting(state: AppState) -> Inviting:
    """Project ``team`` owned by ``olga``; ``carol`` exists but belongs to no project."""
    project = await new_project(state, "team")
    olga = await new_user(state, "olga", project, Role.OWNER)
    carol = await new_user(state, "carol")
    return Inviting(project, bearer(state, olga, "team"), carol, bearer(state, carol))


async def invite(
    client: httpx.AsyncClient, headers: dict[str, str], user: str, role: str = "member"
) -> dict[str, Any]:
    """Invite ``user``, expecting the one answer an invitation gets."""
    response = await client.put(MEMBERS, json={"user": user, "role": role}, headers=headers)
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_an_invitation_accepted_makes_a_member(
    client: httpx.AsyncClient, state: AppState, inviting: Inviting
) -> None:
    async with state.sessions() as session:
        before = await load_context(session, inviting.project.id, state.clock.now())
    assert "carol" not in before.member_refs
    sent = await invite(client, inviting.owner, "carol", "admin")
    assert await role_in(state, inviting.project, inviting.carol) is None
    offers = (await client.get(MINE, headers=inviting.as_carol)).json()
    assert [(o["id"], o["project"]["slug"], o["role"], o["invitedBy"]) for o in offers] == [
        (sent["invitationId"], "team", "admin", "olga")
    ]
    accepted = await client.post(f"{MINE}/{sent['invitationId']}/accept", headers=inviting.as_carol)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json() == {
        "id": inviting.project.id,
        "slug": "team",
        "name": "team",
        "role": "admin",
    }
    assert await role_in(state, inviting.project, inviting.carol) == "admin"
    # Carol acts in the project at once, routing knows her, and the offer is used up.
    carol_there = {**inviting.as_carol, "X-Nabat-Project": "team"}
    assert (await client.get(PENDING, headers=carol_there)).status_code == 200
    async with state.sessions() as session:
        after = await load_context(session, inviting.project.id, state.clock.now())
    assert "carol" in after.member_refs
    assert (await client.get(MINE, headers=inviting.as_carol)).json() == []
    assert (await client.get(PENDING, headers=inviting.owner)).json() == []
    again = await client.post(f"{MINE}/{sent['invitationId']}/accept", headers=inviting.as_carol)
    assert "already accepted" in expect_error(again, 409, "CONFLICT")["error"]
    # Now a member: the next PUT changes her role, as before invitations existed.
    changed = await client.put(
        MEMBERS, json={"user": "carol", "role": "viewer"}, headers=inviting.owner
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["role"] == "viewer"


async def test_an_invitation_declined_leaves_the_user_out(
    client: httpx.AsyncClient, state: AppState, inviting: Inviting
) -> None:
    sent = await invite(client, inviting.owner, "carol@example.org")
    declined = await client.post(
        f"{MINE}/{sent['invitationId']}/decline", headers=inviting.as_carol
    )
    assert declined.status_code == 200, declined.text
    assert await role_in(state, inviting.project, inviting.carol) is None
    assert (await client.get(PENDING, headers=inviting.owner)).json() == []
    assert (await client.get(MINE, headers=inviting.as_carol)).json() == []
    late = await client.post(f"{MINE}/{sent['invitationId']}/accept", headers=inviting.as_carol)
    assert "declined" in expect_error(late, 409, "CONFLICT")["error"]
    expect_error(
        await client.get(MEMBERS, headers={**inviting.as_carol, "X-Nabat-Project": "team"}),
        404,
        "PROJECT_NOT_FOUND",
    )


async def test_an_invitation_expires_after_a_week(
    client: httpx.AsyncClient, state: AppState, inviting: Inviting
) -> None:
    sent = await invite(client, inviting.owner, "carol")
    assert datetime.fromisoformat(sent["expiresAt"]) == state.clock.now() + INVITATION_TTL
    clock_of(state).advance(INVITATION_TTL.total_seconds() - 1)
    assert len((await client.get(MINE, headers=inviting.as_carol)).json()) == 1
    clock_of(state).advance(1)
    assert (await client.get(MINE, headers=inviting.as_carol)).json() == []
    assert (await client.get(PENDING, headers=inviting.owner)).json() == []
    late = await client.post(f"{MINE}/{sent['invitationId']}/accept", headers=inviting.as_carol)
    assert "expired" in expect_error(late, 409, "CONFLICT")["error"]
    assert await role_in(state, inviting.project, inviting.carol) is None
    # Inviting again renews the same invitation for another week.
    renewed = await invite(client, inviting.owner, "carol")
    assert renewed["invitationId"] == sent["invitationId"]
    accepted = await client.post(f"{MINE}/{sent['invitationId']}/accept", headers=inviting.as_carol)
    assert accepted.status_code == 200, accepted.text


async def test_an_invitation_revoked_cannot_be_accepted(
    client: httpx.AsyncClient, state: AppState, inviting: Inviting
) -> None:
    sent = await invite(client, inviting.owner, "carol", "viewer")
    pending = (await client.get(PENDING, headers=inviting.owner)).json()
    assert [(p["id"], p["invitee"], p["role"]) for p in pending] == [
        (sent["invitationId"], "carol", "viewer")
    ]
    other = await new_project(state, "other")
    stranger = await new_user(state, "stranger", other, Role.OWNER)
    foreign = await client.delete(
        f"{PENDING}/{sent['invitationId']}", headers=bearer(state, stranger)
    )
    expect_error(foreign, 404, "INVITATION_NOT_FOUND")
    revoked = await client.delete(f"{PENDING}/{sent['invitationId']}", headers=inviting.owner)
    assert revoked.status_code == 200, revoked.text
    assert (await client.get(PENDING, headers=inviting.owner)).json() == []
    assert (await client.get(MINE, headers=inviting.as_carol)).json() == []
    late = await client.post(f"{MINE}/{sent['invitationId']}/accept", headers=inviting.as_carol)
    assert "withdrawn" in expect_error(late, 409, "CONFLICT")["error"]
    twice = await client.delete(f"{PENDING}/{sent['invitationId']}", headers=inviting.owner)
    expect_error(twice, 409, "CONFLICT")


async def test_only_the_invited_user_answers_an_invitation(
    client: httpx.AsyncClient, state: AppState, inviting: Inviting
) -> None:
    sent = await invite(client, inviting.owner, "carol")
    mallory = bearer(state, await new_user(state, "mallory"))
    for verb in ("accept", "decline"):
        theirs = await client.post(f"{MINE}/{sent['invitationId']}/{verb}", headers=mallory)
        none = await client.post(f"{MINE}/{sent['invitationId'] + 1000}/{verb}", headers=mallory)
        error = expect_error(theirs, 404, "INVITATION_NOT_FOUND")["error"]
        missing = expect_error(none, 404, "INVITATION_NOT_FOUND")["error"]
        assert masked(error, sent["invitationId"]) == masked(missing, sent["invitationId"] + 1000)
    assert (await client.get(MINE, headers=mallory)).json() == []


def shape(body: dict[str, Any], invitee: str) -> dict[str, Any]:
    """An invitation answer with what legitimately differs between two invitees masked."""
    masked = {**body, "invitationId": "<id>", "invitee": "<invitee>"}
    masked["message"] = body["message"].replace(invitee, "<invitee>")
    return masked


async def test_an_unknown_invitee_is_answered_like_an_existing_one(
    client: httpx.AsyncClient, state: AppState, inviting: Inviting
) -> None:
    pairs = [
        ("carol", "ghost"),
        ("carol@example.org", "ghost@example.org"),
        (str(inviting.carol.id), "424242"),
    ]
    for real, unknown in pairs:
        one = await client.put(
            MEMBERS, json={"user": real, "role": "member"}, headers=inviting.owner
        )
        two = await client.put(
            MEMBERS, json={"user": unknown, "role": "member"}, headers=inviting.owner
        )
        assert one.status_code == two.status_code == 202
        assert set(one.json()) == {
            "success",
            "message",
            "invitationId",
            "invitee",
            "role",
            "expiresAt",
        }
        assert shape(one.json(), real) == shape(two.json(), unknown)
    # The project's list says the same of both kinds, in the order they were sent.
    pending = (await client.get(PENDING, headers=inviting.owner)).json()
    assert [p["invitee"] for p in pending] == [name for pair in pairs for name in pair]
    assert {frozenset(p) for p in pending} == {
        frozenset({"id", "invitee", "role", "invitedBy", "createdAt", "expiresAt"})
    }
    # Refusals come before any lookup, so they say nothing either.
    admin = bearer(state, await new_user(state, "team-admin", inviting.project, Role.ADMIN))
    for name in ("carol", "ghost"):
        refused = await client.put(MEMBERS, json={"user": name, "role": "owner"}, headers=admin)
        assert expect_error(refused, 403, "FORBIDDEN")["error"].startswith("only a project owner")


async def test_an_api_key_invites_and_an_instance_administrator_adds_directly(
    client: httpx.AsyncClient, state: AppState, inviting: Inviting, admin_headers: dict[str, str]
) -> None:
    key = await new_key(state, inviting.project, [Scope.MEMBERS_MANAGE])
    sent = await invite(client, key, "carol")
    assert (await client.get(PENDING, headers=key)).json()[0]["invitedBy"] is None
    in_team = {**admin_headers, "X-Nabat-Project": "team"}
    added = await client.put(MEMBERS, json={"user": "carol", "role": "viewer"}, headers=in_team)
    assert added.status_code == 200, added.text
    assert added.json()["userId"] == inviting.carol.id
    assert await role_in(state, inviting.project, inviting.carol) == "viewer"
    # Already in: the invitation is no offer any more.
    assert (await client.get(MINE, headers=inviting.as_carol)).json() == []
    late = await client.post(f"{MINE}/{sent['invitationId']}/accept", headers=inviting.as_carol)
    assert "already a member" in expect_error(late, 409, "CONFLICT")["error"]
    # An instance administrator may know which accounts exist.
    ghost = await client.put(MEMBERS, json={"user": "ghost", "role": "viewer"}, headers=in_team)
    expect_error(ghost, 404, "USER_NOT_FOUND")


async def test_invitations_need_members_manage(
    client: httpx.AsyncClient, state: AppState, inviting: Inviting
) -> None:
    viewer = bearer(state, await new_user(state, "team-viewer", inviting.project, Role.VIEWER))
    expect_error(await client.get(PENDING, headers=viewer), 403, "FORBIDDEN")
    sent = await invite(client, inviting.owner, "carol")
    expect_error(
        await client.delete(f"{PENDING}/{sent['invitationId']}", headers=viewer), 403, "FORBIDDEN"
    )
    # Answering one's own invitations needs a login: API keys are nobody.
    key = await new_key(state, inviting.project, [Scope.MEMBERS_MANAGE])
    expect_error(await client.get(MINE, headers=key), 401, "UNAUTHORIZED")


# --- contact points ----------------------------------------------------------------------


async def test_a_project_owner_reaches_no_ones_contact_points_but_their_own(
    client: httpx.AsyncClient, state: AppState, admin_headers: dict[str, str]
) -> None:
    project = await new_project(state, "private")
    owner = await new_user(state, "private-owner", project, Role.OWNER)
    member = await new_user(state, "private-member", project, Role.MEMBER)
    outsider = await new_user(state, "private-outsider")
    as_owner = bearer(state, owner, "private")
    for someone in (member, outsider, owner):
        added = await client.post(
            "/api/v1/users/me/contact-points",
            json={"kind": "PHONE", "value": "+79255070602"},
            headers=bearer(state, someone),
        )
        assert added.status_code == 201, added.text
    answers = []
    for someone in (member, outsider):
        path = f"/api/v1/users/{someone.id}/contact-points"
        for method, url, body in (
            ("GET", path, None),
            ("POST", path, {"kind": "TELEGRAM", "value": "43"}),
            ("DELETE", f"{path}/1", None),
        ):
            response = await client.request(method, url, json=body, headers=as_owner)
            error = expect_error(response, 404, "USER_NOT_FOUND")["error"]
            answers.append((method, masked(error, someone.id)))
    assert answers[:3] == answers[3:]
    own = await client.get(f"/api/v1/users/{owner.id}/contact-points", headers=as_owner)
    assert [p["value"] for p in own.json()] == ["+79255070602"]
    for someone in (member, outsider):
        path = f"/api/v1/users/{someone.id}/contact-points"
        theirs = await client.get(path, headers=bearer(state, someone))
        by_root = await client.get(path, headers=admin_headers)
        assert (
            [p["value"] for p in theirs.json()]
            == [p["value"] for p in by_root.json()]
            == ["+79255070602"]
        )
