"""Encryption of secrets at rest (Fernet: AES-128-CBC + HMAC-SHA256, with a timestamp)."""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class SecretBox:
    """Encrypts and decrypts JSON documents with the service's secret key.

    ``MultiFernet`` lets an operator rotate keys later: the first key encrypts,
    every listed key may decrypt.
    """

    def __init__(self, *keys: bytes) -> None:
        if not keys:
            raise ValueError("SecretBox needs at least one key")
        self._fernet = MultiFernet([Fernet(key) for key in keys])

    def encrypt_json(self, value: dict[str, Any]) -> str:
        """Return the encrypted token for a JSON-serialisable dict."""
        raw = json.dumps(value, separators=(",", ":"), sort_keys=True).encode("utf-8")
        return self._fernet.encrypt(raw).decode("ascii")

    def decrypt_json(self, token: str) -> dict[str, Any]:
        """Return the dict sealed in ``token``.

        Raises ``ValueError`` when the token was made with another key (a changed
        ``NABAT_SECRET_KEY``) or was tampered with.
        """
        try:
            raw = self._fernet.decrypt(token.encode("ascii"))
        except InvalidToken as exc:
            raise ValueError(
                "stored secret cannot be decrypted: NABAT_SECRET_KEY (or the data dir's "
                "secret.key) differs from the one it was saved with"
            ) from exc
        loaded: dict[str, Any] = json.loads(raw)
        return loaded
