"""One JSON error shape for every failure: ``{success, code, error, details, timestamp}``."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nabat.api.openapi import allowed_methods, bad_path_id
from nabat.errors import ErrorCode, NabatError

log = logging.getLogger("nabat.api")

_HTTP_CODES = {
    # FastAPI's only 400 is a body it could not decode as JSON (bad UTF-8, nesting too
    # deep); the syntax errors it can locate arrive as RequestValidationError instead.
    400: ErrorCode.MALFORMED_JSON,
    401: ErrorCode.UNAUTHORIZED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    429: ErrorCode.TOO_MANY_REQUESTS,
}


def error_body(
    code: ErrorCode, message: str, details: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The JSON error document."""
    return {
        "success": False,
        "code": code.value,
        "error": message,
        "details": details or [],
        "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }


def error_response(
    status: int,
    code: ErrorCode,
    message: str,
    details: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """Build the error response every endpoint uses."""
    return JSONResponse(error_body(code, message, details), status_code=status, headers=headers)


def _field_of(loc: tuple[Any, ...]) -> str:
    parts = [str(part) for part in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    return ".".join(parts) or "body"


async def nabat_error(_request: Request, exc: Exception) -> JSONResponse:
    """A domain error in the one JSON error shape, with its status and headers."""
    assert isinstance(exc, NabatError)
    return error_response(exc.status_code, exc.code, exc.message, exc.details, exc.headers)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    for error in errors:
        if error.get("type") == "json_invalid":
            reason = error.get("ctx", {}).get("error", "invalid JSON")
            return error_response(
                400,
                ErrorCode.MALFORMED_JSON,
                f"the request body is not valid JSON ({reason}); send a JSON object",
            )
    details = []
    for error in errors:
        field = _field_of(tuple(error.get("loc", ())))
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        if error.get("type") == "extra_forbidden":
            message = "unknown key; check its spelling"
        elif error.get("type") == "missing":
            message = "required but missing"
        details.append({"field": field, "message": message, "type": error.get("type")})
    if not details:
        details = [{"field": "body", "message": "invalid request"}]
    first = details[0]
    more = f" (and {len(details) - 1} more, see details)" if len(details) > 1 else ""
    return error_response(
        422, ErrorCode.VALIDATION_ERROR, f"{first['field']}: {first['message']}{more}", details
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, ErrorCode.VALIDATION_ERROR)
    message = str(exc.detail)
    if exc.status_code == 400:
        message = "the request body could not be read as JSON; send a UTF-8 JSON object"
    elif exc.status_code == 404:
        message = "no such endpoint; see /docs for the API"
        misplaced = bad_path_id(request.app, request.url.path)
        if misplaced is not None:
            name, value = misplaced
            what = f"{value!r} is not an id (ids are whole numbers), so nothing is found here"
            return error_response(404, code, f"{name}: {what}", [{"field": name, "message": what}])
    headers = dict(exc.headers) if exc.headers else {}
    if exc.status_code == 405:
        allowed = allowed_methods(request.app, request.url.path)
        headers["Allow"] = ", ".join(allowed)
        message = (
            f"this endpoint accepts the methods {', '.join(allowed)}, not {request.method}; "
            "see /docs"
        )
    return error_response(exc.status_code, code, message, headers=headers or None)


async def _pool_exhausted(_request: Request, exc: Exception) -> JSONResponse:
    # Every pooled connection stayed busy for the whole pool timeout: the server is
    # saturated. Answer at once so that the client backs off, instead of hanging.
    log.warning("no database connection came free in time: %s", exc)
    return error_response(
        503,
        ErrorCode.SERVICE_UNAVAILABLE,
        "the server is busy (no database connection came free in time); nothing was "
        "stored, retry after the time in Retry-After",
        headers={"Retry-After": "1"},
    )


class UnexpectedErrorMiddleware:
    """Answer 500 in the error shape for an exception no handler took, and keep the
    connection usable.

    Starlette's own last resort answers and then re-raises, which makes the server drop
    the kept-alive connection without ``Connection: close``, so the client's next request
    on it fails with a reset. Here the exception ends with the answer (the trace goes to
    the log for the operator, never to the client).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app; turn an escaped exception into the 500 answer."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception:
            log.exception("unhandled error in %s %s", scope["method"], scope["path"])
            if started:
                raise  # half an answer is out: only closing the connection can end it
            answer = error_response(
                500, ErrorCode.INTERNAL_ERROR, "internal error; the server log has the details"
            )
            await answer(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    """Route every kind of failure to the one error shape (call before adding other
    middleware: the catch-all must be the innermost)."""
    app.add_exception_handler(NabatError, nabat_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(PoolTimeout, _pool_exhausted)
    app.add_middleware(UnexpectedErrorMiddleware)
