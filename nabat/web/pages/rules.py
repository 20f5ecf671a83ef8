"""Routing rules: the list in evaluation order, a form to create or change one, delete.

The form's text fields are read into the service's input: types and recipients one per
line, label tests ``name op value`` per line (``source`` tests go to ``match.source``),
one fieldset per action.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from nabat.api.deps import SessionDep, StateDep
from nabat.catalogue import SEVERITIES
from nabat.errors import NabatError, NotFound
from nabat.models.routing import Rule
from nabat.services.access import Scope
from nabat.services.channels import ChannelService
from nabat.services.rules import RuleChanges, RuleFields, RuleService
from nabat.services.templates import TemplateService
from nabat.state import AppState
from nabat.web.pages.silences import (
    FormProblem,
    matcher_text,
    parse_matcher_lines,
    refusal,
    split_list,
)
from nabat.web.render import page
from nabat.web.session import FormDep, Refused, SignedIn, Visitor

router = APIRouter(include_in_schema=False)

_ACTION_ROW = re.compile(r"^action-(\d+)-channel$")
_ACTION_PATH = re.compile(r"^actions\[(\d+)\](?:\.(\w+))?")
_ACTION_PART = {"recipients": "recipients", "templateId": "template"}


@dataclass(frozen=True)
class _Parsed:
    """A posted rule form read into the service's input, with where each part came from."""

    fields: RuleFields
    label_lines: list[int]
    source_lines: list[int]
    action_rows: list[int]


def _rows_of(form: dict[str, str]) -> list[int]:
    """The indices of the action fieldsets the form posted, in order."""
    found = (_ACTION_ROW.match(name) for name in form)
    return sorted(int(match[1]) for match in found if match)


def _number(visitor: Visitor, text: str, field: str) -> int | None:
    if not text.strip():
        return None
    if not text.strip().isdigit():
        raise FormProblem(field, visitor.t("rules.error.number", text=text.strip()))
    return int(text.strip())


