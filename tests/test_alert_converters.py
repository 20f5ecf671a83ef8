"""Alertmanager's and Grafana's webhook payloads turned into events (pure, no database)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from nabat.errors import ValidationFailed
from nabat.integrations import alertmanager, grafana
from tests.fixtures import payload

AM = "alertmanager_v4.json"
GRAFANA = "grafana_webhook.json"


def alert(**changes: Any) -> dict[str, Any]:
    """One Alertmanager alert (the fixture's firing one) with ``changes``."""
    first: dict[str, Any] = payload(AM)["alerts"][0]
    return {**first, **changes}


def one(**changes: Any) -> dict[str, Any]:
    """An Alertmanager payload holding just ``alert(**changes)``."""
    body: dict[str, Any] = payload(AM)
    body["alerts"] = [alert(**changes)]
    return body


def test_the_documented_alertmanager_payload_makes_one_event_per_alert() -> None:
    firing, resolved = alertmanager.events_from(payload(AM))
    assert firing.type == "alarm.raised"
    assert firing.severity == "CRITICAL"
    assert firing.origin == "alertmanager"
    assert firing.message == (
        "web-1:9100 is down\nweb-1:9100 of job node has been down for more than 5 minutes."
    )
    assert firing.source == {
        "name": "node",
        "url": "http://prometheus.example.org:9090/graph?g0.expr=up+%3D%3D+0&g0.tab=1",
    }
    assert firing.subject == {
        "objectType": "alert",
        "objectId": "b2d0c6ef1f4f5a39",
        "title": "InstanceDown",
        "status": "firing",
    }
    assert firing.labels == {
        "alertname": "InstanceDown",
        "env": "prod",
        "instance": "web-1:9100",
        "job": "node",
        "severity": "critical",
    }
    assert firing.occurred_at == datetime(2026, 11, 30, 21, 4, 5, 123456, tzinfo=UTC)
    assert firing.dedup_key == "b2d0c6ef1f4f5a39@2026-11-30T21:04:05.123456Z"
    assert firing.data == {
        "annotations": {
            "summary": "web-1:9100 is down",
            "description": "web-1:9100 of job node has been down for more than 5 minutes.",
        },
        "startsAt": "2026-11-30T21:04:05.123456Z",
        "endsAt": None,  # Go's zero time: no end yet
        "generatorURL": "http://prometheus.example.org:9090/graph?g0.expr=up+%3D%3D+0&g0.tab=1",
        "fingerprint": "b2d0c6ef1f4f5a39",
        "receiver": "nabat",
        "groupKey": '{}/{env="prod"}:{alertname="InstanceDown"}',
        "externalURL": "http://alertmanager.example.org:9093",
        "truncatedAlerts": 0,
    }
    assert resolved.type == "alarm.cleared"
    assert resolved.severity == "WARNING"
    assert resolved.message == "web-2:9100 is down"
    assert resolved.subject["status"] == "resolved"
    # A resolved alert happened when it ended; times are kept in UTC.
    assert resolved.occurred_at == datetime(2026, 11, 30, 18, 0, tzinfo=UTC)
    assert resolved.data["startsAt"] == "2026-11-30T17:40:00Z"
    assert resolved.dedup_key == "4a8c1e2f6d3b9e07@2026-11-30T17:40:00Z"


@pytest.mark.parametrize(
    ("severity", "expected"),
    [
        ("critical", "CRITICAL"),
        ("CRITICAL", "CRITICAL"),
        ("error", "ERROR"),
        ("Warning", "WARNING"),
        ("info", "INFO"),
        ("none", "INFO"),
        ("page", "WARNING"),
        (None, "WARNING"),
    ],
)
@pytest.mark.parametrize("status", ["firing", "resolved"])
def test_severity_comes_from_the_severity_label_and_stays_when_resolved(
    severity: str | None, expected: str, status: str
) -> None:
    labels = {"alertname": "DiskFull"} | ({"severity": severity} if severity else {})
    [event] = alertmanager.events_from(one(status=status, labels=labels))
    assert event.severity == expected


def test_a_repeat_of_one_firing_episode_shares_its_key_and_a_new_episode_does_not() -> None:
    [first] = alertmanager.events_from(one())
    [again] = alertmanager.events_from(one())
    [cleared] = alertmanager.events_from(one(status="resolved", endsAt="2026-11-30T22:00:00Z"))
    [refired] = alertmanager.events_from(one(startsAt="2026-11-30T23:00:00Z"))
    assert again.dedup_key == first.dedup_key
    # Same key, other type: ingest's dedup treats the all-clear as news.
    assert (cleared.dedup_key, cleared.type) == (first.dedup_key, "alarm.cleared")
    assert refired.dedup_key != first.dedup_key


def test_without_a_fingerprint_the_sorted_labels_identify_the_alert() -> None:
    labels = {"alertname": "DiskFull", "instance": "db-1", "severity": "error"}
    [first] = alertmanager.events_from(one(fingerprint=None, labels=labels))
    shuffled = dict(reversed(list(labels.items())))
    [same] = alertmanager.events_from(one(fingerprint=None, labels=shuffled))
    [other] = alertmanager.events_from(one(fingerprint=None, labels={**labels, "instance": "db-2"}))
    assert first.subject["objectId"] == same.subject["objectId"]
    assert str(first.subject["objectId"]).startswith("labels:")
    assert first.dedup_key == same.dedup_key != other.dedup_key
    assert first.data["fingerprint"] is None


@pytest.mark.parametrize(
    ("annotations", "message"),
    [
        ({"summary": "Disk almost full"}, "Disk almost full"),
        ({"description": "Only 3% left on /var"}, "Only 3% left on /var"),
        ({"summary": "Same words", "description": "Same words"}, "Same words"),
        ({}, "DiskFull: firing"),
        (None, "DiskFull: firing"),
    ],
)
def test_the_message_is_the_summary_and_description(
    annotations: dict[str, str] | None, message: str
) -> None:
    [event] = alertmanager.events_from(
        one(labels={"alertname": "DiskFull"}, annotations=annotations)
    )
    assert event.message == message
    assert event.source["name"] == "DiskFull"  # no job label: the alert's name


def test_unknown_fields_are_ignored_and_numbers_in_labels_become_text() -> None:
    body = one(labels={"alertname": "X", "port": 8080, "up": False}, extra={"a": [1]})
    body["notification_reason"] = "new_alerts"
    body["truncatedAlerts"] = 3
    [event] = alertmanager.events_from(body)
    assert event.labels == {"alertname": "X", "port": "8080", "up": "false"}
    assert event.data["truncatedAlerts"] == 3
    assert "extra" not in event.data


def _alerts(value: Any) -> dict[str, Any]:
    body: dict[str, Any] = payload(AM)
    body["alerts"] = value
    return body


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ([1, 2], "body", "must be a JSON object"),
        ({**payload(AM), "version": "3"}, "version", "'4'"),
        ({k: v for k, v in payload(AM).items() if k != "version"}, "version", "None"),
        ({**payload(AM), "version": 4}, "version", "has 4"),
        ({k: v for k, v in payload(AM).items() if k != "alerts"}, "alerts", "found none"),
        (_alerts([]), "alerts", "at least one"),
        (_alerts({"status": "firing"}), "alerts", "found an object"),
        (_alerts(["firing"]), "alerts[0]", "must be a JSON object"),
        (one(status="pending"), "alerts[0].status", "'pending'"),
        (one(status=["firing"]), "alerts[0].status", "'firing' or 'resolved'"),
        (one(labels=None), "alerts[0].labels", "required"),
        (one(labels={"alertname": {"x": 1}}), "alerts[0].labels.alertname", "string"),
        (one(annotations="text"), "alerts[0].annotations", "JSON object"),
        (one(startsAt="yesterday"), "alerts[0].startsAt", "RFC 3339"),
        (one(startsAt="2026-11-30T21:04:05"), "alerts[0].startsAt", "UTC offset"),
        (one(endsAt=17), "alerts[0].endsAt", "string"),
        (one(fingerprint=123), "alerts[0].fingerprint", "string"),
        (one(fingerprint="f" * 201), "alerts[0].fingerprint", "at most 200"),
        (one(generatorURL=["x"]), "alerts[0].generatorURL", "string"),
        ({**payload(AM), "truncatedAlerts": -1}, "truncatedAlerts", "0 or more"),
        ({**payload(AM), "receiver": 5}, "receiver", "string"),
    ],
)
def test_a_malformed_alertmanager_payload_is_refused_naming_the_field(
    body: Any, field: str, words: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        alertmanager.events_from(body)
    assert caught.value.message.startswith(f"{field}: ")
    assert words in caught.value.message
    assert caught.value.details[0]["field"] == field


def test_the_second_alert_is_named_when_it_is_the_bad_one() -> None:
    body: dict[str, Any] = payload(AM)
    body["alerts"][1]["status"] = "ok"
    with pytest.raises(ValidationFailed, match=r"^alerts\[1\]\.status: "):
        alertmanager.events_from(body)


def test_the_documented_grafana_payload_keeps_its_links_and_values() -> None:
    memory, cpu = grafana.events_from(payload(GRAFANA))
    assert (memory.type, memory.severity, memory.origin) == ("alarm.raised", "WARNING", "grafana")
    assert (
        memory.message == "This alert was triggered for zone us-1\nThe system has high memory usage"
    )
    assert memory.source == {
        "name": "High memory usage",
        "url": "https://grafana.example.org/alerting/1afz29v7z/edit",
    }
    assert memory.subject["objectId"] == "c6eadffa33fcdf37"
    assert memory.labels == {"alertname": "High memory usage", "team": "blue", "zone": "us-1"}
    assert memory.occurred_at == datetime(2026, 11, 30, 7, 51, 3, 157076, tzinfo=UTC)
    assert memory.data["values"] == {"B": 44.23943737541908, "C": 1}
    assert memory.data["valueString"] is None
    assert memory.data["dashboardURL"] is None  # Grafana sends "" for "no dashboard"
    assert memory.data["silenceURL"].startswith("https://grafana.example.org/alerting/silence/")
    assert memory.data["orgId"] == 1
    assert memory.data["annotations"]["runbook_url"] == "https://runbooks.example.org/memory"
    assert cpu.data["panelURL"] == "https://grafana.example.org/d/cpu-dashboard?viewPanel=2"
    assert cpu.data["imageURL"] is None
    assert cpu.dedup_key == "bc97ff14869b13e3@2026-11-30T07:56:03.157076Z"


def test_grafana_before_9_3_sends_a_value_string_instead_of_values() -> None:
    body: dict[str, Any] = payload(GRAFANA)
    for item in body["alerts"]:
        del item["values"]
        item["valueString"] = "[ var='B' labels={} value=44.2 ]"
    events = grafana.events_from(body)
    assert [event.data["valueString"] for event in events] == [
        "[ var='B' labels={} value=44.2 ]"
    ] * 2
    assert all(event.data["values"] is None for event in events)


def _grafana(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = payload(GRAFANA)
    body["alerts"][0].update(changes)
    return body


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**payload(GRAFANA), "version": "4"}, "version"),
        ({**payload(GRAFANA), "orgId": "1"}, "orgId"),
        (_grafana(values={"B": "high"}), "alerts[0].values.B"),
        (_grafana(values=[1, 2]), "alerts[0].values"),
        (_grafana(panelURL=7), "alerts[0].panelURL"),
        (_grafana(status="alerting"), "alerts[0].status"),
    ],
)
def test_a_malformed_grafana_payload_is_refused_naming_the_field(body: Any, field: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        grafana.events_from(body)
    assert caught.value.details[0]["field"] == field
