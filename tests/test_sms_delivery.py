"""SMS end to end: an event for a person reaches their phone contact point in the
default ``sms`` wording, and test sends go to the number given (on both databases)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.fakes.sms import SmsFakes, form_of, running_sms_fakes
from tests.support.errors import expect_error

CHANNELS = "/api/v1/notifications/channels"
DELIVERIES = "/api/v1/notifications/deliveries"


@pytest.fixture
async def fakes() -> AsyncIterator[SmsFakes]:
    async with running_sms_fakes() as running:
        yield running


async def sms_channel(
    client: httpx.AsyncClient, headers: dict[str, str], configuration: dict[str, Any]
) -> int:
    body = {"name": "sms", "type": "SMS", "configuration": configuration}
    created = await client.post(CHANNELS, json=body, headers=headers)
    assert created.status_code == 201, created.text
    channel_id: int = created.json()["id"]
    return channel_id


async def test_an_event_for_a_person_reaches_their_phone_in_the_sms_wording(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str], fakes: SmsFakes
) -> None:
    channel = await sms_channel(client, admin_headers, fakes.settings("SMSRU"))
    phone = await client.post(
        "/api/v1/users/me/contact-points",
        json={"kind": "PHONE", "value": "+7 925 507-06-02"},
        headers=admin_headers,
    )
    assert phone.status_code == 201, phone.text
    event = {
        "type": "service.down",
        "severity": "CRITICAL",
        "source": {"name": "probe"},
        "message": "api-1 does not answer",
        "channelIds": [channel],
        "recipients": ["admin"],
    }
    accepted = (await client.post("/api/v1/events", json=event, headers=admin_headers)).json()
    [planned] = accepted["deliveries"]
    assert planned["recipient"] == "+79255070602"

    await app.state.nabat.new_worker().run_until_idle()

    [request] = fakes.smsru.requests
    sent = form_of(request)
    assert sent["to"] == "79255070602"
    assert sent["msg"].startswith("[CRITICAL] ")
    assert sent["msg"].endswith("api-1 does not answer")
    assert "\n" not in sent["msg"]
    record = (await client.get(f"{DELIVERIES}/{planned['id']}", headers=admin_headers)).json()
    assert record["status"] == "SENT"
    assert record["providerId"] == "000000-10000001"
    assert "SMS part" in record["attemptLog"][0]["reason"]


async def test_a_test_send_goes_to_the_number_given_and_says_its_parts(
    client: httpx.AsyncClient, admin_headers: dict[str, str], fakes: SmsFakes
) -> None:
    channel = await sms_channel(client, admin_headers, fakes.settings("TWILIO"))

    answer = await client.post(
        f"{CHANNELS}/{channel}/test",
        json={"recipient": "+44 20 8366 1177", "message": "Проверка связи"},
        headers=admin_headers,
    )

    assert answer.status_code == 200, answer.text
    assert "(UCS-2)" in answer.json()["detail"]
    [message] = fakes.twilio.messages
    assert message["To"] == "+442083661177"
    assert "Проверка связи" in message["Body"]


async def test_a_test_send_without_a_number_anywhere_says_where_to_add_one(
    client: httpx.AsyncClient, admin_headers: dict[str, str], fakes: SmsFakes
) -> None:
    channel = await sms_channel(client, admin_headers, fakes.settings("SMSC"))

    answer = await client.post(f"{CHANNELS}/{channel}/test", headers=admin_headers)

    body = expect_error(answer, 502, "SMS_ERROR")
    assert body["details"][0]["failureClass"] == "config"
    assert "defaultRecipients" in body["error"]
    assert fakes.smsc.requests == []


async def test_a_test_send_to_the_default_recipients_needs_no_number(
    client: httpx.AsyncClient, admin_headers: dict[str, str], fakes: SmsFakes
) -> None:
    configuration = fakes.settings("GATEWAY", defaultRecipients=["8 925 507 06 02"])
    channel = await sms_channel(client, admin_headers, configuration)

    answer = await client.post(f"{CHANNELS}/{channel}/test", headers=admin_headers)

    assert answer.status_code == 200, answer.text
    assert [message["to"] for message in fakes.gateway.messages] == ["+79255070602"]
