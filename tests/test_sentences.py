"""Every sentence the code can put before a console user has its Russian wording.

The templates are read from the code itself (its syntax tree), so a new error cannot slip
through untranslated: each ``Sentence("…")`` template anywhere in Nabat, and each literal
message given to an error (a NabatError, ``config_error``, a validator's ``ValueError``)
where the console can reach it, must be in ``nabat/web/locales/ru/sentences/``, with no
placeholder the English lacks; a message made with an f-string or ``+`` there cannot be
looked up at all, so it is refused outright. pydantic's own error types are worded by type.
"""

from __future__ import annotations

import ast
import inspect
import json
import re
import string
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic_core import PydanticKnownError
from pydantic_core.core_schema import ErrorType

import nabat
import nabat.errors
from nabat.sentences import Sentence, either
from nabat.services.config_errors import PYDANTIC_TYPES
from nabat.web.i18n import say, sentences

ROOT = Path(nabat.__file__).parent

# Services the console does not reach: the API's intake of events and sends (the core's,
# worded for API clients), and background work that answers no one.
_NOT_CONSOLE = {
    "accept",
    "dashboard",
    "event_input",
    "event_router",
    "housekeeping",
    "ingest",
    "ingest_store",
    "integration_settings",
    "intake",
    "principals",
    "routing_cache",
    "routing_context",
    "sending",
}
# Routing's work at ingest (recipients' notes go to API clients of the send API).
_NOT_CONSOLE_ROUTING = {"plan", "recipients", "snapshot"}
# Calls whose string arguments are sentences a person reads, besides NabatError classes
# and the helpers that return one.
_MESSAGE_CALLS = {"config_error", "PydanticCustomError", "ValueError", "TemplateSyntaxError"}
# Arguments of those calls that are not sentences.
_NOT_MESSAGES = {"code", "headers", "retry_after", "kind"}
# An endpoint handed to a sentence as a value ("list them with GET /api/v1/…").
_ENDPOINT = re.compile(r"^(GET|POST|PUT|PATCH|DELETE) /")


@dataclass(frozen=True)
class Found:
    """A template or literal message, and where the code has it."""

    text: str
    where: str


def _files() -> Iterator[Path]:
    yield from sorted(ROOT.rglob("*.py"))


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text("utf-8"), str(path))


def _where(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(ROOT.parent)}:{getattr(node, 'lineno', 0)}"


def _name(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _defines_config(tree: ast.Module) -> bool:
    return any(
        isinstance(node, ast.ClassDef)
        and any(isinstance(base, ast.Name) and base.id == "ChannelConfig" for base in node.bases)
        for node in tree.body
    )


def _console_reachable(path: Path, tree: ast.Module) -> bool:
    """Services the console calls, routing, templating, and channel configuration models."""
    part = path.relative_to(ROOT).parts
    if part[0] == "services":
        return path.stem not in _NOT_CONSOLE
    if part[0] == "routing":
        return path.stem not in _NOT_CONSOLE_ROUTING
    if part == ("templating.py",):
        return True
    if part[0] == "channels":
        return path.stem == "base" or _defines_config(tree)
    return False


def _error_classes() -> set[str]:
    found = {
        name
        for name, value in vars(nabat.errors).items()
        if inspect.isclass(value) and issubclass(value, nabat.errors.NabatError)
    }
    # Subclasses defined elsewhere (TestSendFailed).
    for path in _files():
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.ClassDef) and any(
                isinstance(base, ast.Name) and base.id in found for base in node.bases
            ):
                found.add(node.name)
    return found


def _error_makers(classes: set[str]) -> set[str]:
    """Functions that return an error: ``def _invalid(field, message) -> ValidationFailed``."""
    makers = set(classes) | _MESSAGE_CALLS | {"mask_error"}
    for path in _files():
        for node in ast.walk(_tree(path)):
            if (
                isinstance(node, ast.FunctionDef)
                and isinstance(node.returns, ast.Name)
                and node.returns.id in classes | {"PydanticCustomError"}
            ):
                makers.add(node.name)
    return makers


