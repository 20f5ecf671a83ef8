"""Rules and matchers: what is accepted, how it is stored, and which events a rule catches."""

from __future__ import annotations

from typing import Any

import pytest

from nabat.errors import ValidationFailed
from nabat.routing.matchers import event_values, parse_matchers
from nabat.routing.rules import (
    CompiledRule,
    compile_rule,
    normalise_actions,
    normalise_match,
    normalise_throttle,
)

ACTIONS = [{"channelId": 1, "recipients": ["ops@example.org"]}]


def rule(match: dict[str, Any]) -> CompiledRule:
    """A rule with ``match`` as a client would send it, checked and compiled."""
    return compile_rule(
        rule_id=1,
        name="test",
        match=normalise_match(match),
        actions=normalise_actions(ACTIONS),
        throttle=None,
        continue_matching=False,
    )


def event(
    type_key: str = "service.down",
    severity: str = "CRITICAL",
    source: str | None = "uptime",
    **labels: str,
) -> tuple[str, str, dict[str, str | None]]:
    """An event's type, severity and matcher values, as routing passes them."""
    snapshot = {"type": type_key, "severity": severity, "source": {"name": source}}
    return type_key, severity, event_values({**snapshot, "labels": labels})


def refusal(call: Any, *args: Any) -> tuple[str, str]:
    """The field and the message of the ValidationFailed ``call(*args)`` raises."""
    with pytest.raises(ValidationFailed) as caught:
        call(*args)
    [detail] = caught.value.details
    assert caught.value.message == f"{detail['field']}: {detail['message']}"
    return detail["field"], detail["message"]


# --- match ----------------------------------------------------------------------------


def test_an_empty_match_catches_every_event() -> None:
    assert rule({}).matches(*event())
    assert rule({}).matches(*event("object.created", "INFO", None))


@pytest.mark.parametrize(
    ("pattern", "type_key", "caught"),
    [
        ("service.down", "service.down", True),
        ("service.down", "service.up", False),
        ("service.*", "service.down", True),
        ("service.*", "object.created", False),
        ("*.down", "service.down", True),
        ("service.?p", "service.up", True),
        ("service.?p", "service.down", False),
    ],
)
def test_types_match_exactly_or_by_shell_wildcard(
    pattern: str, type_key: str, caught: bool
) -> None:
    assert rule({"types": [pattern]}).matches(*event(type_key)) is caught


def test_any_of_several_types_is_enough() -> None:
    matching = rule({"types": ["deadline.*", "service.down"]})
    assert matching.matches(*event("service.down"))
    assert matching.matches(*event("deadline.overdue"))
    assert not matching.matches(*event("service.up"))


def test_severities_are_upper_cased_and_any_listed_one_matches() -> None:
    assert normalise_match({"severities": ["error", "Critical"]})["severities"] == [
        "ERROR",
        "CRITICAL",
    ]
    matching = rule({"severities": ["error", "critical"]})
    assert matching.matches(*event(severity="CRITICAL"))
    assert not matching.matches(*event(severity="WARNING"))


def test_an_unknown_severity_is_refused_naming_its_place_and_the_choices() -> None:
    field, message = refusal(normalise_match, {"severities": ["ERROR", "fatal"]})
    assert field == "match.severities[1]"
    assert "'FATAL' is not a severity" in message
    assert "INFO, WARNING, ERROR, CRITICAL" in message


def test_a_type_that_is_not_a_key_is_refused() -> None:
    field, message = refusal(normalise_match, {"types": ["Service Down"]})
    assert field == "match.types[0]"
    assert "not a notification type key" in message


@pytest.mark.parametrize(
    ("op", "value", "env", "caught"),
    [
        ("=", "prod", "prod", True),
        ("=", "prod", "staging", False),
        ("!=", "prod", "staging", True),
        ("!=", "prod", "prod", False),
        ("=~", "prod|stage", "stage", True),
        # A regular expression must match the whole value, as in Alertmanager.
        ("=~", "prod", "production", False),
        ("!~", "prod.*", "staging", True),
        ("!~", "prod.*", "production", False),
    ],
)
def test_label_matchers_compare_by_their_operator(
    op: str, value: str, env: str, caught: bool
) -> None:
    matching = rule({"labels": [{"name": "env", "op": op, "value": value}]})
    assert matching.matches(*event(env=env)) is caught


def test_an_absent_label_counts_as_empty() -> None:
    assert not rule({"labels": [{"name": "env", "op": "=", "value": "prod"}]}).matches(*event())
    assert rule({"labels": [{"name": "env", "op": "!=", "value": "prod"}]}).matches(*event())
    assert rule({"labels": [{"name": "env", "op": "=", "value": ""}]}).matches(*event())


def test_every_label_matcher_must_hold() -> None:
    matching = rule({"labels": {"env": "prod", "team": "db"}})
    assert matching.matches(*event(env="prod", team="db"))
    assert not matching.matches(*event(env="prod", team="web"))


def test_the_label_shorthand_is_stored_as_equality_matchers() -> None:
    match = normalise_match({"labels": {"env": "prod", "port": 5432}})
    assert match["labels"] == [
        {"name": "env", "op": "=", "value": "prod"},
        {"name": "port", "op": "=", "value": "5432"},
    ]


def test_a_matcher_without_op_means_equality() -> None:
    [matcher] = parse_matchers([{"name": "env", "value": "prod"}], "labels")
    assert matcher.op == "="


