"""The registry is the only list of channel types: each registered type has a sender, a
fake server speaking its protocol, an error-table test, a form and test-send wording."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import tests.fakes
from nabat.channels.descriptor import SenderParts
from nabat.channels.outbound import Outbound
from nabat.channels.registry import CHANNEL_TYPES, channel_type, config_model
from nabat.channels.smtp_pool import SmtpPools
from nabat.clock import SystemClock
from nabat.delivery.senders import build_senders
from nabat.security.ssrf import OutboundPolicy

TESTS = Path(__file__).parent


def _declared(tree: ast.Module, name: str) -> set[str]:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == name for target in node.targets
        ):
            value = ast.literal_eval(node.value)
            return set(value)
    return set()


def served_by_fakes() -> set[str]:
    """The types the modules of tests/fakes declare they speak for (``SERVES``)."""
    served: set[str] = set()
    for module in pkgutil.iter_modules(tests.fakes.__path__):
        served |= set(getattr(importlib.import_module(f"tests.fakes.{module.name}"), "SERVES", ()))
    return served


def error_tables_tested() -> set[str]:
    """The types whose error table a test module declares it tests (``ERROR_TABLE_OF``)."""
    tested: set[str] = set()
    for path in TESTS.glob("test_*.py"):
        tested |= _declared(ast.parse(path.read_text(encoding="utf-8")), "ERROR_TABLE_OF")
    return tested


@pytest.mark.parametrize("name", list(CHANNEL_TYPES))
def test_every_registered_type_has_a_fake_server_and_an_error_table_test(name: str) -> None:
    assert name in served_by_fakes(), f"add a fake for {name} to tests/fakes/ (SERVES)"
    assert name in error_tables_tested(), f"add an error-table test for {name} (ERROR_TABLE_OF)"


@pytest.mark.parametrize("name", list(CHANNEL_TYPES))
def test_every_registered_type_builds_a_sender_and_has_a_form(name: str) -> None:
    kind = channel_type(name)
    assert kind is not None
    parts = SenderParts(Outbound(OutboundPolicy([])), SmtpPools(), SystemClock())
    assert inspect.iscoroutinefunction(kind.sender(parts).send)
    assert config_model(name) is kind.config
    assert kind.config.model_json_schema()["properties"]


@pytest.mark.parametrize("name", list(CHANNEL_TYPES))
def test_every_registered_type_words_its_test_sends_in_russian_and_english(name: str) -> None:
    kind = channel_type(name)
    assert kind is not None
    for phrase in (kind.test_sent, kind.test_failed):
        assert phrase.ru != phrase.en
    assert kind.test_failed.said("ru", reason="X").endswith("X")
    assert kind.test_failed.said("en", reason="X").endswith("X")


def test_the_senders_cover_exactly_the_registered_types() -> None:
    senders = build_senders(Outbound(OutboundPolicy([])), SmtpPools(), SystemClock())
    assert set(senders) == set(CHANNEL_TYPES)


def test_the_seed_email_success_wording_is_seed_001s() -> None:
    email = channel_type("EMAIL")
    assert email is not None
    assert email.test_sent.said("ru") == "Тестовое письмо успешно отправлено"
