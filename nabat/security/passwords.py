"""Password hashing with Argon2id."""

from __future__ import annotations

import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    # Verifying against this keeps the time of a login for an unknown user the same as
    # for a known one, so response times do not reveal which usernames exist. Made on
    # first use: hashing costs a tenth of a second, not to be paid at import.
    return _hasher.hash("nabat-dummy-password")


MIN_PASSWORD_LENGTH = 8


def hash_password(password: str) -> str:
    """Return an Argon2id hash of ``password``."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Tell whether ``password`` matches ``password_hash``; ``None`` never matches."""
    try:
        return (
            _hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
        )
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
