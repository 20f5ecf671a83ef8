"""The error shape every failure answers with (SPEC §3), for the OpenAPI document."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    """One problem, usually one field."""

    field: str = Field(description="The field as the client wrote it, e.g. events[0].type.")
    message: str = Field(description="What is wrong with it and what to send instead.")
    type: str | None = Field(default=None, description="A machine-readable kind of problem.")


class ErrorOut(BaseModel):
    """``{"success": false, "code", "error", "details", "timestamp"}``."""

    success: bool = Field(description="Always false.")
    code: str = Field(description="A machine-readable code, e.g. CHANNEL_NOT_FOUND.")
    error: str = Field(description="A sentence that says what to fix.")
    details: list[ErrorDetail]
    timestamp: str = Field(description="When the error happened (ISO 8601, UTC).")
