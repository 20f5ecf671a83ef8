"""Routing rules: the list in evaluation order, a form to create or change one, delete.

How the form's text fields become the service's input is ``nabat.web.rule_form``.
"""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from nabat.api.deps import SessionDep, StateDep
from nabat.catalogue import SEVERITIES
from nabat.errors import NabatError
from nabat.models.routing import Rule
from nabat.services.access import Scope
from nabat.services.channels import ChannelService
from nabat.services.rules import RuleChanges, RuleService
from nabat.services.templates import TemplateService
from nabat.state import AppState
from nabat.web.pages.silences import FormProblem, matcher_text, refusal
from nabat.web.render import page
from nabat.web.rule_form import (
    FALLBACK_SLOTS,
    ParsedRule,
    action_rows_of,
    place_of,
    read_rule_form,
    rule_form_values,
)
from nabat.web.session import FormDep, SignedIn, Visitor

router = APIRouter(include_in_schema=False)


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
    posted = len(action_rows_of(values))
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
        fallback_slots=FALLBACK_SLOTS,
    )


async def _attempt(
    visitor: Visitor, state: AppState, session: AsyncSession, form: dict[str, str], rule_id: int
) -> Response:
    """Create (``rule_id`` 0) or change a rule from the posted form."""
    principal = visitor.require(Scope.ROUTING_WRITE)
    service = RuleService(session, state.clock)
    rule = await _rule(visitor, state, session, rule_id) if rule_id else None
    parsed: ParsedRule | None = None
    try:
        parsed = read_rule_form(visitor, form)
        given = parsed.fields
        if rule is None:
            await service.create(principal.project_id, given)
        else:
            # The form shows every field, so each is set (an emptied throttle removes it).
            changes = RuleChanges(**asdict(given), set_throttle=True)
            await service.update(principal.project_id, rule.id, changes)
    except FormProblem as problem:
        errors, status = {problem.field: problem.message}, 422
    except NabatError as exc:
        path = str(exc.details[0].get("field", "")) if exc.details else ""
        assert parsed is not None
        field, lines = place_of(path, parsed)
        errors, status = {field: refusal(visitor, exc, lines)[1]}, exc.status_code
    else:
        await session.commit()
        return RedirectResponse("/rules", status_code=303)
    return await _form(
        visitor, state, session, values=form, errors=errors, rule=rule, status=status
    )


async def _rule(visitor: Visitor, state: AppState, session: AsyncSession, rule_id: int) -> Rule:
    principal = visitor.require(Scope.ROUTING_READ)
    return await RuleService(session, state.clock).get(principal.project_id, rule_id)


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
        return await _form(
            visitor, state, session, values=rule_form_values(row), errors={}, rule=row
        )
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
    await RuleService(session, state.clock).delete(principal.project_id, rule_id)
    await session.commit()
    return RedirectResponse("/rules", status_code=303)
