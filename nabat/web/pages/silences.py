"""Silences: the list, a form to create or change one, and ending one now.

Matchers are typed one per line as ``name op value``; this module also holds that line
format's parser, which the rules page uses for its label tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import RedirectResponse, Response

from nabat.api.deps import SessionDep, StateDep
from nabat.errors import NabatError
from nabat.models.routing import Silence
from nabat.services.access import Scope
from nabat.services.silences import (
    SilenceChanges,
    SilenceFields,
    SilenceService,
    SilenceState,
    author_of,
    state_of,
)
from nabat.web.render import page
from nabat.web.session import FormDep, SignedIn, Visitor

router = APIRouter(include_in_schema=False)

# The longer operators first, so that ``=~`` is not read as ``=`` and a value "~…".
_MATCHER_LINE = re.compile(r"^(?P<name>[^\s=!~]+)\s*(?P<op>=~|!~|!=|=)\s*(?P<value>.*)$")
_INDEX = re.compile(r"\[(\d+)\]")
_MOMENT = "%Y-%m-%dT%H:%M"


@dataclass(frozen=True)
class MatcherLine:
    """One typed ``name op value`` line and where it stood in the text."""

    line: int
    name: str
    op: str
    value: str

    def to_json(self) -> dict[str, str]:
        """The service's input form of this matcher."""
        return {"name": self.name, "op": self.op, "value": self.value}


class FormProblem(Exception):
    """A form field the page itself could not read; ``message`` is already worded."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def parse_matcher_lines(visitor: Visitor, text: str, field: str) -> list[MatcherLine]:
    """The matchers typed in ``text``, one ``name op value`` per line (blank lines
    skipped, a value may be put in double quotes); :class:`FormProblem` names the line."""
    found: list[MatcherLine] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        match = _MATCHER_LINE.match(line)
        if match is None:
            raise FormProblem(field, visitor.t("rules.error.matcher_line", line=number, text=line))
        value = match["value"].strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        found.append(MatcherLine(number, match["name"], match["op"], value))
    return found


def matcher_text(matchers: list[dict[str, str]]) -> str:
    """Stored matchers as the lines the form shows (and reads back the same)."""
    shown = []
    for m in matchers:
        value = m["value"]
        quoted = value != value.strip() or value == "" or (value[:1] == value[-1:] == '"')
        shown.append(f"{m['name']} {m['op']} " + (f'"{value}"' if quoted else value))
    return "\n".join(shown)


def split_list(text: str) -> list[str]:
    """The items of a list field: one per line, or separated by commas."""
    return [item.strip() for item in re.split(r"[\n,]", text) if item.strip()]


def refusal(visitor: Visitor, exc: NabatError, lines: list[int] | None = None) -> tuple[str, str]:
    """The service's first complaint as (detail field, worded message); a matcher's
    index is turned into the line the visitor typed it on."""
    detail = exc.details[0] if exc.details else {}
    path = str(detail.get("field", ""))
    message = visitor.say(detail.get("message", exc.message))
    if "line" in detail:
        message = visitor.t("rules.error.at_line", line=detail["line"], message=message)
    index = _INDEX.search(path)
    if index is not None and lines is not None and int(index[1]) < len(lines):
        message = visitor.t("rules.error.at_line", line=lines[int(index[1])], message=message)
    return path, visitor.t("rules.error.refused", message=message)


def _moment(visitor: Visitor, text: str, field: str) -> datetime | None:
    """A time typed in the form (UTC unless it names its offset); None when empty."""
    if not text.strip():
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise FormProblem(field, visitor.t("silences.error.moment", text=text.strip())) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _shown(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(_MOMENT)


def _values(row: Silence) -> dict[str, str]:
    return {
        "matchers": matcher_text(row.matchers),
        "starts_at": _shown(row.starts_at),
        "ends_at": _shown(row.ends_at),
        "comment": row.comment,
        "author": row.author,
    }


_FIELDS = {"startsAt": "starts_at", "endsAt": "ends_at", "comment": "comment", "author": "author"}


def _form(
    visitor: Visitor,
    *,
    values: dict[str, str],
    errors: dict[str, str],
    silence: Silence | None,
    status: int = 200,
) -> Response:
    return page(
        visitor,
        "silences/form.html",
        section="silences",
        status=status,
        values=values,
        errors=errors,
        silence=silence,
    )


async def _attempt(
    visitor: Visitor,
    state: StateDep,
    session: SessionDep,
    form: dict[str, str],
    silence: Silence | None,
) -> Response:
    """Create (``silence`` None) or change a silence from the posted form."""
    principal = visitor.require(Scope.SILENCES_WRITE)
    service = SilenceService(session, state.clock)
    lines: list[int] = []
    try:
        matchers = parse_matcher_lines(visitor, form.get("matchers", ""), "matchers")
        lines = [m.line for m in matchers]
        starts_at = _moment(visitor, form.get("starts_at", ""), "starts_at")
        ends_at = _moment(visitor, form.get("ends_at", ""), "ends_at")
        if ends_at is None:
            raise FormProblem("ends_at", visitor.t("silences.error.ends_required"))
        raw = [m.to_json() for m in matchers]
        author = form.get("author", "").strip() or await author_of(session, principal)
        if silence is None:
            fields = SilenceFields(raw, ends_at, form.get("comment", ""), author, starts_at)
            silence = await service.create(principal.project_id, fields)
        else:
            changes = SilenceChanges(raw, starts_at, ends_at, form.get("comment", ""), author)
            await service.update(principal.project_id, silence.id, changes)
    except FormProblem as problem:
        errors = {problem.field: problem.message}
        return _form(visitor, values=form, errors=errors, silence=silence, status=422)
    except NabatError as exc:
        path, message = refusal(visitor, exc, lines)
        field = "matchers" if path.startswith("matchers") else _FIELDS.get(path, "form")
        return _form(
            visitor, values=form, errors={field: message}, silence=silence, status=exc.status_code
        )
    await session.commit()
    return RedirectResponse("/silences", status_code=303)


async def _silence(visitor: Visitor, state: StateDep, session: SessionDep, ref: int) -> Silence:
    principal = visitor.require(Scope.ROUTING_READ)
    return await SilenceService(session, state.clock).get(principal.project_id, ref)


@router.get("/silences")
async def silences_page(
    visitor: SignedIn,
    state: StateDep,
    session: SessionDep,
    state_filter: Annotated[str, Query(alias="state")] = "",
) -> Response:
    """The project's silences (newest first), optionally only those in one state."""
    principal = visitor.require(Scope.ROUTING_READ)
    only = SilenceState(state_filter) if state_filter in set(SilenceState) else None
    now = state.clock.now()
    rows = await SilenceService(session, state.clock).list(principal.project_id, now, only)
    return page(
        visitor,
        "silences/list.html",
        section="silences",
        rows=[(row, state_of(row, now).value, matcher_text(row.matchers)) for row in rows[::-1]],
        states=[s.value for s in SilenceState],
        chosen=only.value if only else "",
        can_write=visitor.can(Scope.SILENCES_WRITE),
        shown=_shown,
    )


