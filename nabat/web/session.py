"""Who is looking at a console page: the session cookie, the project, the language, and
the CSRF token every form carries.

The session cookie holds the same login token the API issues (``POST /api/auth/login``),
so a console visitor is resolved exactly as an API caller is (``caller_of``: the same
roles, the same cache, the same instance-administrator rule). It is HttpOnly,
SameSite=Lax, and Secure when the console is served over HTTPS.

CSRF: every form carries ``HMAC(key, anchor)`` where the anchor is the session token
(signed in) or a random nonce cookie (the login form); a post whose token does not match
its own cookie is refused. An attacker's page can make the browser send the cookies but
can read neither them nor the token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import Response

from nabat.api.deps import StateDep, caller_of
from nabat.errors import NabatError
from nabat.models.account import Project, Role, User
from nabat.security.tokens import read_token
from nabat.services import accounts
from nabat.services.access import Principal, Scope
from nabat.services.project_settings import message_settings
from nabat.state import AppState
from nabat.web.i18n import choose_language, say, translate

SESSION_COOKIE = "nabat_session"
NONCE_COOKIE = "nabat_nonce"
PROJECT_COOKIE = "nabat_project"
LANGUAGE_COOKIE = "nabat_lang"
CSRF_FIELD = "csrf"


class SignInRequired(Exception):
    """The page needs a signed-in visitor; the console answers with the login page."""


class Refused(Exception):
    """A console request that must not be carried out (bad CSRF token, missing right)."""

    def __init__(self, key: str, status: int = 403) -> None:
        super().__init__(key)
        self.key = key
        self.status = status


def csrf_token(key: bytes, anchor: str) -> str:
    """The CSRF token of forms shown to the holder of ``anchor``."""
    return hmac.new(key, b"csrf:" + anchor.encode(), hashlib.sha256).hexdigest()


@dataclass
class Visitor:
    """Everything a page needs to know about who is looking, in which language."""

    language: str
    csrf: str
    secure: bool
    nonce: str | None = None
    user: User | None = None
    principal: Principal | None = None
    projects: list[tuple[Project, Role]] = field(default_factory=list)
    project: Project | None = None

    def t(self, key: str, **values: object) -> str:
        """The wording for ``key`` in the visitor's language."""
        return translate(self.language, key, **values)

    def say(self, text: object) -> str:
        """A service's sentence (an error's message or detail) in the visitor's language."""
        return say(self.language, text)

    def can(self, scope: Scope) -> bool:
        """Whether the visitor may do what ``scope`` allows in the current project."""
        return self.principal is not None and scope in self.principal.scopes

    def require(self, scope: Scope) -> Principal:
        """The visitor's principal, or :class:`Refused` when ``scope`` is not theirs."""
        if self.user is None:
            raise SignInRequired
        if self.principal is None:
            raise Refused("error.no_project", status=200)
        if scope not in self.principal.scopes:
            raise Refused("error.forbidden")
        return self.principal

    def keep_cookies(self, response: Response) -> Response:
        """Set the nonce cookie the login form's token was made for, when new."""
        if self.nonce is not None:
            response.set_cookie(
                NONCE_COOKIE,
                self.nonce,
                httponly=True,
                samesite="lax",
                secure=self.secure,
                path="/",
            )
        return response


async def _signed_in(
    state: AppState, token: str, wanted_project: str | None
) -> tuple[User, Principal | None, list[tuple[Project, Role]], Project | None] | None:
    """The user behind a session token, their principal and project (``None`` for a user
    in no project yet: they may still sign in, to answer their invitations), or ``None``
    for a token that no longer stands for an active user."""
    claims = read_token(state.keys.jwt_key, token)
    if claims is None:
        return None
    async with state.sessions() as session:
        user = await session.get(User, claims.user_id)
        if user is None or not user.is_active:
            return None
        projects = await accounts.memberships_of(session, user.id)
    refs = {str(p.id) for p, _ in projects} | {p.slug for p, _ in projects}
    chosen = wanted_project if wanted_project in refs else None
    try:
        principal = await caller_of(state, token, chosen)
    except NabatError:
        return user, None, projects, None
    by_id = {p.id: p for p, _ in projects}
    project = by_id.get(principal.project_id)
    if project is None:
        async with state.sessions() as session:
            project = await session.get(Project, principal.project_id)
    if project is None:
        return None
    return user, principal, projects, project


async def visitor_of(request: Request, state: StateDep) -> Visitor:
    """The visitor of this request (signed in or not)."""
    secure = request.url.scheme == "https"
    token = request.cookies.get(SESSION_COOKIE)
    chosen_language = request.cookies.get(LANGUAGE_COOKIE)
    accept = request.headers.get("accept-language", "")
    found = await _signed_in(state, token, request.cookies.get(PROJECT_COOKIE)) if token else None
    if found is None or token is None:
        nonce = request.cookies.get(NONCE_COOKIE)
        fresh = None
        if not nonce:
            nonce = fresh = secrets.token_urlsafe(24)
        return Visitor(
            language=choose_language(chosen_language, accept, None),
            csrf=csrf_token(state.keys.jwt_key, nonce),
            secure=secure,
            nonce=fresh,
        )
    user, principal, projects, project = found
    project_language = None
    if project is not None:
        async with state.sessions() as session:
            settings = await message_settings(session, [project.id])
            project_language = settings[project.id].language
    return Visitor(
        language=choose_language(chosen_language, accept, project_language),
        csrf=csrf_token(state.keys.jwt_key, token),
        secure=secure,
        user=user,
        principal=principal,
        projects=projects,
        project=project,
    )


VisitorDep = Annotated[Visitor, Depends(visitor_of)]


async def signed_in(visitor: VisitorDep) -> Visitor:
    """The visitor, who must be signed in (else the login page is shown)."""
    if visitor.user is None:
        raise SignInRequired
    return visitor


SignedIn = Annotated[Visitor, Depends(signed_in)]


async def posted_form(request: Request, visitor: VisitorDep) -> dict[str, str]:
    """The posted form's fields, once its CSRF token proved it came from our page."""
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    if not isinstance(sent, str) or not hmac.compare_digest(sent, visitor.csrf):
        raise Refused("error.csrf")
    return {name: value for name, value in form.items() if isinstance(value, str)}


FormDep = Annotated[dict[str, str], Depends(posted_form)]
