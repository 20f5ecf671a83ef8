"""INAPP's sender and its error table: no provider, so its failures are the delivery's
own (it names nobody, or someone who is not a user); the item's title, body and link as
the sender makes them; its recipients as routing resolves them; its default wording."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from nabat.catalogue import CATALOGUE, LANGUAGES
from nabat.channels.contract import DeliveryError, FailureClass, OutgoingMessage
from nabat.channels.inapp import InappConfig
from nabat.channels.inapp_sender import BODY_MAX, TITLE_MAX, InappSender, checked_link
from nabat.routing.recipients import expand
from nabat.templating import check_template, default_template, render_message, sample_event

# The error table this module tests (tests/test_channel_registry.py checks it).
ERROR_TABLE_OF = ("INAPP",)


def message(recipient: str | None = "7", **changes: object) -> OutgoingMessage:
    values: dict[str, object] = {
        "delivery_id": "dlv_1",
        "subject": "Billing API is down",
        "text": "No answer within 10 s.",
        "recipient": recipient,
        "event": {"type": "service.down", "typeTitle": "Service down"},
    }
    values.update(changes)
    return OutgoingMessage(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("recipient", "words"),
    [
        (None, "names none"),
        ("  ", "names none"),
        ("ops@example.org", "is not a user"),
        ("+79255070602", "is not a user"),
        ("٣", "is not a user"),
    ],
)
async def test_a_delivery_naming_no_user_is_rejected_for_good(
    recipient: str | None, words: str
) -> None:
    with pytest.raises(DeliveryError) as caught:
        await InappSender().send(InappConfig(), message(recipient))
    assert caught.value.failure_class is FailureClass.REJECTED
    assert not caught.value.transient
    assert words in caught.value.reason


async def test_the_receipt_carries_the_item_and_nothing_else_is_sent() -> None:
    receipt = await InappSender().send(InappConfig(), message(link="https://desk.example.org/r/1"))
    assert receipt.inbox is not None
    assert receipt.inbox.title == "Billing API is down"
    assert receipt.inbox.body == "No answer within 10 s."
    assert receipt.inbox.link == "https://desk.example.org/r/1"
    assert receipt.detail == "added to the inbox of user 7"
    assert receipt.provider_id == "dlv_1"


async def test_an_empty_subject_takes_the_type_title_and_long_parts_are_cut() -> None:
    receipt = await InappSender().send(
        InappConfig(), message(subject="", text="x" * (BODY_MAX + 50))
    )
    assert receipt.inbox is not None
    assert receipt.inbox.title == "Service down"
    assert len(receipt.inbox.body) == BODY_MAX
    assert receipt.inbox.body.endswith("…")
    long = await InappSender().send(InappConfig(), message(subject="word " * 100))
    assert long.inbox is not None
    assert len(long.inbox.title) <= TITLE_MAX


@pytest.mark.parametrize(
    ("link", "base", "kept"),
    [
        ("https://desk.example.org/r/1", None, "https://desk.example.org/r/1"),
        ("http://desk.example.org/r/1?x=1#y", None, "http://desk.example.org/r/1?x=1#y"),
        ("/requests/4521", "https://desk.example.org", "https://desk.example.org/requests/4521"),
        (
            "/requests/4521",
            "https://desk.example.org/base/",
            "https://desk.example.org/requests/4521",
        ),
        ("/requests/4521", None, None),
        ("requests/4521", "https://desk.example.org", None),
        ("javascript:alert(1)", "https://desk.example.org", None),
        ("mailto:ops@example.org", None, None),
        ("https://desk.example.org/a b", None, None),
        ("https://desk.example.org/\nx", None, None),
        ("https:///nohost", None, None),
        ("https://desk.example.org/" + "a" * 2000, None, None),
        ("", None, None),
        (None, None, None),
    ],
)
def test_only_an_http_link_is_kept_and_a_path_needs_the_base(
    link: str | None, base: str | None, kept: str | None
) -> None:
    assert checked_link(link, base) == kept


async def test_a_link_left_out_is_said_in_the_attempts_detail() -> None:
    receipt = await InappSender().send(InappConfig(), message(link="/requests/4521"))
    assert receipt.inbox is not None
    assert receipt.inbox.link is None
    assert "its link '/requests/4521' was left out" in receipt.detail
    based = InappConfig.model_validate({"linkBaseUrl": "https://desk.example.org"})
    joined = await InappSender().send(based, message(link="/requests/4521"))
    assert joined.inbox is not None
    assert joined.inbox.link == "https://desk.example.org/requests/4521"


def test_the_configuration_needs_nothing_and_refuses_a_bad_base() -> None:
    assert InappConfig.model_validate({}).to_public() == {}
    with pytest.raises(ValueError, match="http"):
        InappConfig.model_validate({"linkBaseUrl": "ftp://desk.example.org"})
    with pytest.raises(ValueError, match="linkBase"):
        InappConfig.model_validate({"linkBase": "https://desk.example.org"})


# --- routing: who an in-app delivery goes to ---------------------------------------------


@dataclass(frozen=True)
class Member:
    id: int
    username: str
    display_name: str | None = None
    contacts: dict[str, tuple[str, ...]] = field(default_factory=dict)


@pytest.mark.parametrize("allow_unregistered", [False, True])
def test_members_are_addressed_by_user_id_and_outsiders_never(allow_unregistered: bool) -> None:
    people = {
        "anna": Member(5, "anna", "Anna Smirnova"),
        "12": Member(12, "pavel"),
    }
    found = expand(
        refs=("anna", "12", "ops@example.org"),
        channel_type="INAPP",
        people=people,
        allow_unregistered=allow_unregistered,
    )
    assert [(t.address, t.name, t.ref) for t in found.targets] == [
        ("5", "Anna Smirnova", "anna"),
        ("12", "pavel", "12"),
    ]
    [note] = found.notes
    assert note["code"] == "USER_NOT_FOUND"
    assert note["recipient"] == "ops@example.org"
    assert note["message"] == (
        "'ops@example.org' is not a member of this project; in-app notifications reach members only"
    )


def test_an_in_app_route_without_recipients_has_one_target_with_no_one() -> None:
    found = expand(refs=(), channel_type="INAPP", people={}, allow_unregistered=False)
    assert [t.address for t in found.targets] == [None]


# --- its templates -----------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("type_key", [info.key for info in CATALOGUE])
def test_every_catalogue_type_has_an_in_app_default_with_title_text_and_link(
    type_key: str, language: str
) -> None:
    event = sample_event(type_key, language)
    source = default_template(type_key, "inapp", language)
    check_template(source)
    rendered = render_message(
        event=event, kind="inapp", language=language, template=source, signature="The ops team"
    )
    assert rendered.subject
    assert not rendered.subject.startswith("[")
    assert rendered.text.startswith(event["message"])
    assert "The ops team" not in rendered.text
    assert len(rendered.text) <= 500
    assert rendered.html is None
    assert rendered.link == (event["data"].get("link") or event["source"].get("url"))


def test_an_in_app_template_chooses_its_link_and_other_kinds_have_none() -> None:
    event = {**sample_event("service.down", "en"), "data": {"ticket": "4521"}}
    source = default_template("service.down", "inapp", "en")
    custom = type(source)(
        subject="{{ event.message }}",
        text="{% set link = '/requests/' ~ event.data.ticket %}Look at it",
    )
    rendered = render_message(
        event=event, kind="inapp", language="en", template=custom, signature=None
    )
    assert (rendered.text, rendered.link) == ("Look at it", "/requests/4521")
    chat = render_message(event=event, kind="chat", language="en", template=custom, signature=None)
    assert chat.link is None
    odd = type(source)(subject="s", text="{% set link = 42 %}x")
    assert (
        render_message(event=event, kind="inapp", language="en", template=odd, signature=None).link
        is None
    )
