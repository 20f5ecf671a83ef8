"""The alert Alertmanager's webhook sends (and Grafana's extends), turned into an event.

Everything here reads untrusted JSON: each complaint is a :class:`ValidationFailed`
naming the field (``alerts[1].status``), so the sender gets a 4xx it will not retry.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from nabat.errors import ValidationFailed
from nabat.routing.snapshot import iso
from nabat.schemas.inputs import in_utc
from nabat.services.event_input import EventInput

FIRING = "firing"
RESOLVED = "resolved"
TYPES = {FIRING: "alarm.raised", RESOLVED: "alarm.cleared"}

# ``labels.severity`` (any case) -> Nabat's severity. A resolved alert keeps its firing
# severity, so severity-based rules send the all-clear to whoever got the alarm.
SEVERITIES = {
    "critical": "CRITICAL",
    "error": "ERROR",
    "warning": "WARNING",
    "info": "INFO",
    "none": "INFO",
}
# No severity, or one we do not know: an alert someone wrote a rule for deserves notice,
# but we cannot claim it is critical.
UNKNOWN_SEVERITY = "WARNING"
# Event.dedup_key holds 300 characters; a fingerprint and an RFC 3339 time fit well below.
FINGERPRINT_MAX = 200
# Go's zero time.Time: what Alertmanager and Grafana send as ``endsAt`` of a firing alert.
GO_ZERO_YEAR = 1


def invalid(where: str, message: str) -> ValidationFailed:
    """The 422 for one field: ``"<where>: <message>"``, the field named in ``details``."""
    return ValidationFailed(
        f"{where}: {message}", details=[{"field": where, "message": message, "type": "value_error"}]
    )


def an_object(value: Any, where: str) -> Mapping[str, Any]:
    """``value`` if it is a JSON object; raises ValidationFailed otherwise."""
    if not isinstance(value, dict):
        raise invalid(where, f"must be a JSON object, not {_kind(value)}")
    return value


def text(value: Any, where: str) -> str | None:
    """A string field: ``None`` when absent or empty; raises ValidationFailed for other types."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise invalid(where, f"must be a string, not {_kind(value)}")
    return value


def string_map(value: Any, where: str) -> dict[str, str]:
    """Labels or annotations: an object whose values are text (numbers and booleans are
    taken as their text; ``null`` means none). Raises ValidationFailed for nested values."""
    if value is None:
        return {}
    found: dict[str, str] = {}
    for key, item in an_object(value, where).items():
        if isinstance(item, bool):
            found[key] = "true" if item else "false"
        elif isinstance(item, str | int | float):
            found[key] = str(item)
        elif item is not None:
            raise invalid(f"{where}.{key}", f"must be a string, not {_kind(item)}")
    return found


def moment(value: Any, where: str) -> datetime | None:
    """An RFC 3339 time, in UTC; ``None`` when absent, empty or Go's zero time
    (``0001-01-01T00:00:00Z``, what a firing alert has for ``endsAt``).

    Raises ValidationFailed for anything else that is not a time with a UTC offset.
    """
    raw = text(value, where)
    if raw is None:
        return None
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise invalid(where, f"{raw!r} is not an RFC 3339 time") from None
    if parsed.tzinfo is None:
        raise invalid(where, f"{raw!r} has no UTC offset; RFC 3339 times end in Z or ±hh:mm")
    if parsed.year == GO_ZERO_YEAR and parsed.utcoffset() == timedelta(0):
        return None
    try:
        return in_utc(parsed)
    except ValueError as exc:
        raise invalid(where, f"{raw!r} {exc}") from None


def severity_of(labels: Mapping[str, str]) -> str:
    """Nabat's severity for an alert's labels (see :data:`SEVERITIES`)."""
    word = labels.get("severity", "").strip().lower()
    return SEVERITIES.get(word, UNKNOWN_SEVERITY)


