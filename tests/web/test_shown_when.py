"""Conditional fields (``x-shown-when``) in the generated channel forms: what the form
generator makes of them and how a posted form is read back."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic.alias_generators import to_camel

from nabat.channels.base import MASK
from nabat.web.forms import Condition, FormField, Kind, form_fields, posted, shown
from nabat.web.pages.channels import Draft
from nabat.web.render import environment


class Mailbox(BaseModel):
    """A small configuration in the shape of EWS's: a login or OAuth2 credentials."""

    model_config = ConfigDict(alias_generator=to_camel, validate_by_alias=True)

    server: str
    oauth2: bool = False
    username: str | None = Field(
        default=None, json_schema_extra={"x-shown-when": {"oauth2": False}}
    )
    password: SecretStr | None = Field(
        default=None, json_schema_extra={"x-shown-when": {"oauth2": False}}
    )
    tenant_id: str = Field(json_schema_extra={"x-shown-when": {"oauth2": True}})
    client_secret: SecretStr | None = Field(
        default=None, json_schema_extra={"x-shown-when": {"oauth2": True}}
    )
    # A nullable switch: unset decides nothing, so what depends on it stays.
    verify: bool | None = None
    ca_file: str | None = Field(
        default=None, json_schema_extra={"x-shown-when": {"oauth2": False, "verify": True}}
    )


FIELDS = {spec.key: spec for spec in form_fields(Mailbox)}


def test_the_generator_gives_each_field_the_conditions_its_schema_names() -> None:
    assert FIELDS["server"].shown_when == ()
    assert FIELDS["oauth2"].kind == Kind.CHECKBOX
    assert FIELDS["username"].shown_when == (Condition("oauth2", False),)
    assert FIELDS["password"].kind == Kind.SECRET
    assert FIELDS["password"].shown_when == (Condition("oauth2", False),)
    assert FIELDS["tenantId"].shown_when == (Condition("oauth2", True),)
    assert FIELDS["tenantId"].required
    assert set(FIELDS["caFile"].shown_when) == {
        Condition("verify", True),
        Condition("oauth2", False),
    }
    # The script reads the conditions from the page as JSON, under the form's own keys.
    assert FIELDS["caFile"].shown_when_json == '{"oauth2": false, "verify": true}'


@pytest.mark.parametrize(
    ("values", "applying"),
    [
        ({"oauth2": "false"}, {"username", "password", "caFile"}),
        ({"oauth2": "true"}, {"tenantId", "clientSecret"}),
        ({"oauth2": "false", "verify": "false"}, {"username", "password"}),
        ({"oauth2": "false", "verify": "true"}, {"username", "password", "caFile"}),
        ({"oauth2": "true", "verify": "true"}, {"tenantId", "clientSecret"}),
    ],
)
def test_a_field_applies_while_all_its_conditions_hold(
    values: dict[str, str], applying: set[str]
) -> None:
    conditional = {key for key, spec in FIELDS.items() if spec.shown_when}
    assert {key for key in conditional if FIELDS[key].applies(values)} == applying


def test_a_new_form_applies_what_the_defaults_switch_on() -> None:
    state = shown(list(FIELDS.values()), None)
    assert state.applies(FIELDS["username"])
    assert not state.applies(FIELDS["tenantId"])


def test_a_posted_form_leaves_out_what_does_not_apply_whatever_was_typed() -> None:
    form = {
        "config.server": "mail.example.org",
        "config.oauth2": "on",
        "config.username": "typed before switching",
        "config.password": "autofilled by the browser",
        "config.tenantId": "contoso",
        "config.clientSecret": "s3cret",
    }
    configuration, state = posted(list(FIELDS.values()), form, stored=None)
    assert configuration == {
        "server": "mail.example.org",
        "oauth2": True,
        "tenantId": "contoso",
        "clientSecret": "s3cret",
    }
    # Shown again (should the save fail) as typed, secrets excepted.
    assert state.values["username"] == "typed before switching"
    assert "password" not in state.values
    # With the switch off, the other way round; a required field that does not apply is
    # not asked for, so the model's own rules decide.
    form.pop("config.oauth2")
    configuration, _ = posted(list(FIELDS.values()), form, stored=None)
    assert configuration == {
        "server": "mail.example.org",
        "oauth2": False,
        "username": "typed before switching",
        "password": "autofilled by the browser",
    }


def test_an_edit_keeps_what_is_stored_for_fields_that_do_not_apply() -> None:
    # The script disabled the login inputs, so they were not posted at all: the keys are
    # left out, and the service keeps what is stored (an empty input would clear them).
    form = {"config.server": "mail.example.org", "config.oauth2": "on", "config.tenantId": "t"}
    configuration, _ = posted(list(FIELDS.values()), form, stored={"password", "clientSecret"})
    assert configuration == {
        "server": "mail.example.org",
        "oauth2": True,
        "tenantId": "t",
        "clientSecret": MASK,
        "verify": None,
    }


class Misnamed(BaseModel):
    on: bool = False
    level: int = 1
    note: str | None = Field(default=None, json_schema_extra={"x-shown-when": {"level": 2}})


class Unknown(BaseModel):
    note: str | None = Field(default=None, json_schema_extra={"x-shown-when": {"oauth_2": True}})


class Empty(BaseModel):
    note: str | None = Field(default=None, json_schema_extra={"x-shown-when": {}})


@pytest.mark.parametrize("model", [Misnamed, Unknown, Empty])
def test_a_condition_naming_no_boolean_field_is_refused_at_once(model: type[BaseModel]) -> None:
    with pytest.raises(ValueError, match="x-shown-when"):
        form_fields(model)


def _rendered(spec: FormField) -> str:
    template = environment().from_string(
        '{% from "channels/fields.html" import config_field with context %}'
        "{{ config_field(spec, draft) }}"
    )
    draft = Draft(config=shown(list(FIELDS.values()), None))
    return template.render(
        spec=spec,
        draft=draft,
        t=lambda key, **values: f"{key}({values.get('field', '')})",
        label=lambda key: key,
        help_of=lambda spec: None,
    )


def test_the_form_marks_a_conditional_field_and_never_makes_the_browser_require_it() -> None:
    server = _rendered(FIELDS["server"])
    assert " required " in server
    assert "data-shown-when" not in server
    tenant = _rendered(FIELDS["tenantId"])
    # Required while it applies (the script adds it then), never as served: without the
    # script it shows in the other mode too, and must not block saving that one.
    assert " required" not in tenant.replace("data-required", "")
    assert "data-required" in tenant
    assert 'data-shown-when="{&#34;oauth2&#34;: true}"' in tenant
    assert "channels.hint.shown_when_on(oauth2)" in tenant
    password = _rendered(FIELDS["password"])
    assert "channels.hint.shown_when_off(oauth2)" in password
    assert "shown_when" not in server
