"""The one error document shape, checked strictly."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

ERROR_KEYS = {"success", "code", "error", "details", "timestamp"}


def expect_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Check the status and the error document's exact shape; return the document."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert "Traceback" not in response.text
    assert 'File "' not in response.text
    body: dict[str, Any] = response.json()
    assert set(body) == ERROR_KEYS, body
    assert body["success"] is False
    assert body["code"] == code, body
    assert isinstance(body["error"], str)
    assert body["error"].strip()
    assert isinstance(body["details"], list)
    stamp = datetime.fromisoformat(body["timestamp"])
    assert stamp.tzinfo is not None
    return body
