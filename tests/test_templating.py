"""Message templates: the defaults, the sandbox, header safety and save-time checks."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from nabat.catalogue import CATALOGUE, LANGUAGES
from nabat.errors import ValidationFailed
from nabat.models.template import Template
from nabat.routing.snapshot import KINDS, event_snapshot
from nabat.services.templates import choose_template
from nabat.templating import (
    MAX_OUTPUT,
    SUBJECT_MAX,
    Rendered,
    TemplateSource,
    check_template,
    default_template,
    one_line,
    render_message,
    sample_event,
)

TYPES = [info.key for info in CATALOGUE]
# Jinja2 tags and comments, and HTML tags: what is left is the wording itself.
_MARKUP = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}|<[^>]*>", re.DOTALL)
# Latin words the Russian defaults may keep: the product's name and an abbreviation.
_LATIN_ALLOWED = {"Nabat", "ID"}


def render(
    template: TemplateSource | None,
    *,
    event: dict[str, Any] | None = None,
    kind: str = "email",
    language: str = "en",
    signature: str | None = None,
) -> Rendered:
    """Render against ``event`` (default: the service.down sample) with a recipient."""
    return render_message(
        event=event or sample_event("service.down", language),
        kind=kind,
        language=language,
        template=template,
        signature=signature,
        recipient={"name": "Alex Morgan", "address": "alex@example.org"},
        project={"name": "Operations"},
    )


def refusal(source: TemplateSource) -> dict[str, Any]:
    """Check ``source``, expecting a refusal; return its first detail plus the message."""
    with pytest.raises(ValidationFailed) as caught:
        check_template(source)
    detail: dict[str, Any] = dict(caught.value.details[0])
    detail["error"] = caught.value.message
    return detail


def text(source: str) -> TemplateSource:
    """A template with only a text part."""
    return TemplateSource(subject=None, text=source)


# --- defaults ------------------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("type_key", TYPES)
def test_every_catalogue_type_has_a_default_on_every_kind_in_both_languages(
    type_key: str, kind: str, language: str
) -> None:
    rendered = render(None, event=sample_event(type_key, language), kind=kind, language=language)
    # An inbox item's title goes without the severity: the inbox shows it beside the title.
    assert rendered.subject.startswith("[") == (kind != "inapp")
    assert rendered.text.strip()
    assert (rendered.html is not None) == (kind == "email")
    for part in (rendered.subject, rendered.text, rendered.html or ""):
        assert "None" not in part
        assert "{{" not in part
        assert "{%" not in part
    if kind == "sms":
        assert "\n" not in rendered.text
        assert len(rendered.text) <= 160
    else:
        assert sample_event(type_key, language)["message"] in rendered.text


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", KINDS)
def test_the_defaults_pass_the_check_a_saved_template_must_pass(kind: str, language: str) -> None:
    for type_key in (*TYPES, "backup.too_slow"):
        check_template(default_template(type_key, kind, language))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("type_key", TYPES)
def test_russian_defaults_are_worded_in_russian(type_key: str, kind: str) -> None:
    source = default_template(type_key, kind, "ru")
    english = default_template(type_key, kind, "en")
    for field in ("subject", "text", "html"):
        wording = _MARKUP.sub(" ", getattr(source, field) or "")
        latin = set(re.findall(r"[A-Za-z]{2,}", wording)) - _LATIN_ALLOWED
        assert not latin, f"{field}: English words {latin} in the Russian default"
    rendered = render(None, event=sample_event(type_key, "ru"), kind=kind, language="ru")
    assert re.search(r"[а-яё]{4,}", rendered.subject)
    in_english = render(english, event=sample_event(type_key, "ru"), kind=kind)
    # An inbox item's text may be the event's own words alone: its title is then the
    # part worded in the language.
    worded = "subject" if kind == "inapp" else "text"
    assert getattr(rendered, worded) != getattr(in_english, worded)


def test_russian_e_mail_reads_as_russian() -> None:
    rendered = render(None, event=sample_event("object.status_changed", "ru"), language="ru")
    assert rendered.subject == (
        "[INFO] «Не печатает принтер на 3-м этаже»: статус изменён на «В работе»"
    )
    assert "Здравствуйте, Alex Morgan!" in rendered.text
    assert "Статус: Новая → В работе" in rendered.text
    assert "Важность: информация" in rendered.text
    assert rendered.html is not None
    assert '<html lang="ru">' in rendered.html


def test_the_e_mail_default_shows_severity_source_subject_status_message_and_labels() -> None:
    rendered = render(None)
    assert rendered.subject == "[CRITICAL] Billing API is down"
    for line in (
        "Hello, Alex Morgan.",
        "No answer within 10 s, three checks in a row.",
        "Severity: Critical",
        "Source: Billing API — https://status.example.org/billing-api",
        "Status: UP → DOWN",
        "Labels: env=production, team=payments",
        "Occurred: 2025-03-14 09:26 UTC",
    ):
        assert line in rendered.text
    assert rendered.html is not None
    assert '<a href="https://status.example.org/billing-api">' in rendered.html


def test_a_deadline_default_shows_the_due_time() -> None:
    rendered = render(None, event=sample_event("deadline.approaching"), kind="chat")
    assert "Due: 2025-03-14 12:00 UTC" in rendered.text


def test_a_custom_type_gets_generic_wording_from_its_type_title() -> None:
    event = {**sample_event("backup.too_slow"), "typeTitle": "Backup overran its window"}
    rendered = render(None, event=event)
    assert rendered.subject == "[WARNING] Backup overran its window: Nightly backup"
    assert "Type: Backup overran its window" in rendered.text


def test_an_event_naming_nothing_gets_the_type_title_as_headline() -> None:
    event = {**sample_event("service.down"), "source": {}, "subject": {}}
    assert render(None, event=event, kind="chat").subject == "[CRITICAL] Service down"


# --- safety of what is rendered ----------------------------------------------------------


def test_a_subject_is_one_line_whatever_the_event_carries() -> None:
    event = {**sample_event("service.down"), "message": "Alert\r\nBcc: evil@example.org"}
    event["subject"] = {**event["subject"], "title": "db\u2028X-Injected: 1\x00\x0b\x85"}
    rendered = render(TemplateSource(subject="{{ event.message }}", text="x"), event=event)
    assert rendered.subject == "Alert Bcc: evil@example.org"
    default = render(None, event=event)
    assert default.subject == "[CRITICAL] Billing API is down"
    titled = render(TemplateSource(subject="{{ event.subject.title }}\n\n", text="x"), event=event)
    assert titled.subject == "db X-Injected: 1"
    assert not any(char in titled.subject for char in "\r\n\u2028\x00\x0b\x85")


def test_a_long_subject_is_cut_to_the_limit() -> None:
    assert len(one_line("word " * 200)) == SUBJECT_MAX
    assert one_line("word " * 200).endswith("…")
    assert one_line("  short\tand\nsweet  ") == "short and sweet"


def test_html_escapes_event_values_and_links_only_http() -> None:
    event = {
        **sample_event("service.down"),
        "message": '<script>alert("x")</script>',
        "source": {"name": "<b>api</b>", "url": "javascript:alert(1)"},
    }
    rendered = render(None, event=event)
    assert rendered.html is not None
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;" in rendered.html
    assert "&lt;b&gt;api&lt;/b&gt;" in rendered.html
    assert 'href="javascript' not in rendered.html
    assert '<script>alert("x")</script>' in rendered.text
    custom = render(TemplateSource("s", "t", "<p>{{ event.message }}</p>"), event=event)
    assert custom.html == "<p>&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</p>"


def test_the_signature_is_appended_to_text_and_html_but_not_sms() -> None:
    signature = "Duty team & co\n+7 495 000-00-00"
    rendered = render(None, signature=signature)
    assert rendered.text.endswith("\n\n-- \nDuty team & co\n+7 495 000-00-00")
    assert rendered.html is not None
    block = "<p>Duty team &amp; co<br>\n+7 495 000-00-00</p>"
    assert block in rendered.html
    assert rendered.html.index(block) < rendered.html.index("</body>")
    fragment = render(TemplateSource("s", "t", "<p>hi</p>"), signature=signature)
    assert fragment.html == "<p>hi</p>" + block
    sms = render(None, kind="sms", signature=signature)
    assert "Duty team" not in sms.text
    assert render(None, kind="chat", signature="  ").text == render(None, kind="chat").text


def test_html_is_only_for_e_mail() -> None:
    source = TemplateSource("s", "t", "<p>h</p>")
    assert render(source, kind="chat").html is None
    assert render(TemplateSource("s", "t"), kind="email").html is None


def test_missing_values_render_empty_instead_of_failing() -> None:
    event = {**sample_event("service.down"), "subject": None, "source": {}}
    source = text("[{{ event.subject.title }}|{{ event.source.url|upper }}|{{ nothing.at.all }}]")
    assert render(source, event=event).text == "[||]"
    no_one = render_message(
        event=event,
        kind="chat",
        language="en",
        template=text("{{ recipient.name }}/{{ project.name }}/{{ language }}"),
        signature=None,
    )
    assert no_one.text == "//en"


def test_template_variables_cover_type_and_severity_in_the_language() -> None:
    source = text("{{ type.key }}|{{ type.title }}|{{ type.description }}|{{ severity.title }}")
    rendered = render(source, event=sample_event("alarm.raised", "ru"), language="ru")
    assert rendered.text == (
        "alarm.raised|Тревога|Сработала тревога (например, оповещение Alertmanager или "
        "Grafana).|критическая"
    )


def test_rendering_is_capped_in_size() -> None:
    source = text("{% for i in range(20000) %}0123456789{% endfor %}")
    with pytest.raises(ValidationFailed, match=f"more than {MAX_OUTPUT:,} characters"):
        render(source)
    assert refusal(source)["field"] == "text"


def test_a_runaway_loop_is_stopped_by_the_time_budget() -> None:
    source = text(
        "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}"
    )
    started = time.monotonic()
    with pytest.raises(ValidationFailed, match="takes too long to render"):
        render(source)
    assert time.monotonic() - started < 5


# --- the sandbox ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "cause"),
    [
        ("{{ ''.__class__.__mro__ }}", "'__mro__' is not allowed"),
        ("{{ cycler.__init__.__globals__ }}", "'__globals__' is not allowed"),
        ("{{ event._private }}", "'_private' is not allowed"),
        ("{{ event['__class__'] }}", "'__class__' is not allowed"),
        ("{% if false %}{{ x.__class__ }}{% endif %}", "'__class__' is not allowed"),
        ("{{ ''|attr('__class__') }}", "'__class__' is not allowed"),
        ("{{ ''|attr('__cla' ~ 'ss__') }}", "str.__class__ is not available to templates"),
        ("{{ event.labels.update({'a': 1}) }}", "dict.update is not available to templates"),
        ("{{ '{0.__class__}'.format(1) }}", "int.__class__ is not available to templates"),
        ("{% include 'secrets.txt' %}", "cannot include, import or extend"),
        ("{% import 'macros' as m %}", "cannot include, import or extend"),
        ("{{ lipsum(1000000) }}", "'lipsum' is undefined"),
    ],
)
def test_sandbox_escapes_are_refused_with_a_clear_message(source: str, cause: str) -> None:
    detail = refusal(text("Hello\n" + source))
    assert detail["field"] == "text"
    assert detail["line"] == 2
    assert cause in detail["message"]
    assert detail["error"].startswith("the text template, line 2: ")
    with pytest.raises(ValidationFailed):
        render(text("Hello\n" + source))


@pytest.mark.parametrize(
    "source",
    [
        "{{ 'a' * 1000000000 }}",
        "{{ [1] * 1000000000 }}",
        "{{ 2 ** 100000000 }}",
        "{{ 'a'.center(1000000000) }}",
        "{{ 'a'|center(1000000000) }}",
        "{{ 'a'|indent(1000000000) }}",
        "{{ '%0999999999d' % 1 }}",
        "{{ '%0999999999d'|format(1) }}",
        "{{ '{:>999999999}'.format(1) }}",
        "{{ '{:{}}'.format(1, 999999999) }}",
        "{{ ('x' * 100000)|replace('', 'y' * 100000) }}",
        "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}"
        "{% endfor %}{{ ns.s|length }}",
        "{% macro d(s, n) %}{{ d(s ~ s, n - 1) if n else s|length }}{% endmacro %}{{ d('x', 40) }}",
    ],
)
def test_memory_bombs_are_refused_before_they_allocate(source: str) -> None:
    started = time.monotonic()
    detail = refusal(text(source))
    assert detail["message"].startswith("blocked by the sandbox: ")
    assert time.monotonic() - started < 1


NOT_PRINTABLE = [
    "{{ event|attr('items') }}",
    "{{ event.keys }}",
    "{{ event.labels.get }}",
    "{{ event.message.upper }}",
    "{{ dict }}",
    "{{ cycler }}",
    "{{ namespace() }}",
    "{{ self }}",
    "{% for x in [1] %}{{ loop }}{% endfor %}",
    "{{ range(3) }}",
    "{{ [event.message, event.keys] }}",
    "{{ {'k': dict} }}",
]


@pytest.mark.parametrize("source", NOT_PRINTABLE)
@pytest.mark.parametrize("kind", ["chat", "email"])
def test_functions_methods_and_objects_print_nothing_rather_than_their_representation(
    source: str, kind: str
) -> None:
    template = TemplateSource(f"[{source}]", f"[{source}]", f"<p>[{source}]</p>")
    check_template(template)
    rendered = render(template, kind=kind)
    assert rendered.subject == "[]"
    assert rendered.text == "[]"
    assert rendered.html in (None, "<p>[]</p>")


@pytest.mark.parametrize(
    "source", ["{{ event.__class__ }}", "{{ event|attr('__cl' ~ 'ass__') }}", "{{ self.__dict__ }}"]
)
def test_reaching_for_a_class_is_refused_not_printed(source: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        render(text(source))
    assert "<class" not in caught.value.message
    assert "not allowed" in caught.value.message or "not available" in caught.value.message


def test_text_numbers_dates_lists_and_mappings_print_as_before() -> None:
    event = {
        **sample_event("service.down"),
        "data": {
            "count": 3,
            "ratio": 0.25,
            "up": False,
            "gone": None,
            "at": datetime(2025, 3, 14, 9, 26, tzinfo=UTC),
            "on": datetime(2025, 3, 14, tzinfo=UTC).date(),
            "hosts": ["a", "b"],
            "owner": {"team": "payments", "ids": [1, 2]},
        },
    }
    source = text(
        "{{ event.message }}|{{ event.data.count }}|{{ event.data.ratio }}|{{ event.data.up }}"
        "|{{ event.data.gone }}|{{ event.data.at }}|{{ event.data.on }}|{{ event.data.hosts }}"
        "|{{ event.data.owner }}|{{ event.data.hosts|join(',') }}|{{ event.data.missing }}"
        "|{{ event.data.owner.items()|list }}|{% for x in [1, 2] %}{{ loop.index }}{% endfor %}"
    )
    assert render(source, event=event).text == (
        f"{event['message']}|3|0.25|False|None|2025-03-14 09:26:00+00:00|2025-03-14"
        "|['a', 'b']|{'team': 'payments', 'ids': [1, 2]}|a,b|"
        "|[('team', 'payments'), ('ids', [1, 2])]|12"
    )
    html = render(TemplateSource("s", "t", "<p>{{ event.message|nl2br }}</p>"), event=event)
    assert html.html == f"<p>{event['message']}</p>"


# --- save-time checks --------------------------------------------------------------------


def test_a_syntax_error_names_the_field_the_line_and_the_cause() -> None:
    detail = refusal(TemplateSource("ok", "line one\nline two\n{{ event.message }\nfour"))
    assert detail == {
        "field": "text",
        "line": 3,
        "message": "unexpected '}'",
        "type": "template_error",
        "error": "the text template, line 3: unexpected '}'",
    }
    html = refusal(TemplateSource("ok", "ok", "<p>\n{% if event.message %}\n</p>"))
    assert html["field"] == "html"
    assert "endif" in html["message"]
    subject = refusal(TemplateSource("{{ event.severity ", "ok"))
    assert (subject["field"], subject["line"]) == ("subject", 1)


def test_an_unknown_filter_is_refused_at_save() -> None:
    detail = refusal(text("a\n\n{{ event.message|frobnicate }}"))
    assert (detail["line"], detail["message"]) == (3, "No filter named 'frobnicate'.")


def test_a_runtime_error_on_some_event_type_surfaces_at_save() -> None:
    # Fine for service.down (it has data.checks), an error for types without it.
    source = text("Checks:\n{{ event.data.checks + 1 }}")
    assert render(source).text == "Checks:\n4"
    detail = refusal(source)
    assert detail["line"] == 2
    assert "'dict object' has no attribute 'checks'" in detail["message"]
    assert "with the sample service.up event" in detail["message"]


def test_a_template_relying_on_a_recipient_fails_at_save_not_at_delivery() -> None:
    detail = refusal(text("{{ recipient.name ~ '!' }}{{ recipient.address.lower() }}"))
    assert "backup.too_slow" in detail["message"]


def test_a_custom_filter_set_helps_templates() -> None:
    source = text(
        "{{ event.message|oneline }}|{{ event.occurredAt|datetime }}|"
        "{{ 'ftp://x'|http_url }}|{{ 'https://x'|http_url }}"
    )
    event = {**sample_event("service.down"), "message": "a\n b"}
    assert render(source, event=event).text == "a b|2025-03-14 09:26 UTC||https://x"
    multiline = TemplateSource("s", "t", "<p>{{ event.message|nl2br }}</p>")
    event["message"] = "one\n<two>"
    assert render(multiline, event=event).html == "<p>one<br>\n&lt;two&gt;</p>"


# --- sample events and the choice of template ---------------------------------------------


def test_sample_events_have_the_snapshot_shape() -> None:
    shape = event_snapshot(
        public_id="e",
        type_key="t",
        type_title="T",
        severity="INFO",
        message="",
        source={},
        subject={},
        labels={},
        data={},
        occurred_at=datetime(2025, 1, 1, tzinfo=UTC),
        received_at=datetime(2025, 1, 1, tzinfo=UTC),
    )
    for type_key in (*TYPES, "backup.too_slow"):
        for language in LANGUAGES:
            event = sample_event(type_key, language)
            assert set(event) == set(shape)
            assert set(event["subject"]) == set(shape["subject"])
            assert event["type"] == type_key
    assert sample_event("service.down", "ru")["typeTitle"] == "Сервис недоступен"


def row(template_id: int, type_key: str | None, kind: str, language: str | None) -> Template:
    """A saved template, as the worker loads it."""
    return Template(
        id=template_id,
        project_id=1,
        name=f"t{template_id}",
        type_key=type_key,
        channel_kind=kind,
        language=language,
        subject=None,
        text=f"template {template_id}",
        html=None,
    )


def test_choose_template_prefers_the_rule_override_then_language_then_any_language() -> None:
    rows = [
        row(1, "service.down", "email", None),
        row(2, "service.down", "email", "en"),
        row(3, None, "email", None),
        row(4, "service.down", "chat", "en"),
        row(5, None, "chat", None),
    ]

    def chosen(
        type_key: str = "service.down",
        kind: str = "email",
        language: str = "en",
        template_id: int | None = None,
    ) -> str | None:
        source = choose_template(
            rows, type_key=type_key, kind=kind, language=language, template_id=template_id
        )
        return source.text if source else None

    assert chosen(template_id=3) == "template 3"
    assert chosen() == "template 2"
    assert chosen(language="ru") == "template 1"
    assert chosen(kind="chat", language="ru") is None
    assert chosen(type_key="service.up") is None
    # An override of another kind, or one that no longer exists, falls back.
    assert chosen(template_id=5) == "template 2"
    assert chosen(template_id=99) == "template 2"
    assert chosen(kind="sms") is None
