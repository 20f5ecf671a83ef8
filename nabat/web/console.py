"""Mounting the console on the application: its pages, static files and how its
refusals are shown (as pages, never as JSON)."""

from __future__ import annotations

import importlib
import pkgutil
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from nabat.api.errors import nabat_error
from nabat.errors import NabatError, NotFound
from nabat.services import invitations
from nabat.web import pages
from nabat.web.render import page
from nabat.web.session import Refused, SignInRequired, visitor_of


async def _sign_in(request: Request, exc: Exception) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target)}", status_code=303)


async def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refused)
    state = request.app.state.nabat
    visitor = await visitor_of(request, state)
    if exc.key == "error.no_project" and visitor.user is not None:
        # Signed in but in no project yet: what they can do is answer an invitation.
        async with state.sessions() as session:
            offers = await invitations.offers_to(session, state.clock, visitor.user.id)
        return page(visitor, "welcome.html", offers=offers)
    return page(visitor, "refused.html", status=exc.status, message=visitor.t(exc.key))


async def _not_found(request: Request, exc: Exception) -> Response:
    # A service's NotFound is the API's JSON 404 under /api/, and the console's page
    # anywhere else: pages let it propagate instead of each translating it.
    if request.url.path.startswith("/api/"):
        return await nabat_error(request, exc)
    return await _refused(request, Refused("error.not_found", 404))


async def _service_refused(request: Request, exc: Exception) -> Response:
    # A service's refusal that no page turned into an error beside its field (a race's
    # Conflict, a service's own Forbidden): on a console page it is the refusal page with
    # the sentence in the visitor's language, never the API's JSON; from anything else
    # (the API, /metrics) the JSON error as always.
    assert isinstance(exc, NabatError)
    endpoint = request.scope.get("endpoint")
    if not getattr(endpoint, "__module__", "").startswith(f"{pages.__name__}."):
        return await nabat_error(request, exc)
    visitor = await visitor_of(request, request.app.state.nabat)
    # The first detail says it without the API's field prefix ("type: …").
    said = visitor.say(exc.details[0].get("message", exc.message) if exc.details else exc.message)
    return page(
        visitor, "refused.html", status=exc.status_code, message=said[:1].upper() + said[1:]
    )


def install_console(app: FastAPI) -> None:
    """Serve the console at ``/`` beside the API."""
    app.mount("/static", StaticFiles(packages=[("nabat.web", "static")]), name="static")
    # Every module in ``nabat/web/pages`` is one section with its ``router``.
    for info in sorted(pkgutil.iter_modules(pages.__path__), key=lambda found: found.name):
        module = importlib.import_module(f"{pages.__name__}.{info.name}")
        app.include_router(module.router)
    app.add_exception_handler(SignInRequired, _sign_in)
    app.add_exception_handler(Refused, _refused)
    app.add_exception_handler(NotFound, _not_found)
    app.add_exception_handler(NabatError, _service_refused)
