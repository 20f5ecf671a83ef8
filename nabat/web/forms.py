"""Forms generated from a configuration model's JSON Schema, and the posted form read back.

The schema (``model_json_schema(by_alias=True)``) is the only source: a new channel type
gets its form without console code. How each schema shape becomes an input:

- ``string`` → text; ``format: password`` / ``writeOnly`` → a write-only password input
  that says "stored" when a value is stored (left empty, the stored value is kept);
- ``integer`` / ``number`` → number input; ``enum`` → select;
- ``boolean`` → checkbox, but a nullable boolean (unset means "decide for me") → a select
  of unset / yes / no, since a checkbox cannot say "unset";
- an object of strings (HTTP headers) → a textarea of ``Name: value`` lines, as headers are
  written; a list of strings (recipients) → a textarea with one item per line;
- any other object or list → a textarea holding JSON.

A field whose schema carries ``"x-shown-when": {"oauth2": true}`` (pydantic
``json_schema_extra``) applies only while the named boolean field of the same form
(written as clients write it) has that value: the console's script hides and disables it
otherwise, without the script it is shown with a hint saying when it applies, and a
posted form leaves out every field that does not apply (a new channel gets the model's
default for it, an edited one keeps what is stored).

Values travel as the strings typed: the models accept ``"587"`` for 587, so the model, not
the form, says what is wrong, and its message is shown next to the field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from nabat.channels.base import MASK
from nabat.errors import NabatError
from nabat.sentences import Sentence

PREFIX = "config."
SHOWN_WHEN = "x-shown-when"


class Kind(StrEnum):
    """How a field is typed in."""

    TEXT = "text"
    NUMBER = "number"
    CHECKBOX = "checkbox"
    CHOICE = "choice"  # an enum, or a nullable boolean as unset / true / false
    SECRET = "secret"  # noqa: S105 - the name of an input kind, not a password
    PAIRS = "pairs"  # an object of strings, as "Name: value" lines
    LINES = "lines"  # a list of strings, one per line
    JSON = "json"


@dataclass(frozen=True)
class Condition:
    """A field applies only while the boolean field ``key`` is ``value``."""

    key: str
    value: bool

    def holds(self, values: Mapping[str, str]) -> bool:
        """Whether it holds for the form's values as typed (``"true"`` / ``"false"``; an
        unset nullable boolean decides nothing, so the field is kept)."""
        typed = values.get(self.key, "")
        return typed == "" or (typed == "true") == self.value


@dataclass(frozen=True)
class FormField:
    """One configuration key as a form input; ``shown_when`` lists the conditions that
    must all hold for it to apply."""

    key: str
    kind: Kind
    required: bool
    nullable: bool
    description: str | None = None
    default: Any = None
    choices: tuple[str, ...] = ()
    integer: bool = False
    minimum: float | None = None
    maximum: float | None = None
    email: bool = False
    shown_when: tuple[Condition, ...] = ()

    @property
    def name(self) -> str:
        """The input's form name."""
        return PREFIX + self.key

    @property
    def input_id(self) -> str:
        """The input's id, the target of its label."""
        return "field-" + self.key

    @property
    def default_text(self) -> str | None:
        """The default as the form shows it, or ``None`` when there is none worth saying."""
        if self.default is None or self.default in ({}, [], ""):
            return None
        return as_text(self, self.default)

    @property
    def shown_when_json(self) -> str:
        """The conditions as the console's script reads them: ``{"oauth2": true}``."""
        return json.dumps({c.key: c.value for c in self.shown_when})

    def applies(self, values: Mapping[str, str]) -> bool:
        """Whether the field applies to a form holding ``values`` (as typed, by key)."""
        return all(condition.holds(values) for condition in self.shown_when)


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        rest = {key: value for key, value in node.items() if key != "$ref"}
        return {**defs[ref.removeprefix("#/$defs/")], **rest}
    return node


