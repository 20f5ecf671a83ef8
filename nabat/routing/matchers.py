"""Matchers: ``name op value`` tests on an event's fields and labels.

Rules (their label part) and silences are lists of matchers, all of which must hold. The
operators are Alertmanager's: ``=``, ``!=``, ``=~``, ``!~``; a regex must match the whole
value, as there.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nabat.errors import ValidationFailed
from nabat.sentences import Sentence

OPERATORS = ("=", "!=", "=~", "!~")
# A user's regex runs on every event: keep it short enough to review (and to bound).
MAX_REGEX = 500
# Names that test an event's own fields; every other name tests a label.
FIELDS = (
    "type",
    "severity",
    "source",
    "objectType",
    "objectId",
    "status",
    "channelId",
    "channelType",
)


@dataclass(frozen=True)
class Matcher:
    """One test: the value of ``name`` compared with ``value`` by ``op``."""

    name: str
    op: str
    value: str
    pattern: re.Pattern[str] | None = None

    def holds(self, values: Mapping[str, str | None]) -> bool:
        """Whether this matcher holds for ``values`` (absent names count as "")."""
        actual = values.get(self.name) or ""
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        assert self.pattern is not None
        found = self.pattern.fullmatch(actual) is not None
        return found if self.op == "=~" else not found

    def to_json(self) -> dict[str, str]:
        """The stored and shown form."""
        return {"name": self.name, "op": self.op, "value": self.value}


def _fail(where: str, message: str) -> ValidationFailed:
    return ValidationFailed(
        Sentence("{field}: {message}", field=where, message=message),
        details=[{"field": where, "message": message}],
    )


def compile_regex(value: str, where: str) -> re.Pattern[str]:
    """Compile a user's regular expression, or say what is wrong with it."""
    if len(value) > MAX_REGEX:
        raise _fail(
            where,
            Sentence("the regular expression is longer than {most} characters", most=MAX_REGEX),
        )
    try:
        return re.compile(value)
    except re.error as exc:
        raise _fail(
            where,
            Sentence(
                "{value!r} is not a valid regular expression: {reason}",
                value=value,
                reason=str(exc),
            ),
        ) from exc


def _flag(raw: Mapping[str, Any], key: str, *, default: bool, where: str) -> bool:
    # bool("false") is True: a string flag would silently flip the matcher's meaning.
    value = raw.get(key, default)
    if not isinstance(value, bool):
        raise _fail(f"{where}.{key}", "give true or false")
    return value


def parse_matcher(raw: Any, where: str) -> Matcher:
    """One matcher from ``{"name", "op", "value"}`` (``op`` defaults to ``=``)."""
    if not isinstance(raw, Mapping):
        raise _fail(where, 'a matcher is an object {"name": …, "op": "=", "value": …}')
    unknown = sorted(set(raw) - {"name", "op", "value", "isRegex", "isEqual"})
    if unknown:
        raise _fail(
            where,
            Sentence("unknown keys {unknown}; a matcher has name, op and value", unknown=unknown),
        )
    name, value = raw.get("name"), raw.get("value")
    if not isinstance(name, str) or not name.strip():
        raise _fail(f"{where}.name", "give the field or label name to match")
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _fail(f"{where}.value", "give the value to compare with, as a string")
    op = raw.get("op")
    if op is None:
        # Alertmanager's silence form: isRegex / isEqual flags instead of an operator.
        regex = _flag(raw, "isRegex", default=False, where=where)
        equal = _flag(raw, "isEqual", default=True, where=where)
        op = ("=~" if regex else "=") if equal else ("!~" if regex else "!=")
    if op not in OPERATORS:
        raise _fail(
            f"{where}.op",
            Sentence(
                "{op!r} is not an operator; use one of {operators}",
                op=op,
                operators=", ".join(OPERATORS),
            ),
        )
    text = str(value)
    pattern = compile_regex(text, f"{where}.value") if op in ("=~", "!~") else None
    return Matcher(name=name.strip(), op=op, value=text, pattern=pattern)


def parse_matchers(raw: Any, where: str) -> list[Matcher]:
    """Matchers from a list of matcher objects, or from ``{"label": "value"}`` shorthand."""
    if raw is None:
        return []
    if isinstance(raw, Mapping):
        return [
            parse_matcher({"name": key, "op": "=", "value": value}, f"{where}.{key}")
            for key, value in raw.items()
        ]
    if not isinstance(raw, list):
        raise _fail(where, "give a list of matchers or an object of label: value pairs")
    return [parse_matcher(item, f"{where}[{index}]") for index, item in enumerate(raw)]


def all_hold(matchers: list[Matcher], values: Mapping[str, str | None]) -> bool:
    """Whether every matcher holds (an empty list always does)."""
    return all(matcher.holds(values) for matcher in matchers)


def event_values(
    event: Mapping[str, Any], *, channel_id: int | None = None, channel_type: str | None = None
) -> dict[str, str | None]:
    """The names a matcher can test, from an event snapshot (labels first, fields win)."""
    subject = event.get("subject") or {}
    values: dict[str, str | None] = {
        str(key): None if value is None else str(value)
        for key, value in (event.get("labels") or {}).items()
    }
    values.update(
        {
            "type": event.get("type"),
            "severity": event.get("severity"),
            "source": (event.get("source") or {}).get("name"),
            "objectType": subject.get("objectType"),
            "objectId": None if subject.get("objectId") is None else str(subject["objectId"]),
            "status": subject.get("status"),
            "channelId": None if channel_id is None else str(channel_id),
            "channelType": channel_type,
        }
    )
    return values