def labels_key(labels: Mapping[str, str]) -> str:
    """A stable identity for an alert without a fingerprint: a digest of its sorted labels
    (the label set is what identifies an alert in Alertmanager too)."""
    canonical = json.dumps(sorted(labels.items()), ensure_ascii=False, separators=(",", ":"))
    return "labels:" + hashlib.sha256(canonical.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Group:
    """What the envelope around the alerts says: shared by every event made from it."""

    origin: str
    receiver: str | None
    data: Mapping[str, Any] = field(default_factory=dict)


def envelope(payload: Any, *, tool: str, version: str) -> tuple[Mapping[str, Any], list[Any]]:
    """The payload object and its alerts, checked for what every alert needs.

    Raises ValidationFailed when the payload is not an object, its ``version`` is not
    ``version``, or ``alerts`` is not a non-empty list.
    """
    if not isinstance(payload, dict):
        raise invalid(
            "body", f"must be a JSON object ({tool}'s webhook payload), not {_kind(payload)}"
        )
    given = payload.get("version")
    if given != version:
        raise invalid(
            "version",
            f"Nabat reads {tool}'s webhook payload version {version!r}; this one has {given!r}",
        )
    alerts = payload.get("alerts")
    if not isinstance(alerts, list) or not alerts:
        found = "none" if alerts is None else _kind(alerts)
        raise invalid("alerts", f"must be a list of at least one alert; found {found}")
    return payload, alerts


def group_of(payload: Mapping[str, Any], origin: str, **extra: Any) -> Group:
    """The envelope fields each event's ``data`` carries, checked.

    Raises ValidationFailed naming a field of the wrong type.
    """
    truncated = payload.get("truncatedAlerts", 0)
    if isinstance(truncated, bool) or not isinstance(truncated, int) or truncated < 0:
        raise invalid("truncatedAlerts", "must be a whole number, 0 or more")
    receiver = text(payload.get("receiver"), "receiver")
    data = {
        "receiver": receiver,
        "groupKey": text(payload.get("groupKey"), "groupKey"),
        "externalURL": text(payload.get("externalURL"), "externalURL"),
        "truncatedAlerts": truncated,
        **extra,
    }
    return Group(origin=origin, receiver=receiver, data=data)


def _message(annotations: Mapping[str, str], name: str | None, status: str) -> str:
    said = [annotations.get("summary"), annotations.get("description")]
    parts = list(dict.fromkeys(part.strip() for part in said if part and part.strip()))
    return "\n".join(parts) if parts else f"{name or 'alert'}: {status}"


def alert_event(
    raw: Any, where: str, group: Group, extra: Mapping[str, Any] | None = None
) -> EventInput:
    """One alert as an event (the mapping is documented in docs/integrations.md).

    ``extra`` is added to the event's ``data`` (Grafana's links and values). Raises
    ValidationFailed naming the field for a malformed alert.
    """
    alert = an_object(raw, where)
    status = alert.get("status")
    if not isinstance(status, str) or status not in TYPES:
        raise invalid(f"{where}.status", f"must be 'firing' or 'resolved', not {status!r}")
    if alert.get("labels") is None:
        raise invalid(f"{where}.labels", "required: the labels that identify the alert")
    labels = string_map(alert["labels"], f"{where}.labels")
    annotations = string_map(alert.get("annotations"), f"{where}.annotations")
    starts_at = moment(alert.get("startsAt"), f"{where}.startsAt")
    ends_at = moment(alert.get("endsAt"), f"{where}.endsAt")
    url = text(alert.get("generatorURL"), f"{where}.generatorURL")
    fingerprint = text(alert.get("fingerprint"), f"{where}.fingerprint")
    if fingerprint is not None and len(fingerprint) > FINGERPRINT_MAX:
        raise invalid(f"{where}.fingerprint", f"must be at most {FINGERPRINT_MAX} characters")
    identity = fingerprint or labels_key(labels)
    name = labels.get("alertname")
    return EventInput(
        type=TYPES[status],
        severity=severity_of(labels),
        message=_message(annotations, name, status),
        source={"name": labels.get("job") or name or group.receiver, "url": url},
        subject={"objectType": "alert", "objectId": identity, "title": name, "status": status},
        labels=labels,
        data={
            "annotations": annotations,
            "startsAt": iso(starts_at) if starts_at else None,
            "endsAt": iso(ends_at) if ends_at else None,
            "generatorURL": url,
            "fingerprint": fingerprint,
            **group.data,
            **(extra or {}),
        },
        occurred_at=starts_at if status == FIRING else ends_at,
        # One firing episode is one alarm: Alertmanager keeps ``startsAt`` while an alert
        # stays active, so HA twins and repeats share the key, while the same alert firing
        # again after it resolved (a new ``startsAt``) is news.
        dedup_key=f"{identity}@{iso(starts_at)}" if starts_at else identity,
        origin=group.origin,
    )


def _kind(value: Any) -> str:
    """A JSON value's kind in words, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"
