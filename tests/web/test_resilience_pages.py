"""The console's side of fallback chains, circuit breakers and scheduled checks: the check
interval is set in the channel form, a paused channel says so until when, and a delivery
that moved along its chain shows every hop and which channel each attempt used."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI

from nabat.models.delivery import ChannelHealth, CircuitState
from tests.fakes.webhook import Scripted, WebhookReceiver, running_receiver
from tests.support.channels import made_by_people
from tests.web.support import assert_translated, console_login, post_form

CHANNELS = "/api/v1/notifications/channels"


async def _hook(client: httpx.AsyncClient, headers: dict[str, str], name: str, url: str) -> int:
    body = {"name": name, "type": "WEBHOOK", "configuration": {"url": url}}
    response = await client.post(CHANNELS, json=body, headers=headers)
    assert response.status_code == 201, response.text
    channel_id: int = response.json()["id"]
    return channel_id


@pytest.mark.parametrize(("language", "every"), [("en", "every 15 min"), ("ru", "каждые 15 мин")])
async def test_the_check_interval_is_chosen_in_the_channel_form(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    receiver: WebhookReceiver,
    language: str,
    every: str,
) -> None:
    await console_login(client, language=language)
    made = await post_form(
        client,
        "/channels/new?type=WEBHOOK",
        "/channels/new",
        {
            "type": "WEBHOOK",
            "name": "checked",
            "enabled": "on",
            "config.url": receiver.url,
            "config.method": "POST",
            "checkIntervalSeconds": "900",
        },
    )
    assert made.status_code == 303, made.text
    [channel] = made_by_people((await client.get(CHANNELS, headers=admin_headers)).json())
    status = f"{CHANNELS}/{channel['id']}/status"
    assert (await client.get(status, headers=admin_headers)).json()["checkIntervalSeconds"] == 900
    page = (await client.get(f"/channels/{channel['id']}")).text
    assert f'<option value="900" selected>{every}</option>' in page
    assert_translated(page)
    # Saving the form unchanged keeps it; choosing "none" turns it off.
    edited = await post_form(
        client,
        f"/channels/{channel['id']}",
        f"/channels/{channel['id']}",
        {
            "name": "checked",
            "enabled": "on",
            "config.url": receiver.url,
            "config.method": "POST",
            "checkIntervalSeconds": "0",
        },
    )
    assert edited.status_code == 303, edited.text
    read = (await client.get(status, headers=admin_headers)).json()
    assert read["checkIntervalSeconds"] == 0


@pytest.mark.parametrize(("language", "paused"), [("en", "paused"), ("ru", "приостановлен")])
async def test_a_channel_with_an_open_circuit_says_it_is_paused_and_until_when(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    receiver: WebhookReceiver,
    language: str,
    paused: str,
) -> None:
    channel = await _hook(client, admin_headers, "flaky", receiver.url)
    until = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)
    async with app.state.nabat.sessions() as session:
        session.add(
            ChannelHealth(
                channel_id=channel,
                consecutive_failures=5,
                failing=False,
                circuit=CircuitState.OPEN.value,
                circuit_opens=1,
                circuit_retry_at=until,
            )
        )
        await session.commit()
    await console_login(client, language=language)
    for path in ("/channels", f"/channels/{channel}"):
        page = (await client.get(path)).text
        assert f'<span class="badge bad">{paused}</span>' in page, path
        assert "2031-05-06" in page
        assert_translated(page)


async def test_a_delivery_that_moved_along_its_chain_shows_each_hop_and_attempt_channel(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    async for primary in running_receiver():
        async for secondary in running_receiver():
            first = await _hook(client, admin_headers, "first choice", primary.url)
            second = await _hook(client, admin_headers, "second choice", secondary.url)
            rule = {
                "name": "chain",
                "actions": [{"channelId": first, "fallbackChannelIds": [second]}],
            }
            answer = await client.post("/api/v1/rules", json=rule, headers=admin_headers)
            assert answer.status_code == 201, answer.text
            primary.default = Scripted(410, "gone for good")
            event = {"type": "service.down", "severity": "ERROR", "message": "down"}
            sent = await client.post("/api/v1/events", json=event, headers=admin_headers)
            [delivery] = sent.json()["deliveries"]
            await app.state.nabat.new_worker("console-chain").run_until_idle()
            await console_login(client)
            page = (await client.get(f"/deliveries/{delivery['id']}")).text
            assert "Fallback chain" in page
            chain = page.split("Fallback chain")[1].split("</section>")[0]
            assert chain.index("first choice") < chain.index("second choice")
            assert ">left<" in chain
            assert ">now<" in chain
            log = page.split("<h2>Attempts</h2>")[1]
            assert log.index("first choice") < log.index("second choice")
            assert_translated(page)
