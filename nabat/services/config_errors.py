"""Turn pydantic's validation errors on a channel configuration into sentences that say
what to fix: the field, the problem, and for unknown keys the keys the type accepts."""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import ValidationError

from nabat.channels.base import ChannelConfig
from nabat.errors import ValidationFailed


def _describe(error: Any, model: type[ChannelConfig]) -> tuple[str, str]:
    # Checks across keys name the key at fault in their context (channels.base.config_error).
    key = (error.get("ctx") or {}).get("configKey")
    loc = str(key) if key else ".".join(str(part) for part in error["loc"])
    field = f"configuration.{loc}" if loc else "configuration"
    kind = error["type"]
    if kind == "extra_forbidden":
        allowed = ", ".join(model.wire_keys())
        guess = difflib.get_close_matches(str(error["loc"][-1]), model.wire_keys(), n=1)
        hint = f"did you mean {guess[0]!r}? " if guess else ""
        message = f"unknown key for {model.type_name}; {hint}allowed keys: {allowed}"
    elif kind == "missing" and not key:
        message = f"required for {model.type_name} but missing"
    else:
        message = str(error["msg"])
        message = message.removeprefix("Value error, ")
    return field, message


def config_validation_failed(exc: ValidationError, model: type[ChannelConfig]) -> ValidationFailed:
    """Build the 422 for a configuration that does not fit ``model``."""
    details = []
    # An unknown key is usually the cause of a "missing" one (a typo), so it comes first.
    errors = sorted(
        exc.errors(include_url=False, include_input=False),
        key=lambda error: error["type"] != "extra_forbidden",
    )
    for error in errors:
        field, message = _describe(error, model)
        details.append({"field": field, "message": message, "type": error["type"]})
    first = details[0]
    more = f" (and {len(details) - 1} more problem(s), see details)" if len(details) > 1 else ""
    return ValidationFailed(f"{first['field']}: {first['message']}{more}", details=details)
