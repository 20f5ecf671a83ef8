"""The SMS channel's generated form: saved with numbers in E.164, refusals next to their
fields, and the Test panel sending through a fake SMS.ru."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.fakes.sms import SMSRU_API_ID, SmsRuFake, form_of
from tests.support.channels import made_by_people
from tests.web.support import assert_translated, console_login, post_form

CHANNELS = "/api/v1/notifications/channels"


@pytest.fixture
async def smsru() -> AsyncIterator[SmsRuFake]:
    async with SmsRuFake() as fake:
        yield fake


def near(page: str, key: str) -> str:
    """The text of the field ``key``'s block."""
    start = page.find(f'<label for="field-{key}"')
    assert start >= 0, key
    end = page.find('<div class="config-field', start)
    return html.unescape(page[start:end])


async def test_an_smsru_channel_from_its_form_stores_e164_and_sends_a_test(
    client: httpx.AsyncClient, admin_headers: dict[str, str], smsru: SmsRuFake
) -> None:
    await console_login(client, language="en")
    answer = await post_form(
        client,
        "/channels/new?type=SMS",
        "/channels/new",
        {
            "type": "SMS",
            "name": "On-call SMS",
            "enabled": "on",
            "config.provider": "SMSRU",
            "config.apiId": SMSRU_API_ID,
            "config.apiBaseUrl": smsru.base_url,
            "config.defaultRecipients": "8 925 507-06-02\n+44 20 8366 1177",
            "config.sender": "Nabat",
            "config.maxSegments": "2",
        },
    )
    assert answer.status_code == 303, answer.text
    [channel] = made_by_people((await client.get(CHANNELS, headers=admin_headers)).json())
    configuration = channel["configuration"]
    assert configuration["defaultRecipients"] == ["+79255070602", "+442083661177"]
    assert configuration["apiId"] == "********"
    assert configuration["maxSegments"] == 2
    edit = await client.get(answer.headers["location"])
    assert_translated(edit.text)
    assert SMSRU_API_ID not in edit.text
    assert "+79255070602\n+442083661177" in html.unescape(edit.text)

    client.cookies.set("nabat_lang", "ru")
    tested = await post_form(
        client,
        f"/channels/{channel['id']}",
        f"/channels/{channel['id']}/test",
        {"recipient": "", "subject": "", "message": "Проверка"},
    )
    assert tested.status_code == 303
    shown = await client.get(tested.headers["location"])
    notice = re.search(r'class="notice" role="status">([^<]+)<', shown.text)
    assert notice is not None
    assert html.unescape(notice.group(1)) == "Тестовое SMS успешно отправлено"
    [request] = smsru.requests
    assert form_of(request)["to"] == "79255070602,442083661177"


async def test_a_bad_number_and_another_providers_key_are_shown_next_to_their_fields(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await console_login(client, language="en")
    fields = {"type": "SMS", "name": "sms", "config.provider": "SMSRU"}
    answer = await post_form(
        client,
        "/channels/new?type=SMS",
        "/channels/new",
        {**fields, "config.apiId": SMSRU_API_ID, "config.defaultRecipients": "+7 925 ABC"},
    )
    assert answer.status_code == 422
    assert "is not a phone number" in near(answer.text, "defaultRecipients")
    assert "+7 925 ABC</textarea>" in near(answer.text, "defaultRecipients")

    answer = await post_form(
        client,
        "/channels/new?type=SMS",
        "/channels/new",
        {**fields, "config.apiId": SMSRU_API_ID, "config.smscLogin": "alerts"},
    )
    assert answer.status_code == 422
    assert "not of SMSRU" in near(answer.text, "smscLogin")

    answer = await post_form(client, "/channels/new?type=SMS", "/channels/new", fields)
    assert answer.status_code == 422
    assert "required for the SMSRU provider" in near(answer.text, "apiId")
    assert made_by_people((await client.get(CHANNELS, headers=admin_headers)).json()) == []
