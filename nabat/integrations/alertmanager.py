"""Prometheus Alertmanager's webhook payload (version 4): one event per alert.

See CONTRACTS.md section 8 and docs/integrations.md for the mapping.
"""

from __future__ import annotations

from typing import Any

from nabat.integrations.alerts import alert_event, envelope, group_of
from nabat.services.event_input import EventInput

ORIGIN = "alertmanager"
VERSION = "4"


def events_from(payload: Any) -> list[EventInput]:
    """The events of an Alertmanager webhook payload, in the order of its alerts.

    Unknown fields are ignored (newer Alertmanagers add some, ``notification_reason`` say).
    Raises :class:`~nabat.errors.ValidationFailed` naming the field for a payload that is
    not an object, has another ``version``, no ``alerts``, or a malformed alert.
    """
    body, alerts = envelope(payload, tool="Alertmanager", version=VERSION)
    group = group_of(body, ORIGIN)
    return [alert_event(alert, f"alerts[{index}]", group) for index, alert in enumerate(alerts)]
