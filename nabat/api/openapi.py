"""The OpenAPI document, true to what the server answers: every operation lists the
error statuses it can return, each with the one error shape.

FastAPI documents a route's success answer and a 422 of its own shape (``{"detail"}``)
that Nabat never sends. The errors an operation can answer follow from what it is made
of (authentication, path parameters, a body), so they are derived here from each
operation in the generated document rather than declared route by route.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI

from nabat.schemas.errors import ErrorOut

_REF = "#/components/schemas/ErrorOut"

_WHY = {
    400: "The body is not valid JSON.",
    401: "No valid token or API key.",
    403: "The caller's role or key scopes do not allow this.",
    404: "The project, or the object named in the path or body, does not exist.",
    409: "The change conflicts with what is stored.",
    413: "The body is larger than NABAT_MAX_BODY_BYTES.",
    422: "A field breaks a rule; details name each field.",
    429: "Too many attempts; retry after Retry-After.",
    500: "An unexpected failure; the server log has the details.",
    503: "Overloaded or not ready; nothing was stored, retry after Retry-After.",
}

# Statuses a handler answers by its own logic, for routes whose shape does not say so.
_OWN: dict[str, set[int]] = {
    "/api/auth/login": {401, 429},
    "/api/auth/register": {403, 409},
}


def _statuses(path: str, method: str, operation: dict[str, Any]) -> set[int]:
    statuses = {422, 500, 503} | _OWN.get(path, set())
    if operation.get("security"):
        statuses |= {401, 403, 404}
    if any(p.get("in") == "path" for p in operation.get("parameters", [])):
        statuses.add(404)
    if method in ("post", "put", "patch"):
        statuses |= {400, 404, 409, 413}
    if method == "delete":
        statuses.add(409)
    return statuses


def _document(document: dict[str, Any]) -> dict[str, Any]:
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for status in sorted(_statuses(path, method, operation)):
                responses[str(status)] = {
                    "description": _WHY[status],
                    "content": {"application/json": {"schema": {"$ref": _REF}}},
                }
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    error_schema = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(error_schema.pop("$defs", {}))
    schemas["ErrorOut"] = error_schema
    return document


def install_openapi(app: FastAPI) -> None:
    """Make ``app.openapi()`` (and ``/openapi.json``) document every error answer."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _document(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """The methods the API serves at ``path`` (for a 405's ``Allow``), from the document.

    Starlette names only the methods of the first route that matched the path, so a path
    served by several routes (Grafana's receiver takes POST and PUT) would list one.
    """
    allowed: set[str] = set()
    for template, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            if re.fullmatch(_pattern(template, operation), path):
                allowed.add(method.upper())
    if "GET" in allowed:
        allowed.add("HEAD")
    return sorted(allowed)


def _pattern(template: str, operation: dict[str, Any]) -> str:
    # Integer path parameters are routed with Starlette's int convertor: "batch" is not
    # an event id, so GET /events/batch is a 405, not a match of /events/{event_id}.
    integers = {
        p["name"]
        for p in operation.get("parameters", [])
        if p.get("in") == "path" and p.get("schema", {}).get("type") == "integer"
    }
    parts = re.split(r"\{([^}]+)\}", template)
    pattern = ""
    for index, part in enumerate(parts):
        if index % 2 == 0:
            pattern += re.escape(part)
        else:
            pattern += "[0-9]+" if part in integers else "[^/]+"
    return pattern


def bad_path_id(app: FastAPI, path: str) -> tuple[str, str] | None:
    """For a path that matches an operation except that an integer id in it is not a
    number (``/users/ivan/contact-points``): that parameter's name and the text given."""
    for template, operations in app.openapi()["paths"].items():
        for operation in operations.values():
            integers = [
                p["name"]
                for p in operation.get("parameters", [])
                if p.get("in") == "path" and p.get("schema", {}).get("type") == "integer"
            ]
            if not integers:
                continue
            relaxed = _pattern(template, {})
            names = re.findall(r"\{([^}]+)\}", template)
            found = re.fullmatch(relaxed.replace("[^/]+", "([^/]+)"), path)
            if found is None:
                continue
            for name, value in zip(names, found.groups(), strict=True):
                if name in integers and not value.isdecimal():
                    return name, value
    return None