def sentence_templates() -> list[Found]:
    """Every literal ``Sentence(...)`` template in Nabat."""
    found = []
    for path in _files():
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.Call) and _name(node) == "Sentence" and node.args:
                first = node.args[0]
                text = first.value if isinstance(first, ast.Constant) else None
                assert isinstance(text, str), f"{_where(path, node)}: a template is a literal"
                found.append(Found(text, _where(path, node)))
    return found


def _sentence_like(text: str) -> bool:
    return " " in text.strip() and not _ENDPOINT.match(text)


def _texty(node: ast.AST) -> bool:
    """Whether ``node`` builds text from pieces (``"a" + b``, ``"%s" % b``)."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Mod):
        return _texty(node.left) or _texty(node.right)
    return isinstance(node, ast.JoinedStr) or (
        isinstance(node, ast.Constant) and isinstance(node.value, str)
    )


def _messages(node: ast.AST, path: Path) -> Iterator[Found | str]:
    """The literal messages in an argument of an error (``Found``), and what cannot be
    looked up (a problem, as text)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        if _sentence_like(node.value):
            yield Found(node.value, _where(path, node))
    elif isinstance(node, ast.JoinedStr):
        words = "".join(
            part.value
            for part in node.values
            if isinstance(part, ast.Constant) and isinstance(part.value, str)
        )
        if _sentence_like(words):
            yield f"{_where(path, node)}: an f-string message; write Sentence(template, **values)"
    elif isinstance(node, ast.BinOp) and _texty(node):
        yield f"{_where(path, node)}: a message made with + or %; write Sentence(…) instead"
    elif isinstance(node, ast.Dict):
        for key, value in zip(node.keys, node.values, strict=True):
            if isinstance(key, ast.Constant) and key.value == "message":
                yield from _messages(value, path)
    elif isinstance(node, ast.List | ast.Tuple):
        for item in node.elts:
            yield from _messages(item, path)
    elif isinstance(node, ast.ListComp):
        yield from _messages(node.elt, path)
    elif isinstance(node, ast.IfExp):
        yield from _messages(node.body, path)
        yield from _messages(node.orelse, path)
    elif isinstance(node, ast.Call) and _name(node) == "Sentence":
        for keyword in node.keywords:
            yield from _messages(keyword.value, path)


def error_messages() -> tuple[list[Found], list[str]]:
    """The literal messages given to errors where the console reaches them, and the
    messages there that cannot be looked up."""
    makers = _error_makers(_error_classes())
    literals: list[Found] = []
    problems: list[str] = []
    for path in _files():
        tree = _tree(path)
        if not _console_reachable(path, tree):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Dict):
                # A detail built apart from its error: {"field": …, "message": …}.
                arguments: list[ast.expr] = [node]
            elif isinstance(node, ast.Call) and _name(node) in makers:
                arguments = [*node.args]
                arguments += [kw.value for kw in node.keywords if kw.arg not in _NOT_MESSAGES]
            else:
                continue
            for argument in arguments:
                for item in _messages(argument, path):
                    if isinstance(item, Found):
                        literals.append(item)
                    else:
                        problems.append(item)
    return literals, problems


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def _dummies(template: str) -> dict[str, object]:
    # A number takes every format spec the templates use ({most:,}, {wait:.1f}).
    return {
        name: 1 if spec else "x" for _, name, spec, _ in string.Formatter().parse(template) if name
    }


def _pydantic_context(kind: str) -> set[str]:
    """The context keys of pydantic's ``kind`` (what its own template may name): asked of
    pydantic itself, which names each key it lacks."""
    ctx: dict[str, object] = {}
    for _ in range(10):
        try:
            PydanticKnownError(kind, ctx or None)  # type: ignore[arg-type]
        except (KeyError, TypeError) as exc:
            problem = str(exc)
        else:
            return set(ctx)
        missing = re.search(r"'(\w+)'", problem)
        assert missing is not None, (kind, problem)
        # Named again once present: it wants a number, not text.
        ctx[missing.group(1)] = 1 if missing.group(1) in ctx else "x"
    raise AssertionError(f"pydantic keeps refusing the context of {kind}")


RUSSIAN = sentences("ru")


def test_every_sentence_template_has_its_russian_wording() -> None:
    missing = sorted({f.text for f in sentence_templates() if f.text not in RUSSIAN})
    assert not missing, "add to nabat/web/locales/ru/sentences/: " + "\n".join(missing)


