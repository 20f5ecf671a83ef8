"""Logging in and out, and the visitor's language and project."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from nabat.api.deps import SessionDep, StateDep
from nabat.errors import TooManyRequests, Unauthorized
from nabat.security.clients import client_address
from nabat.security.tokens import issue_token
from nabat.services.login import log_in
from nabat.web.i18n import LANGUAGES
from nabat.web.render import page
from nabat.web.session import (
    LANGUAGE_COOKIE,
    PROJECT_COOKIE,
    SESSION_COOKIE,
    FormDep,
    VisitorDep,
)

router = APIRouter(include_in_schema=False)


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a path on this site only (never ``//host``)."""
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


@router.get("/login")
async def login_page(visitor: VisitorDep, next: str = "/") -> Response:
    """The login form."""
    return page(visitor, "login.html", next=safe_next(next), username="", error=None)


@router.post("/login")
async def log_in_page(
    request: Request, visitor: VisitorDep, form: FormDep, state: StateDep, session: SessionDep
) -> Response:
    """Check the password under the API's login limits; on success set the session."""
    username = form.get("username", "")
    target = safe_next(form.get("next"))
    address = client_address(
        request.client.host if request.client else None,
        request.headers.getlist("x-forwarded-for"),
        state.settings.trusted_proxies,
    )
    try:
        user = await log_in(
            session,
            login=username,
            password=form.get("password", ""),
            address=address,
            by_account=state.login_by_user,
            by_address=state.login_by_address,
        )
    except TooManyRequests as exc:
        seconds = exc.headers.get("Retry-After", "60")
        error = visitor.t("login.limited", seconds=seconds)
        answer = page(
            visitor, "login.html", status=429, next=target, username=username, error=error
        )
        answer.headers["Retry-After"] = seconds
        return answer
    except Unauthorized:
        error = visitor.t("login.wrong")
        return page(visitor, "login.html", status=401, next=target, username=username, error=error)
    token = issue_token(
        state.keys.jwt_key, user.id, state.clock.now(), state.settings.jwt_ttl_seconds
    )
    answer = RedirectResponse(target, status_code=303)
    answer.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=state.settings.jwt_ttl_seconds,
        httponly=True,
        samesite="lax",
        secure=visitor.secure,
        path="/",
    )
    return answer


@router.post("/logout")
async def log_out(form: FormDep) -> Response:
    """End the session in this browser."""
    answer = RedirectResponse("/login", status_code=303)
    answer.delete_cookie(SESSION_COOKIE, path="/")
    answer.delete_cookie(PROJECT_COOKIE, path="/")
    return answer


@router.post("/language")
async def choose_language(request: Request, visitor: VisitorDep, form: FormDep) -> Response:
    """Remember the visitor's language and go back where they were."""
    language = form.get("language", "")
    answer = RedirectResponse(_back(request), status_code=303)
    if language in LANGUAGES:
        answer.set_cookie(
            LANGUAGE_COOKIE,
            language,
            max_age=365 * 86400,
            samesite="lax",
            secure=visitor.secure,
            path="/",
        )
    return answer


@router.post("/project")
async def choose_project(visitor: VisitorDep, form: FormDep) -> Response:
    """Switch to another project the visitor belongs to."""
    wanted = form.get("project", "")
    answer = RedirectResponse("/", status_code=303)
    if any(wanted in (project.slug, str(project.id)) for project, _ in visitor.projects):
        answer.set_cookie(
            PROJECT_COOKIE, wanted, httponly=True, samesite="lax", secure=visitor.secure, path="/"
        )
    return answer


def _back(request: Request) -> str:
    # The page the visitor came from, if it was ours.
    referer = request.headers.get("referer", "")
    base = str(request.base_url)
    if referer.startswith(base):
        return safe_next("/" + referer[len(base) :])
    return "/"