def _parse(visitor: Visitor, form: dict[str, str]) -> _Parsed:
    """The service's input from the form; :class:`FormProblem` for what cannot be read."""
    matchers = parse_matcher_lines(visitor, form.get("matchers", ""), "matchers")
    labels = [m for m in matchers if m.name != "source"]
    source = [m for m in matchers if m.name == "source"]
    actions: list[dict[str, Any]] = []
    rows: list[int] = []
    for row in _rows_of(form):
        channel = form.get(f"action-{row}-channel", "").strip()
        if not channel:
            continue
        template = form.get(f"action-{row}-template", "").strip()
        actions.append(
            {
                "channelId": _number(visitor, channel, f"action-{row}-channel"),
                "recipients": split_list(form.get(f"action-{row}-recipients", "")),
                "templateId": _number(visitor, template, f"action-{row}-template"),
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
    return _Parsed(fields, [m.line for m in labels], [m.line for m in source], rows)


def _where(path: str, parsed: _Parsed) -> tuple[str, list[int] | None]:
    """The form field a service complaint about ``path`` belongs next to (and, for
    matchers, the lines its indices stand for)."""
    if path.startswith("match.labels"):
        return "matchers", parsed.label_lines
    if path.startswith("match.source"):
        return "matchers", parsed.source_lines
    for prefix, field in (("match.types", "types"), ("match.severities", "severities")):
        if path.startswith(prefix):
            return field, None
    if path.startswith("actions"):
        found = _ACTION_PATH.match(path)
        if found is None or int(found[1]) >= len(parsed.action_rows):
            first = parsed.action_rows[0] if parsed.action_rows else 0
            return f"action-{first}-channel", None
        part = _ACTION_PART.get(found[2] or "", "channel")
        return f"action-{parsed.action_rows[int(found[1])]}-{part}", None
    if path.startswith("throttle.groupBy"):
        return "group_by", None
    if path.startswith("throttle"):
        return "repeat", None
    return (path, None) if path in ("name", "position") else ("form", None)


def _values(row: Rule) -> dict[str, str]:
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
    return values


async def _choices(
    state: AppState, session: AsyncSession, project_id: int
) -> tuple[dict[int, str], dict[int, str]]:
    """The project's channels and templates an action may name, by id."""
    channels = await ChannelService(session, state.box, state.clock).list(project_id)
    templates = await TemplateService(session, state.clock).list(project_id)
    return (
        {view.row.id: f"{view.row.name} ({view.row.type})" for view in channels},
        {row.id: f"{row.name} ({row.channel_kind})" for row in templates},
    )


async def _form(
    visitor: Visitor,
    state: AppState,
    session: AsyncSession,
    *,
    values: dict[str, str],
    errors: dict[str, str],
    rule: Rule | None,
    status: int = 200,
) -> Response:
    assert visitor.principal is not None
    channels, templates = await _choices(state, session, visitor.principal.project_id)
    posted = len(_rows_of(values))
    return page(
        visitor,
        "rules/form.html",
        section="rules",
        status=status,
        values=values,
        errors=errors,
        rule=rule,
        channels=channels,
        templates=templates,
        severities=SEVERITIES,
        # One spare fieldset for another action (save, then edit again for more).
        action_rows=range(max(posted + (0 if errors else 1), 1)),
    )


async def _attempt(
    visitor: Visitor, state: AppState, session: AsyncSession, form: dict[str, str], rule_id: int
) -> Response:
    """Create (``rule_id`` 0) or change a rule from the posted form."""
    principal = visitor.require(Scope.ROUTING_WRITE)
    service = RuleService(session, state.clock)
    rule = await _rule(visitor, state, session, rule_id) if rule_id else None
    parsed: _Parsed | None = None
    try:
        parsed = _parse(visitor, form)
        given = parsed.fields
        if rule is None:
            await service.create(principal.project_id, given)
        else:
            changes = RuleChanges(
                name=given.name,
                position=given.position,
                enabled=given.enabled,
                match=given.match,
                actions=given.actions,
                throttle=given.throttle,
                set_throttle=True,
                continue_matching=given.continue_matching,
            )
            await service.update(principal.project_id, rule.id, changes)
    except FormProblem as problem:
        errors = {problem.field: problem.message}
        return await _form(
            visitor, state, session, values=form, errors=errors, rule=rule, status=422
        )
    except NabatError as exc:
        path = str(exc.details[0].get("field", "")) if exc.details else ""
        assert parsed is not None
        field, lines = _where(path, parsed)
        errors = {field: refusal(visitor, exc, lines)[1]}
        return await _form(
            visitor, state, session, values=form, errors=errors, rule=rule, status=exc.status_code
        )
    await session.commit()
    return RedirectResponse("/rules", status_code=303)


async def _rule(visitor: Visitor, state: AppState, session: AsyncSession, rule_id: int) -> Rule:
    principal = visitor.require(Scope.ROUTING_READ)
    try:
        return await RuleService(session, state.clock).get(principal.project_id, rule_id)
    except NotFound:
        raise Refused("error.not_found", 404) from None


@router.get("/rules")
async def rules_page(visitor: SignedIn, state: StateDep, session: SessionDep) -> Response:
    """The project's rules in evaluation order, each with what it matches and does."""
    principal = visitor.require(Scope.ROUTING_READ)
    rows = await RuleService(session, state.clock).list(principal.project_id)
    channels, templates = await _choices(state, session, principal.project_id)
    return page(
        visitor,
        "rules/list.html",
        section="rules",
        rows=rows,
        channels=channels,
        templates=templates,
        matchers={row.id: matcher_text(row.match["labels"] + row.match["source"]) for row in rows},
        can_write=visitor.can(Scope.ROUTING_WRITE),
    )


@router.get("/rules/new")
async def new_rule_page(visitor: SignedIn, state: StateDep, session: SessionDep) -> Response:
    """An empty rule form (enabled, stopping after it matches)."""
    visitor.require(Scope.ROUTING_WRITE)
    return await _form(visitor, state, session, values={"enabled": "on"}, errors={}, rule=None)


@router.post("/rules")
async def create_rule(
    visitor: SignedIn, form: FormDep, state: StateDep, session: SessionDep
) -> Response:
    """Create a rule; a refused one is shown again with its error and what was typed."""
    return await _attempt(visitor, state, session, form, 0)


@router.get("/rules/{rule_id:int}")
async def rule_page(
    rule_id: int, visitor: SignedIn, state: StateDep, session: SessionDep
) -> Response:
    """One rule: its form for those who may change it, else its details."""
    row = await _rule(visitor, state, session, rule_id)
    if visitor.can(Scope.ROUTING_WRITE):
        return await _form(visitor, state, session, values=_values(row), errors={}, rule=row)
    channels, templates = await _choices(state, session, row.project_id)
    return page(
        visitor,
        "rules/detail.html",
        section="rules",
        rule=row,
        channels=channels,
        templates=templates,
        matchers=matcher_text(row.match["labels"] + row.match["source"]),
    )


@router.post("/rules/{rule_id:int}")
async def update_rule(
    rule_id: int, visitor: SignedIn, form: FormDep, state: StateDep, session: SessionDep
) -> Response:
    """Change a rule from its form."""
    return await _attempt(visitor, state, session, form, rule_id)


@router.post("/rules/{rule_id:int}/delete")
async def delete_rule(
    rule_id: int, visitor: SignedIn, form: FormDep, state: StateDep, session: SessionDep
) -> Response:
    """Delete a rule (the form asks first)."""
    principal = visitor.require(Scope.ROUTING_WRITE)
    try:
        await RuleService(session, state.clock).delete(principal.project_id, rule_id)
    except NotFound:
        raise Refused("error.not_found", 404) from None
    await session.commit()
    return RedirectResponse("/rules", status_code=303)
