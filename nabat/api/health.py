"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from nabat.api.deps import StateDep
from nabat.api.errors import error_response
from nabat.errors import ErrorCode

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up and serving."""
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
async def readyz(state: StateDep) -> dict[str, str] | JSONResponse:
    """The database answers and every background loop runs; 503 naming what does not."""
    problems: list[dict[str, str]] = []
    try:
        async with state.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError) as exc:
        problems.append(
            {
                "field": "database",
                "message": f"unreachable ({type(exc).__name__}); check NABAT_DATABASE_URL "
                "and the pool settings",
            }
        )
    for name, loop in sorted(state.loop_health.down().items()):
        problems.append({"field": name, "message": loop.last_error or "failing"})
    if problems:
        summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
        return error_response(
            503,
            ErrorCode.SERVICE_UNAVAILABLE,
            f"not ready ({summary}); failing background loops are retried, see the log",
            details=problems,
        )
    return {"status": "ok", "database": "ok"}