def test_every_literal_message_the_console_can_show_has_its_russian_wording() -> None:
    literals, _ = error_messages()
    missing = sorted({f"{f.where}: {f.text}" for f in literals if f.text not in RUSSIAN})
    assert not missing, "add to nabat/web/locales/ru/sentences/:\n" + "\n".join(missing)


def test_no_message_the_console_can_show_is_made_with_an_f_string() -> None:
    _, problems = error_messages()
    assert not problems, "\n".join(problems)


def test_the_collectors_see_the_known_raise_sites() -> None:
    # The checks above are only as good as what they find: a known template of each kind.
    templates = {f.text for f in sentence_templates()}
    literals = {f.text for f in error_messages()[0]}
    assert (
        "{user} is the last owner of this project; make another member owner first "
        "(PUT /api/v1/members with role owner)" in templates
    )
    assert "must be an absolute http:// or https:// URL with a host" in literals
    assert "give at least one matcher; a silence without one would silence everything" in literals


@pytest.mark.parametrize(
    "source",
    [
        'ValidationFailed(f"channel {name} is taken")',
        '_invalid("name", "must be " + "short")',
        'Conflict(Sentence("{user} left", user=f"the user {name}"))',
    ],
)
def test_a_message_made_of_pieces_is_caught(source: str) -> None:
    call = ast.parse(source).body[0]
    assert isinstance(call, ast.Expr)
    assert isinstance(call.value, ast.Call)
    found = [item for arg in call.value.args for item in _messages(arg, ROOT / "x.py")]
    assert found
    assert all(isinstance(item, str) for item in found)


def test_no_catalogue_file_says_a_sentence_twice() -> None:
    def unique(pairs: list[tuple[str, str]]) -> dict[str, str]:
        keys = [key for key, _ in pairs]
        assert len(keys) == len(set(keys)), sorted({k for k in keys if keys.count(k) > 1})
        return dict(pairs)

    for part in sorted((ROOT / "web" / "locales" / "ru" / "sentences").glob("*.json")):
        json.loads(part.read_text("utf-8"), object_pairs_hook=unique)


def test_russian_templates_name_only_the_placeholders_the_english_has() -> None:
    # A literal message is said as it stands; a template is filled in, so its Russian may
    # leave a value out (a library's English diagnosis) but never name one it lacks.
    templates = {f.text for f in sentence_templates()}
    templates |= {key for key in RUSSIAN if key.count(":") >= 2 and key.startswith("pydantic:")}
    wrong = []
    for key in sorted(templates & RUSSIAN.keys()):
        english = key.split(":", 2)[2] if key.startswith("pydantic:") else key
        russian = RUSSIAN[key]
        if not _fields(russian) <= _fields(english):
            wrong.append(f"{key!r}: {sorted(_fields(russian) - _fields(english))}")
            continue
        try:
            russian.format(**_dummies(english))
        except (ValueError, IndexError, KeyError) as exc:
            wrong.append(f"{key!r}: {exc}")
    assert not wrong, "\n".join(wrong)


def test_every_catalogue_entry_is_still_used() -> None:
    constants = {
        node.value
        for path in _files()
        for node in ast.walk(_tree(path))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }
    unused = sorted(
        key for key in RUSSIAN if not key.startswith("pydantic:") and key not in constants
    )
    assert not unused, "\n".join(unused)


@pytest.mark.parametrize("kind", sorted(typing.get_args(ErrorType)))
def test_every_pydantic_error_type_has_its_russian_wording(kind: str) -> None:
    russian = RUSSIAN.get(f"pydantic:{kind}")
    assert russian is not None, f"add pydantic:{kind} to ru/sentences/pydantic.json"
    assert _fields(russian) <= _pydantic_context(kind), (kind, russian)
    assert kind in PYDANTIC_TYPES


def test_a_sentence_is_its_english_and_says_itself_in_russian() -> None:
    listing = either(["'ru'", "'en'"])
    said = Sentence(
        "{language!r} is not a language of the default templates; use {languages}",
        language="de",
        languages=listing,
    )
    assert said == "'de' is not a language of the default templates; use 'ru' or 'en'"
    assert say("en", said) == said
    assert say("ru", said) == "'de' — не язык шаблонов по умолчанию; укажите 'ru' или 'en'"
