"""Reading the rule form into the service's input, and a stored rule back into the form.

Types, recipients and group-by names are one per line (or comma-separated); label tests
are ``name op value`` lines (those named ``source`` go to ``match.source``); each action
is a fieldset ``action-<n>-channel|recipients|template|fallback-<k>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from nabat.catalogue import SEVERITIES
from nabat.models.routing import Rule
from nabat.services.rules import RuleFields
from nabat.web.pages.silences import FormProblem, matcher_text, parse_matcher_lines, split_list
from nabat.web.session import Visitor

_ACTION_ROW = re.compile(r"^action-(\d+)-channel$")
_ACTION_PATH = re.compile(r"^actions\[(\d+)\](?:\.(\w+))?")
_ACTION_PART = {
    "recipients": "recipients",
    "templateId": "template",
    "fallbackChannelIds": "fallback-0",
}
# Fallback channels an action's fieldset offers (the API takes up to MAX_FALLBACK).
FALLBACK_SLOTS = 3
# Where the service's field paths are shown on the form, by prefix (first match wins).
_PLACES = (
    ("match.labels", "matchers"),
    ("match.source", "matchers"),
    ("match.types", "types"),
    ("match.severities", "severities"),
    ("throttle.groupBy", "group_by"),
    ("throttle", "repeat"),
    ("name", "name"),
    ("position", "position"),
)


@dataclass(frozen=True)
class ParsedRule:
    """A posted rule form read into the service's input, with where each part came from."""

    fields: RuleFields
    label_lines: list[int]
    source_lines: list[int]
    action_rows: list[int]


def action_rows_of(form: dict[str, str]) -> list[int]:
    """The indices of the action fieldsets the form posted, in order."""
    found = (_ACTION_ROW.match(name) for name in form)
    return sorted(int(match[1]) for match in found if match)


def _number(visitor: Visitor, text: str, field: str) -> int | None:
    if not text.strip():
        return None
    if not text.strip().isdigit():
        raise FormProblem(field, visitor.t("rules.error.number", text=text.strip()))
    return int(text.strip())


def read_rule_form(visitor: Visitor, form: dict[str, str]) -> ParsedRule:
    """The service's input from the form; :class:`FormProblem` for what cannot be read."""
    matchers = parse_matcher_lines(visitor, form.get("matchers", ""), "matchers")
    labels = [m for m in matchers if m.name != "source"]
    source = [m for m in matchers if m.name == "source"]
    actions: list[dict[str, Any]] = []
    rows: list[int] = []
    for row in action_rows_of(form):
        channel = form.get(f"action-{row}-channel", "").strip()
        if not channel:
            continue
        template = form.get(f"action-{row}-template", "").strip()
        actions.append(
            {
                "channelId": _number(visitor, channel, f"action-{row}-channel"),
                "recipients": split_list(form.get(f"action-{row}-recipients", "")),
                "templateId": _number(visitor, template, f"action-{row}-template"),
                "fallbackChannelIds": [
                    _number(visitor, text, f"action-{row}-fallback-{hop}")
                    for hop in range(FALLBACK_SLOTS)
                    if (text := form.get(f"action-{row}-fallback-{hop}", "").strip())
                ],
            }
        )
        rows.append(row)
    repeat, group_by = form.get("repeat", "").strip(), split_list(form.get("group_by", ""))
    throttle = None
    if repeat or group_by:
        throttle = {"repeatIntervalSeconds": repeat, "groupBy": group_by}
    fields = RuleFields(
        name=form.get("name", ""),
        position=_number(visitor, form.get("position", ""), "position"),
        enabled="enabled" in form,
        continue_matching="continue" in form,
        match={
            "types": split_list(form.get("types", "")),
            "severities": [s for s in SEVERITIES if f"severity-{s}" in form],
            "labels": [m.to_json() for m in labels],
            "source": [m.to_json() for m in source],
        },
        actions=actions,
        throttle=throttle,
    )
    return ParsedRule(fields, [m.line for m in labels], [m.line for m in source], rows)


def place_of(path: str, parsed: ParsedRule) -> tuple[str, list[int] | None]:
    """The form field a service complaint about ``path`` belongs next to (and, for
    matchers, the lines its indices stand for)."""
    if path.startswith("actions"):
        found = _ACTION_PATH.match(path)
        if found is None or int(found[1]) >= len(parsed.action_rows):
            first = parsed.action_rows[0] if parsed.action_rows else 0
            return f"action-{first}-channel", None
        part = _ACTION_PART.get(found[2] or "", "channel")
        return f"action-{parsed.action_rows[int(found[1])]}-{part}", None
    lines = {"match.labels": parsed.label_lines, "match.source": parsed.source_lines}
    for prefix, field in _PLACES:
        if path.startswith(prefix):
            return field, lines.get(prefix)
    return "form", None


def rule_form_values(row: Rule) -> dict[str, str]:
    """A stored rule as the form's fields."""
    match = row.match
    values = {
        "name": row.name,
        "position": str(row.position),
        "types": "\n".join(match.get("types", [])),
        "matchers": matcher_text(match.get("labels", []) + match.get("source", [])),
        "repeat": str(row.throttle["repeatIntervalSeconds"]) if row.throttle else "",
        "group_by": "\n".join(row.throttle.get("groupBy", [])) if row.throttle else "",
    }
    values |= {f"severity-{s}": "on" for s in match.get("severities", [])}
    values |= {"enabled": "on"} if row.enabled else {}
    values |= {"continue": "on"} if row.continue_matching else {}
    for index, action in enumerate(row.actions):
        values[f"action-{index}-channel"] = str(action["channelId"])
        values[f"action-{index}-recipients"] = "\n".join(action["recipients"])
        template = action.get("templateId")
        values[f"action-{index}-template"] = "" if template is None else str(template)
        for hop, channel_id in enumerate(action.get("fallbackChannelIds") or ()):
            values[f"action-{index}-fallback-{hop}"] = str(channel_id)
    return values
