"""Project API keys: ``nbt_<prefix>_<secret>``; only a SHA-256 digest is stored.

The secret part carries 256 bits of randomness, so a fast digest is safe here (unlike
passwords) and keeps per-request authentication cheap.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

KEY_PREFIX = "nbt_"


@dataclass(frozen=True)
class NewApiKey:
    """A freshly minted key: ``plaintext`` is shown once and never stored."""

    plaintext: str
    prefix: str
    digest: str


def mint_api_key() -> NewApiKey:
    """Create a new random key."""
    prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    plaintext = f"{KEY_PREFIX}{prefix}_{secret}"
    return NewApiKey(plaintext=plaintext, prefix=prefix, digest=digest_api_key(plaintext))


def digest_api_key(plaintext: str) -> str:
    """Return the stored digest of a key."""
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


def split_api_key(token: str) -> str | None:
    """Return the lookup prefix of something shaped like an API key, else ``None``."""
    if not token.startswith(KEY_PREFIX):
        return None
    prefix, sep, rest = token[len(KEY_PREFIX) :].partition("_")
    if not sep or len(prefix) != 8 or not rest:
        return None
    return prefix


def digests_match(plaintext: str, digest: str) -> bool:
    """Compare a presented key with a stored digest in constant time."""
    return hmac.compare_digest(digest_api_key(plaintext), digest)
