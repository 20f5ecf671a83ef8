"""Reading channel lists in tests: every project also has the in-app channel Nabat made."""

from __future__ import annotations

from typing import Any


def made_by_people(channels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The channels the project's people made: all but the in-app one every project has."""
    return [channel for channel in channels if channel["type"] != "INAPP"]