def _field(key: str, node: dict[str, Any], required: bool, defs: dict[str, Any]) -> FormField:
    node = _resolve(node, defs)
    nullable = False
    shape = node
    branches = node.get("anyOf")
    if isinstance(branches, list):
        concrete = [_resolve(b, defs) for b in branches if b.get("type") != "null"]
        nullable = len(concrete) < len(branches)
        # A union of several concrete shapes has no one input; JSON says anything.
        shape = concrete[0] if len(concrete) == 1 else {"type": "any"}
    kind_of = shape.get("type")
    common: dict[str, Any] = {
        "key": key,
        "required": required,
        "nullable": nullable,
        "description": node.get("description") or shape.get("description"),
        "default": node.get("default"),
    }
    if shape.get("format") == "password" or shape.get("writeOnly"):
        return FormField(kind=Kind.SECRET, **common)
    if "enum" in shape:
        return FormField(kind=Kind.CHOICE, choices=tuple(map(str, shape["enum"])), **common)
    if kind_of == "boolean":
        if nullable:
            return FormField(kind=Kind.CHOICE, choices=("true", "false"), **common)
        return FormField(kind=Kind.CHECKBOX, **common)
    if kind_of in ("integer", "number"):
        low = shape.get("minimum", shape.get("exclusiveMinimum", shape.get("ge")))
        return FormField(
            kind=Kind.NUMBER,
            integer=kind_of == "integer",
            minimum=low,
            maximum=shape.get("maximum"),
            **common,
        )
    values = _resolve(shape.get("additionalProperties") or {}, defs)
    if kind_of == "object" and values.get("type") == "string" and not shape.get("properties"):
        return FormField(kind=Kind.PAIRS, **common)
    if kind_of == "array" and _resolve(shape.get("items") or {}, defs).get("type") == "string":
        email = _resolve(shape["items"], defs).get("format") == "email"
        return FormField(kind=Kind.LINES, email=email, **common)
    if kind_of == "string":
        return FormField(kind=Kind.TEXT, email=shape.get("format") == "email", **common)
    return FormField(kind=Kind.JSON, **common)


def _switch(spec: FormField) -> bool:
    return spec.kind == Kind.CHECKBOX or (
        spec.kind == Kind.CHOICE and spec.choices == ("true", "false")
    )


def _conditions(
    model: type[BaseModel], key: str, node: dict[str, Any], switches: set[str]
) -> tuple[Condition, ...]:
    raw = node.get(SHOWN_WHEN)
    if raw is None:
        return ()
    # A mistake here is the type author's; saying so at once beats a form that never hides.
    if not isinstance(raw, dict) or not raw:
        raise ValueError(f"{model.__name__}.{key}: {SHOWN_WHEN} must map boolean fields to values")
    conditions = []
    for name, value in raw.items():
        if name not in switches or not isinstance(value, bool):
            raise ValueError(
                f"{model.__name__}.{key}: {SHOWN_WHEN} names {name!r}={value!r}; it must name "
                "a boolean field of the same model (camelCase) and true or false"
            )
        conditions.append(Condition(name, value))
    return tuple(conditions)


def form_fields(model: type[BaseModel]) -> list[FormField]:
    """The inputs of ``model``'s form, in the model's order, camelCase keys.

    Raises ``ValueError`` for an ``x-shown-when`` that names no boolean field of the model.
    """
    schema = model.model_json_schema(by_alias=True)
    required = set(schema.get("required", []))
    defs = schema.get("$defs", {})
    properties: dict[str, dict[str, Any]] = schema.get("properties", {})
    fields = [_field(key, node, key in required, defs) for key, node in properties.items()]
    switches = {spec.key for spec in fields if _switch(spec)}
    return [
        replace(spec, shown_when=_conditions(model, spec.key, properties[spec.key], switches))
        for spec in fields
    ]


def as_text(spec: FormField, value: Any) -> str:
    """A stored (public, masked) value as its input shows it."""
    if value is None:
        return ""
    if spec.kind == Kind.PAIRS and isinstance(value, dict):
        return "\n".join(f"{name}: {item}" for name, item in value.items())
    if spec.kind == Kind.LINES and isinstance(value, list):
        return "\n".join(str(item) for item in value)
    if spec.kind == Kind.JSON:
        return json.dumps(value, ensure_ascii=False, indent=2)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass
class FormState:
    """What a form shows: the typed text per key, which secrets are stored, the errors."""

    values: dict[str, str] = field(default_factory=dict)
    stored: set[str] = field(default_factory=set)
    errors: dict[str, list[str]] = field(default_factory=dict)

    def error(self, key: str, message: str) -> None:
        """Note ``message`` against the field ``key``."""
        self.errors.setdefault(key, []).append(message)

    def applies(self, spec: FormField) -> bool:
        """Whether ``spec`` applies to this form as it stands."""
        return spec.applies(self.values)


