"""A rule's stored JSON, checked and normalised, and its compiled form for matching.

``match``: ``{"types": [...], "severities": [...], "labels": [matchers] | {"k": "v"},
"source": "name" | matcher | [matchers]}`` — every part given must hold; types may use
shell wildcards (``service.*``). ``actions``: ``[{"channelId", "recipients", "templateId",
"fallbackChannelIds"}]``.
``throttle``: ``{"repeatIntervalSeconds", "groupBy": [names]}``.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nabat.catalogue import SEVERITIES
from nabat.errors import ValidationFailed
from nabat.routing.matchers import Matcher, all_hold, parse_matchers
from nabat.sentences import Sentence

_TYPE_PATTERN = re.compile(r"^[a-z0-9_.*?-]{1,100}$")
MAX_ACTIONS = 20
MAX_RECIPIENTS = 100
MAX_FALLBACK = 5
MAX_REPEAT_INTERVAL = 30 * 24 * 3600


def _fail(where: str, message: str) -> ValidationFailed:
    return ValidationFailed(
        Sentence("{field}: {message}", field=where, message=message),
        details=[{"field": where, "message": message}],
    )


def _strings(raw: Any, where: str) -> list[str]:
    if raw is None:
        return []
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        raise _fail(where, "give a list of strings")
    return [item.strip() for item in raw if item.strip()]


def _keys(raw: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    unknown = sorted(set(raw) - set(allowed))
    if unknown:
        raise _fail(
            where,
            Sentence(
                "unknown keys {unknown}; allowed: {allowed}",
                unknown=unknown,
                allowed=", ".join(allowed),
            ),
        )


def _source_matcher(raw: Mapping[str, Any], where: str) -> dict[str, Any]:
    # A matcher under "source" tests the event's source; another name would quietly turn
    # it into a label test (and the stored rule would not say what it was meant to do).
    name = raw.get("name", "source")
    if name != "source":
        raise _fail(
            f"{where}.name",
            Sentence(
                "a source matcher tests the event's source, not {name!r}; "
                "put label tests under match.labels",
                name=name,
            ),
        )
    return {**raw, "name": "source"}


def normalise_match(raw: Any, where: str = "match") -> dict[str, Any]:
    """The stored form of a rule's ``match``; raises ValidationFailed naming the field."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise _fail(where, "give an object with types, severities, labels and/or source")
    _keys(raw, ("types", "severities", "labels", "source"), where)
    types = _strings(raw.get("types"), f"{where}.types")
    for index, key in enumerate(types):
        if not _TYPE_PATTERN.fullmatch(key):
            raise _fail(
                f"{where}.types[{index}]",
                Sentence(
                    "{key!r} is not a notification type key (lower case, dots; * wildcards)",
                    key=key,
                ),
            )
    severities = [s.upper() for s in _strings(raw.get("severities"), f"{where}.severities")]
    for index, severity in enumerate(severities):
        if severity not in SEVERITIES:
            raise _fail(
                f"{where}.severities[{index}]",
                Sentence(
                    "{severity!r} is not a severity; use {severities}",
                    severity=severity,
                    severities=", ".join(SEVERITIES),
                ),
            )
    labels = parse_matchers(raw.get("labels"), f"{where}.labels")
    source = raw.get("source")
    if isinstance(source, str):
        source = [{"name": "source", "op": "=", "value": source}]
    elif isinstance(source, Mapping):
        source = [_source_matcher(source, f"{where}.source")]
    elif isinstance(source, list):
        source = [
            _source_matcher(item, f"{where}.source[{index}]") if isinstance(item, Mapping) else item
            for index, item in enumerate(source)
        ]
    source_matchers = parse_matchers(source, f"{where}.source")
    return {
        "types": types,
        "severities": severities,
        "labels": [m.to_json() for m in labels],
        "source": [m.to_json() for m in source_matchers],
    }


def normalise_actions(raw: Any, where: str = "actions") -> list[dict[str, Any]]:
    """The stored form of a rule's ``actions`` (channel existence is the caller's check)."""
    if not isinstance(raw, list) or not raw:
        raise _fail(where, "give at least one action {channelId, recipients, templateId}")
    if len(raw) > MAX_ACTIONS:
        raise _fail(where, Sentence("at most {most} actions per rule", most=MAX_ACTIONS))
    actions: list[dict[str, Any]] = []
    for index, item in enumerate(raw):
        at = f"{where}[{index}]"
        if not isinstance(item, Mapping):
            raise _fail(at, "an action is an object {channelId, recipients, templateId}")
        _keys(item, ("channelId", "recipients", "templateId", "fallbackChannelIds"), at)
        channel_id = item.get("channelId")
        if not isinstance(channel_id, int) or not _is_id(channel_id):
            raise _fail(f"{at}.channelId", "give the id of one of the project's channels")
        fallback = _fallback(item.get("fallbackChannelIds"), channel_id, f"{at}.fallbackChannelIds")
        recipients = _strings(item.get("recipients"), f"{at}.recipients")
        if len(recipients) > MAX_RECIPIENTS:
            raise _fail(
                f"{at}.recipients",
                Sentence("at most {most} recipients per action", most=MAX_RECIPIENTS),
            )
        template_id = item.get("templateId")
        if template_id is not None and (
            isinstance(template_id, bool) or not isinstance(template_id, int) or template_id < 1
        ):
            raise _fail(f"{at}.templateId", "give the id of one of the project's templates")
        actions.append(
            {
                "channelId": channel_id,
                "recipients": recipients,
                "templateId": template_id,
                "fallbackChannelIds": fallback,
            }
        )
    return actions


