"""The service's master key: from ``NABAT_SECRET_KEY`` or generated once into the data dir.

Separate purpose keys (secret encryption, token signing) are derived from the master key
with HKDF, so one leaked purpose key does not reveal another.
"""

from __future__ import annotations

import base64
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_FILE_NAME = "secret.key"


@dataclass(frozen=True)
class Keys:
    """Keys derived from the master secret, one per purpose."""

    fernet_key: bytes
    jwt_key: bytes


def load_master_secret(configured: str | None, data_dir: Path) -> str:
    """Return the configured master secret, or the one in ``data_dir``, creating it once.

    The generated file is written with 0600 permissions before any byte of the key
    reaches it, so no other local user can read it even briefly.
    """
    if configured:
        return configured
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / KEY_FILE_NAME
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    value = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")
    return value


def _derive(master: str, purpose: bytes) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"nabat", info=purpose)
    return hkdf.derive(master.encode("utf-8"))


def derive_keys(master: str) -> Keys:
    """Derive the per-purpose keys from the master secret."""
    return Keys(
        fernet_key=base64.urlsafe_b64encode(_derive(master, b"secrets-at-rest")),
        jwt_key=_derive(master, b"jwt-signing"),
    )