def shown(fields: list[FormField], public: dict[str, Any] | None) -> FormState:
    """The form of a stored configuration (as :meth:`to_public` reads it), or of a new one
    (``None``: the defaults)."""
    state = FormState()
    for spec in fields:
        value = spec.default if public is None else public.get(spec.key)
        if spec.kind == Kind.SECRET:
            # A secret is never shown; the form only says that one is stored.
            if public is not None and value is not None:
                state.stored.add(spec.key)
            continue
        state.values[spec.key] = as_text(spec, value)
    return state


def _pairs(text: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            raise ValueError(Sentence("line {line}: write each entry as Name: value", line=number))
        pairs[name.strip()] = value.strip()
    return pairs


def _read(spec: FormField, text: str) -> Any:
    if spec.kind == Kind.PAIRS:
        return _pairs(text)
    if spec.kind == Kind.LINES:
        return [line.strip() for line in text.splitlines() if line.strip()]
    if spec.kind == Kind.JSON:
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(
                Sentence(
                    "not valid JSON: {reason} (line {line}, column {column})",
                    reason=exc.msg,
                    line=exc.lineno,
                    column=exc.colno,
                )
            ) from None
    if spec.kind == Kind.CHOICE and spec.choices == ("true", "false"):
        return text == "true"
    return text


def posted(
    fields: list[FormField], form: dict[str, str], *, stored: set[str] | None
) -> tuple[dict[str, Any], FormState]:
    """The configuration a posted form asks for, and the form to show again should it fail.

    ``stored`` is ``None`` for a new channel: empty inputs are left out, so the model's
    defaults apply and its "required" errors name what is missing. Editing, an empty input
    is ``null`` (the key is removed, its default applies again), except a secret: left
    empty it stays as stored (sent as the mask, restored by the service), unless its
    "remove" box is ticked. Errors of reading (a bad JSON or ``Name: value`` line) are in
    the returned form state; the configuration then lacks those keys.

    A field that does not apply (its ``x-shown-when`` fails for the switches as posted)
    is left out whatever was typed in it: a new channel gets the model's default, an
    edited one keeps what is stored. The script disables such inputs so they are not
    posted; without it they are, and are ignored here the same way.
    """
    configuration: dict[str, Any] = {}
    state = FormState(stored=set(stored or ()))
    # The typed values first: whether a field applies depends on switches after it too.
    for spec in fields:
        if spec.kind == Kind.CHECKBOX:
            state.values[spec.key] = "true" if spec.name in form else "false"
        elif spec.kind != Kind.SECRET:
            state.values[spec.key] = form.get(spec.name, "")
    for spec in fields:
        if not spec.applies(state.values):
            continue
        if spec.kind == Kind.CHECKBOX:
            configuration[spec.key] = spec.name in form
            continue
        text = form.get(spec.name, "")
        if spec.kind == Kind.SECRET:
            if form.get(spec.name + ".remove") and spec.key in state.stored:
                configuration[spec.key] = None
            elif text:
                configuration[spec.key] = text
            elif spec.key in state.stored:
                configuration[spec.key] = MASK
            continue
        if not text.strip():
            if stored is not None:
                configuration[spec.key] = None
            continue
        try:
            configuration[spec.key] = _read(spec, text)
        except ValueError as exc:
            state.error(spec.key, exc.args[0])
    return configuration, state


def place_errors(state: FormState, error: NabatError, fields: list[FormField]) -> list[str]:
    """Put each of a service error's details next to its field (``configuration.smtpHost``
    → ``smtpHost``, ``configuration.headers.X-Api-Key`` → ``headers``, ``name`` →
    ``name``); return the messages that concern no one field (the error's own sentence
    when it has no details). The messages stay the service's sentences, for the page to
    say in its visitor's language."""
    if not error.details:
        return [error.message]
    keys = {spec.key for spec in fields}
    general: list[str] = []
    for detail in error.details:
        where, message = str(detail.get("field", "")), detail.get("message", "")
        inner = where.removeprefix("configuration.").split(".")[0]
        if where.startswith("configuration.") and inner in keys:
            state.error(inner, message)
        elif where in ("name", "type", "enabled", "isDefault", "checkIntervalSeconds"):
            state.error(where, message)
        else:
            general.append(
                Sentence("{field}: {message}", field=where, message=message) if where else message
            )
    return general