@pytest.mark.parametrize(
    ("flags", "op"),
    [
        ({}, "="),
        ({"isRegex": True}, "=~"),
        ({"isEqual": False}, "!="),
        ({"isRegex": True, "isEqual": False}, "!~"),
    ],
)
def test_alertmanagers_flags_become_operators(flags: dict[str, bool], op: str) -> None:
    [matcher] = parse_matchers([{"name": "env", "value": "prod", **flags}], "matchers")
    assert matcher.op == op


def test_a_flag_given_as_a_string_is_refused_rather_than_read_as_true() -> None:
    raw = [{"name": "env", "value": "prod", "isRegex": "false"}]
    field, message = refusal(parse_matchers, raw, "matchers")
    assert field == "matchers[0].isRegex"
    assert message == "give true or false"


def test_a_matcher_on_an_event_field_tests_that_field_not_a_label() -> None:
    matching = rule({"labels": [{"name": "type", "op": "=~", "value": "service\\..*"}]})
    assert matching.matches(*event("service.down", type="other"))
    assert not matching.matches(*event("object.created", type="service.down"))


@pytest.mark.parametrize(
    "source",
    [
        "uptime",
        {"op": "=~", "value": "up.*"},
        [{"op": "!=", "value": "cron"}],
        [{"name": "source", "op": "=", "value": "uptime"}],
    ],
)
def test_source_is_a_name_or_matchers_on_the_events_source(source: Any) -> None:
    matching = rule({"source": source})
    assert matching.matches(*event(source="uptime"))
    assert not matching.matches(*event(source="cron"))
    stored = normalise_match({"source": source})["source"]
    assert all(matcher["name"] == "source" for matcher in stored)


def test_a_source_matcher_naming_something_else_is_refused() -> None:
    field, message = refusal(normalise_match, {"source": {"name": "host", "value": "db1"}})
    assert field == "match.source.name"
    assert "match.labels" in message


def test_a_bad_regular_expression_is_refused_naming_the_field() -> None:
    raw = {"labels": [{"name": "env", "op": "=~", "value": "prod(["}]}
    field, message = refusal(normalise_match, raw)
    assert field == "match.labels[0].value"
    assert "'prod([' is not a valid regular expression" in message


def test_an_unknown_operator_is_refused_listing_the_operators() -> None:
    field, message = refusal(normalise_match, {"labels": [{"name": "a", "op": "~=", "value": "b"}]})
    assert field == "match.labels[0].op"
    assert "=, !=, =~, !~" in message


def test_an_unknown_key_in_match_is_refused() -> None:
    field, message = refusal(normalise_match, {"type": ["service.down"]})
    assert field == "match"
    assert "unknown keys ['type']" in message


def test_a_normalised_match_normalises_to_itself() -> None:
    first = normalise_match(
        {"types": "service.*", "severities": "error", "labels": {"env": "prod"}, "source": "up"}
    )
    assert normalise_match(first) == first


# --- actions and throttle ---------------------------------------------------------------


def test_actions_are_stored_with_every_key() -> None:
    assert normalise_actions([{"channelId": 3}, {"channelId": 4, "recipients": "alice"}]) == [
        {"channelId": 3, "recipients": [], "templateId": None, "fallbackChannelIds": []},
        {"channelId": 4, "recipients": ["alice"], "templateId": None, "fallbackChannelIds": []},
    ]


@pytest.mark.parametrize(
    ("actions", "field"),
    [
        ([], "actions"),
        ([{"channelId": "one"}], "actions[0].channelId"),
        ([{"channelId": 1}, {"channelId": True}], "actions[1].channelId"),
        ([{"channelId": 1, "templateId": 0}], "actions[0].templateId"),
        ([{"channelId": 1, "recipients": [1]}], "actions[0].recipients"),
        ([{"channelId": 1, "channel": 2}], "actions[0]"),
    ],
)
def test_bad_actions_are_refused_naming_the_field(actions: list[Any], field: str) -> None:
    assert refusal(normalise_actions, actions)[0] == field


def test_throttle_takes_seconds_as_a_number_or_a_numeric_string() -> None:
    assert normalise_throttle({"repeatIntervalSeconds": "600", "groupBy": ["source"]}) == {
        "repeatIntervalSeconds": 600,
        "groupBy": ["source"],
    }
    assert normalise_throttle(None) is None


@pytest.mark.parametrize("interval", [0, -5, 31 * 24 * 3600, 1.5, None])
def test_a_throttle_interval_out_of_range_is_refused(interval: Any) -> None:
    field, _ = refusal(normalise_throttle, {"repeatIntervalSeconds": interval})
    assert field == "throttle.repeatIntervalSeconds"


def test_a_compiled_rule_carries_its_actions_throttle_and_continuation() -> None:
    compiled = compile_rule(
        rule_id=7,
        name="db",
        match=normalise_match({"types": ["service.down"]}),
        actions=normalise_actions([{"channelId": 2, "recipients": ["a", "b"], "templateId": 5}]),
        throttle=normalise_throttle({"repeatIntervalSeconds": 60, "groupBy": ["host"]}),
        continue_matching=True,
    )
    [action] = compiled.actions
    assert (action.channel_id, action.recipients, action.template_id) == (2, ("a", "b"), 5)
    assert compiled.throttle is not None
    assert (compiled.throttle.repeat_interval, compiled.throttle.group_by) == (60, ("host",))
    assert compiled.continue_matching is True