@router.get("/silences/new")
async def new_silence_page(visitor: SignedIn, state: StateDep) -> Response:
    """An empty silence form: from now, for two hours."""
    visitor.require(Scope.SILENCES_WRITE)
    now = state.clock.now()
    author = visitor.user.username if visitor.user else ""
    values = {"starts_at": "", "ends_at": _shown(now + timedelta(hours=2)), "author": author}
    return _form(visitor, values=values, errors={}, silence=None)


@router.post("/silences")
async def create_silence(
    visitor: SignedIn, form: FormDep, state: StateDep, session: SessionDep
) -> Response:
    """Create a silence; a refused one is shown again with its error and what was typed."""
    return await _attempt(visitor, state, session, form, None)


@router.get("/silences/{silence_id:int}")
async def silence_page(
    silence_id: int, visitor: SignedIn, state: StateDep, session: SessionDep
) -> Response:
    """One silence: a form for those who may change it while it lasts, else its details."""
    row = await _silence(visitor, state, session, silence_id)
    now = state.clock.now()
    writable = visitor.can(Scope.SILENCES_WRITE) and state_of(row, now) is not SilenceState.EXPIRED
    if writable:
        return _form(visitor, values=_values(row), errors={}, silence=row)
    return page(
        visitor,
        "silences/detail.html",
        section="silences",
        silence=row,
        state=state_of(row, now).value,
        matchers=matcher_text(row.matchers),
        shown=_shown,
    )


@router.post("/silences/{silence_id:int}")
async def update_silence(
    silence_id: int, visitor: SignedIn, form: FormDep, state: StateDep, session: SessionDep
) -> Response:
    """Change a silence that has not expired."""
    visitor.require(Scope.SILENCES_WRITE)
    row = await _silence(visitor, state, session, silence_id)
    return await _attempt(visitor, state, session, form, row)


@router.post("/silences/{silence_id:int}/expire")
async def expire_silence(
    silence_id: int, visitor: SignedIn, form: FormDep, state: StateDep, session: SessionDep
) -> Response:
    """End a silence now (its record stays, as the API's DELETE does)."""
    principal = visitor.require(Scope.SILENCES_WRITE)
    await SilenceService(session, state.clock).expire(principal.project_id, silence_id)
    await session.commit()
    return RedirectResponse("/silences", status_code=303)
