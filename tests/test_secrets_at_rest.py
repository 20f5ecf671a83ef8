"""The master key file and encryption of secrets at rest."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from nabat.security.crypto import SecretBox
from nabat.security.keys import KEY_FILE_NAME, derive_keys, load_master_secret


def test_generated_key_file_is_private_and_stable(tmp_path: Path) -> None:
    first = load_master_secret(None, tmp_path / "data")
    path = tmp_path / "data" / KEY_FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_master_secret(None, tmp_path / "data") == first
    assert len(first) >= 40


def test_configured_key_wins_and_no_file_is_written(tmp_path: Path) -> None:
    assert load_master_secret("configured", tmp_path) == "configured"
    assert not (tmp_path / KEY_FILE_NAME).exists()


def test_sealed_config_round_trips_and_hides_the_plaintext() -> None:
    box = SecretBox(derive_keys("one").fernet_key)
    sealed = box.encrypt_json({"password": "hunter2-secret"})
    assert "hunter2" not in sealed
    assert box.decrypt_json(sealed) == {"password": "hunter2-secret"}


def test_a_different_key_cannot_open_it_and_says_why() -> None:
    sealed = SecretBox(derive_keys("one").fernet_key).encrypt_json({"a": 1})
    with pytest.raises(ValueError, match="NABAT_SECRET_KEY"):
        SecretBox(derive_keys("two").fernet_key).decrypt_json(sealed)


def test_purpose_keys_differ() -> None:
    keys = derive_keys("master")
    assert keys.jwt_key not in keys.fernet_key
    assert derive_keys("master") == keys
