"""Domain errors and the closed set of error codes clients see.

Services raise these; the API layer turns them into the one JSON error shape.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    """Machine-readable codes carried in every error response (SPEC 3.2)."""

    VALIDATION_ERROR = "VALIDATION_ERROR"
    MALFORMED_JSON = "MALFORMED_JSON"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    UNAUTHORIZED = "UNAUTHORIZED"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    FORBIDDEN = "FORBIDDEN"
    TOO_MANY_REQUESTS = "TOO_MANY_REQUESTS"
    NOT_FOUND = "NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    CONFLICT = "CONFLICT"
    REGISTRATION_DISABLED = "REGISTRATION_DISABLED"
    USER_NOT_FOUND = "USER_NOT_FOUND"
    PROJECT_NOT_FOUND = "PROJECT_NOT_FOUND"
    API_KEY_NOT_FOUND = "API_KEY_NOT_FOUND"
    INVITATION_NOT_FOUND = "INVITATION_NOT_FOUND"
    CHANNEL_NOT_FOUND = "CHANNEL_NOT_FOUND"
    CHANNEL_DISABLED = "CHANNEL_DISABLED"
    DELIVERY_NOT_FOUND = "DELIVERY_NOT_FOUND"
    INBOX_ITEM_NOT_FOUND = "INBOX_ITEM_NOT_FOUND"
    INVALID_STATUS = "INVALID_STATUS"
    INVALID_SEVERITY = "INVALID_SEVERITY"
    BOT_UNAVAILABLE = "BOT_UNAVAILABLE"
    TELEGRAM_ERROR = "TELEGRAM_ERROR"
    EMAIL_ERROR = "EMAIL_ERROR"
    SLACK_ERROR = "SLACK_ERROR"
    WEBHOOK_ERROR = "WEBHOOK_ERROR"
    DISCORD_ERROR = "DISCORD_ERROR"
    SMS_ERROR = "SMS_ERROR"
    TEAMS_ERROR = "TEAMS_ERROR"
    EWS_ERROR = "EWS_ERROR"
    GRAPH_MAIL_ERROR = "GRAPH_MAIL_ERROR"
    APPRISE_ERROR = "APPRISE_ERROR"
    INAPP_ERROR = "INAPP_ERROR"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"


class NabatError(Exception):
    """Base of every error a client may see; carries its code, status and sentence."""

    status_code = 400
    code = ErrorCode.VALIDATION_ERROR

    def __init__(
        self,
        message: str,
        *,
        code: ErrorCode | None = None,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details or []
        self.headers = headers or {}


class ValidationFailed(NabatError):
    """Input is well-formed JSON but breaks a rule; ``details`` name each field."""

    status_code = 422
    code = ErrorCode.VALIDATION_ERROR


class NotFound(NabatError):
    """The object does not exist, or belongs to a project the caller cannot see."""

    status_code = 404
    code = ErrorCode.NOT_FOUND


class Unauthorized(NabatError):
    """No valid credentials came with the request."""

    status_code = 401
    code = ErrorCode.UNAUTHORIZED


class Forbidden(NabatError):
    """The caller is known but lacks the right for this action."""

    status_code = 403
    code = ErrorCode.FORBIDDEN


class Conflict(NabatError):
    """The request clashes with existing state (a taken username, say)."""

    status_code = 409
    code = ErrorCode.CONFLICT


class TooManyRequests(NabatError):
    """A rate limit was hit; ``Retry-After`` tells when to come back."""

    status_code = 429
    code = ErrorCode.TOO_MANY_REQUESTS


class ChannelDisabled(NabatError):
    """The named channel exists but is switched off."""

    status_code = 409
    code = ErrorCode.CHANNEL_DISABLED


class Unavailable(NabatError):
    """Nabat cannot take the request right now (overloaded, or no database connection
    came free in time); nothing of it was stored, and ``Retry-After`` says when to retry."""

    status_code = 503
    code = ErrorCode.SERVICE_UNAVAILABLE

    def __init__(self, message: str, *, retry_after: int = 1) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)})
