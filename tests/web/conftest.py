"""The console's tests run on SQLite only: the pages call the same services as the API,
whose tests run on both databases; what is the console's own (forms, wording, sessions,
the browser) does not depend on the database."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import Backend


@pytest.fixture
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """A fresh, migrated SQLite database."""
    template: Path = request.getfixturevalue("sqlite_template")
    target = tmp_path / "nabat.db"
    shutil.copy(template, target)
    return Backend("sqlite", f"sqlite+aiosqlite:///{target}")