def _is_id(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int) and value >= 1


def _fallback(raw: Any, channel_id: int, where: str) -> list[int]:
    """An action's fallback chain: other channels' ids, in the order they are tried."""
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(_is_id(item) for item in raw):
        raise _fail(where, "give a list of channel ids, tried in order when the first fails")
    if len(raw) > MAX_FALLBACK:
        raise _fail(
            where, Sentence("at most {most} fallback channels per action", most=MAX_FALLBACK)
        )
    chain = [channel_id, *raw]
    if len(set(chain)) != len(chain):
        raise _fail(where, "a channel may appear only once in a chain, the action's own included")
    return list(raw)


def normalise_throttle(raw: Any, where: str = "throttle") -> dict[str, Any] | None:
    """The stored form of a rule's ``throttle`` (None: no throttle)."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise _fail(where, "give {repeatIntervalSeconds, groupBy} or null")
    _keys(raw, ("repeatIntervalSeconds", "groupBy"), where)
    interval = raw.get("repeatIntervalSeconds")
    if isinstance(interval, str) and interval.strip().isdigit():
        interval = int(interval)
    if isinstance(interval, bool) or not isinstance(interval, int):
        raise _fail(f"{where}.repeatIntervalSeconds", "give a whole number of seconds")
    if not 1 <= interval <= MAX_REPEAT_INTERVAL:
        raise _fail(
            f"{where}.repeatIntervalSeconds",
            Sentence("must be between 1 and {most} seconds (30 days)", most=MAX_REPEAT_INTERVAL),
        )
    return {
        "repeatIntervalSeconds": interval,
        "groupBy": _strings(raw.get("groupBy"), f"{where}.groupBy"),
    }


@dataclass(frozen=True)
class Action:
    """Deliver over one channel, to these recipients, with this template."""

    channel_id: int
    recipients: tuple[str, ...]
    template_id: int | None
    # The channels tried next, in order, when this one cannot deliver.
    fallback: tuple[int, ...] = ()


@dataclass(frozen=True)
class Throttle:
    """At most one pass per group of events in each interval."""

    repeat_interval: int
    group_by: tuple[str, ...]


@dataclass(frozen=True)
class CompiledRule:
    """A rule ready to test events against."""

    id: int
    name: str
    types: tuple[str, ...]
    severities: frozenset[str]
    matchers: tuple[Matcher, ...]
    actions: tuple[Action, ...]
    throttle: Throttle | None
    continue_matching: bool

    def matches(self, type_key: str, severity: str, values: Mapping[str, str | None]) -> bool:
        """Whether an event (its type, severity and matcher values) falls under this rule."""
        if self.types and not any(
            pattern == type_key or fnmatch.fnmatchcase(type_key, pattern) for pattern in self.types
        ):
            return False
        if self.severities and severity not in self.severities:
            return False
        return all_hold(list(self.matchers), values)


def compile_rule(
    *,
    rule_id: int,
    name: str,
    match: Mapping[str, Any],
    actions: list[Any],
    throttle: Mapping[str, Any] | None,
    continue_matching: bool,
) -> CompiledRule:
    """A stored rule (already normalised) in its matching form."""
    matchers = parse_matchers(match.get("labels"), "match.labels") + parse_matchers(
        match.get("source"), "match.source"
    )
    return CompiledRule(
        id=rule_id,
        name=name,
        types=tuple(match.get("types") or ()),
        severities=frozenset(match.get("severities") or ()),
        matchers=tuple(matchers),
        actions=tuple(
            Action(
                channel_id=int(item["channelId"]),
                recipients=tuple(item.get("recipients") or ()),
                template_id=item.get("templateId"),
                fallback=tuple(int(i) for i in item.get("fallbackChannelIds") or ()),
            )
            for item in actions
        ),
        throttle=Throttle(
            repeat_interval=int(throttle["repeatIntervalSeconds"]),
            group_by=tuple(throttle.get("groupBy") or ()),
        )
        if throttle
        else None,
        continue_matching=continue_matching,
    )
