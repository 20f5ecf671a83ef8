"""Grafana-managed alerting's webhook payload (version 1): one event per alert.

It is Alertmanager's payload plus ``orgId``, a group ``title``/``state``/``message``
(Grafana's own rendering of the whole group, not used: each alert is an event of its
own) and, per alert, links and the values that made it fire. Payloads shaped by a custom
payload template are not this shape and are refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nabat.integrations.alerts import alert_event, an_object, envelope, group_of, invalid, text
from nabat.services.event_input import EventInput

ORIGIN = "grafana"
VERSION = "1"
LINKS = ("dashboardURL", "panelURL", "silenceURL", "imageURL")


def _org(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid("orgId", "must be a whole number (the Grafana organisation's id)")
    return value


def _values(value: Any, where: str) -> dict[str, float | int] | None:
    """``values``: the numbers of the rule's expressions by reference id (Grafana 9+)."""
    if value is None:
        return None
    found: dict[str, float | int] = {}
    for key, number in an_object(value, where).items():
        if isinstance(number, bool) or not isinstance(number, int | float | None):
            raise invalid(f"{where}.{key}", "must be a number")
        if number is not None:
            found[key] = number
    return found


def _extra(raw: Any, where: str) -> dict[str, Any]:
    """Grafana's own fields of one alert, checked (an alert that is no object is left to
    the shared check, which names it)."""
    if not isinstance(raw, Mapping):
        return {}
    extra: dict[str, Any] = {name: text(raw.get(name), f"{where}.{name}") for name in LINKS}
    extra["values"] = _values(raw.get("values"), f"{where}.values")
    # Grafana before 9.3 sent a rendering of the values instead of the numbers.
    extra["valueString"] = text(raw.get("valueString"), f"{where}.valueString")
    return extra


def events_from(payload: Any) -> list[EventInput]:
    """The events of a Grafana webhook payload, in the order of its alerts.

    Raises :class:`~nabat.errors.ValidationFailed` naming the field for a payload that is
    not an object, has another ``version``, no ``alerts``, or a malformed alert.
    """
    body, alerts = envelope(payload, tool="Grafana", version=VERSION)
    group = group_of(body, ORIGIN, orgId=_org(body.get("orgId")))
    return [
        alert_event(alert, f"alerts[{index}]", group, _extra(alert, f"alerts[{index}]"))
        for index, alert in enumerate(alerts)
    ]
