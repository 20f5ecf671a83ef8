"""``/api/v1/rules``: routing rules, evaluated in order of position."""

from __future__ import annotations

from fastapi import APIRouter

from nabat.api.deps import CurrentPrincipal, SessionDep, StateDep
from nabat.models.routing import Rule
from nabat.schemas.channels import DeletedOut
from nabat.schemas.rules import ActionOut, MatchOut, RuleCreate, RuleOut, RuleUpdate, ThrottleOut
from nabat.services.access import Scope
from nabat.services.rules import RuleChanges, RuleFields, RuleService

router = APIRouter(prefix="/api/v1/rules", tags=["routing"])


def _out(row: Rule) -> RuleOut:
    return RuleOut(
        id=row.id,
        name=row.name,
        position=row.position,
        enabled=row.enabled,
        match=MatchOut.model_validate(row.match),
        actions=[ActionOut.model_validate(action) for action in row.actions],
        throttle=ThrottleOut.model_validate(row.throttle) if row.throttle else None,
        continue_=row.continue_matching,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _service(state: StateDep, session: SessionDep) -> RuleService:
    return RuleService(session, state.clock)


@router.get("", response_model=list[RuleOut])
async def list_rules(
    caller: CurrentPrincipal, state: StateDep, session: SessionDep
) -> list[RuleOut]:
    """The project's rules in evaluation order: by position, then by id."""
    caller.require(Scope.ROUTING_READ)
    return [_out(row) for row in await _service(state, session).list(caller.project_id)]


@router.post("", status_code=201, response_model=RuleOut)
async def create_rule(
    body: RuleCreate, caller: CurrentPrincipal, state: StateDep, session: SessionDep
) -> RuleOut:
    """Create a rule; without ``position`` it goes after the last one."""
    caller.require(Scope.ROUTING_WRITE)
    fields = RuleFields(
        name=body.name,
        position=body.position,
        enabled=body.enabled,
        match=body.match,
        actions=body.actions,
        throttle=body.throttle,
        continue_matching=body.continue_,
    )
    row = await _service(state, session).create(caller.project_id, fields)
    await session.commit()
    return _out(row)


@router.get("/{rule_id:int}", response_model=RuleOut)
async def get_rule(
    rule_id: int, caller: CurrentPrincipal, state: StateDep, session: SessionDep
) -> RuleOut:
    """One rule."""
    caller.require(Scope.ROUTING_READ)
    return _out(await _service(state, session).get(caller.project_id, rule_id))


@router.put("/{rule_id:int}", response_model=RuleOut)
async def update_rule(
    rule_id: int, body: RuleUpdate, caller: CurrentPrincipal, state: StateDep, session: SessionDep
) -> RuleOut:
    """Change any subset of the fields; ``"throttle": null`` removes the throttle."""
    caller.require(Scope.ROUTING_WRITE)
    changes = RuleChanges(
        name=body.name,
        position=body.position,
        enabled=body.enabled,
        match=body.match,
        actions=body.actions,
        throttle=body.throttle,
        set_throttle="throttle" in body.model_fields_set,
        continue_matching=body.continue_,
    )
    row = await _service(state, session).update(caller.project_id, rule_id, changes)
    await session.commit()
    return _out(row)


@router.delete("/{rule_id:int}", response_model=DeletedOut)
async def delete_rule(
    rule_id: int, caller: CurrentPrincipal, state: StateDep, session: SessionDep
) -> DeletedOut:
    """Delete a rule."""
    caller.require(Scope.ROUTING_WRITE)
    await _service(state, session).delete(caller.project_id, rule_id)
    await session.commit()
    return DeletedOut(message=f"rule {rule_id} deleted")
