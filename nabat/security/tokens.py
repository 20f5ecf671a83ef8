"""JWT access tokens (HS256) for logged-in users."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

ALGORITHM = "HS256"


def issue_token(key: bytes, user_id: int, now: datetime, ttl_seconds: int) -> str:
    """Return a signed token for ``user_id`` that expires ``ttl_seconds`` after ``now``."""
    claims = {
        "sub": str(user_id),
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=ttl_seconds)).timestamp()),
        "typ": "access",
    }
    return jwt.encode(claims, key, algorithm=ALGORITHM)


@dataclass(frozen=True)
class TokenClaims:
    """What a valid token says: whose it is and until when (POSIX seconds)."""

    user_id: int
    expires_at: int


def read_token(key: bytes, token: str) -> TokenClaims | None:
    """Return the claims of a valid, unexpired token, else ``None``."""
    try:
        claims = jwt.decode(token, key, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]})
    except jwt.PyJWTError:
        return None
    if claims.get("typ") != "access":
        return None
    try:
        return TokenClaims(int(claims["sub"]), int(claims["exp"]))
    except (TypeError, ValueError):
        return None
