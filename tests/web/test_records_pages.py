"""The console's records: deliveries (filtered, with attempts, retry, and the live stream),
events (what each became), and the notification-type switches of seed 003."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from nabat.app import create_app
from nabat.settings import Settings
from tests.conftest import ADMIN_PASSWORD, login
from tests.fakes.webhook import Scripted, WebhookReceiver
from tests.support.delivery import deliver, webhook_channel
from tests.support.serving import served
from tests.test_isolation import PASSWORD, add_user
from tests.web.browser import chromium
from tests.web.support import assert_translated, console_login, csrf_of, post_form

SEND = "/api/v1/notifications/send"
EVENTS = "/api/v1/events"
DELIVERIES = "/api/v1/notifications/deliveries"
NOTIFICATION = {"status": "DOWN", "severity": "ERROR", "message": "Billing is down"}
EVENT = {
    "type": "service.up",
    "severity": "INFO",
    "source": {"name": "uptime"},
    "subject": {"title": "Billing API", "status": "UP"},
    "message": "Billing answers again",
}


def ids_on(html: str) -> set[int]:
    """The deliveries listed on a page (the rows' ids)."""
    return {int(found) for found in re.findall(r'<tr id="delivery-(\d+)"', html)}


async def sent_and_dead(
    client: httpx.AsyncClient, headers: dict[str, str], app: FastAPI, receiver: WebhookReceiver
) -> tuple[int, int, int]:
    """A default WEBHOOK channel, one notification sent through it and one event whose
    delivery the receiver refuses for good (410): the channel, the SENT and the DEAD ids."""
    channel = await webhook_channel(client, headers, receiver.url, isDefault=True)
    sent = (await client.post(SEND, json=NOTIFICATION, headers=headers)).json()
    await deliver(app)
    receiver.script.append(Scripted(410, "this hook is gone"))
    posted = (await client.post(EVENTS, json=EVENT, headers=headers)).json()
    await deliver(app)
    return channel, sent["deliveryId"], posted["deliveries"][0]["id"]


async def test_the_list_shows_the_apis_deliveries_and_its_filters_narrow_it(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    app: FastAPI,
    receiver: WebhookReceiver,
) -> None:
    channel, sent, dead = await sent_and_dead(client, admin_headers, app, receiver)
    await console_login(client)
    everything = await client.get("/deliveries")
    assert everything.status_code == 200
    assert ids_on(everything.text) == {sent, dead}
    assert_translated(everything.text)
    assert ids_on((await client.get("/deliveries?status=DEAD")).text) == {dead}
    assert ids_on((await client.get("/deliveries?status=SENT")).text) == {sent}
    assert ids_on((await client.get("/deliveries?type=service.up")).text) == {dead}
    assert ids_on((await client.get(f"/deliveries?channel={channel}")).text) == {sent, dead}
    assert ids_on((await client.get(f"/deliveries?channel={channel + 1}")).text) == set()
    assert ids_on((await client.get("/deliveries?since=2999-01-01T00:00")).text) == set()
    assert ids_on((await client.get("/deliveries?until=2999-01-01T00:00")).text) == {sent, dead}
    # The API takes the same type filter.
    by_type = await client.get(DELIVERIES, params={"type": "service.up"}, headers=admin_headers)
    assert [item["id"] for item in by_type.json()["items"]] == [dead]
    # A value that is not understood is named next to its field and leaves the list whole.
    wrong = await client.get("/deliveries?since=yesterday&status=LOST")
    assert "Not a date and time" in wrong.text
    assert "There is no such delivery status" in wrong.text
    assert ids_on(wrong.text) == {sent, dead}
    client.cookies.set("nabat_lang", "ru")
    russian = await client.get("/deliveries?since=yesterday")
    assert "Доставки" in russian.text
    assert "Это не дата и время" in russian.text
    assert_translated(russian.text)


async def test_a_delivery_shows_its_attempts_and_retry_queues_a_dead_one_again(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    app: FastAPI,
    receiver: WebhookReceiver,
) -> None:
    _, _, dead = await sent_and_dead(client, admin_headers, app, receiver)
    await console_login(client)
    shown = await client.get(f"/deliveries/{dead}")
    assert shown.status_code == 200
    assert_translated(shown.text)
    assert "<td>410</td>" in shown.text
    assert "recipient gone" in shown.text  # the failure class, in words
    assert "this hook is gone" in shown.text  # the provider's reason
    assert f'action="/deliveries/{dead}/retry"' in shown.text
    # Without the form's token the retry is refused.
    refused = await client.post(f"/deliveries/{dead}/retry", data={"csrf": "forged"})
    assert refused.status_code == 403
    retried = await post_form(client, f"/deliveries/{dead}", f"/deliveries/{dead}/retry", {})
    assert retried.status_code == 303
    assert retried.headers["location"] == f"/deliveries/{dead}?notice=retried"
    record = (await client.get(f"{DELIVERIES}/{dead}", headers=admin_headers)).json()
    assert record["status"] == "QUEUED"
    await deliver(app)
    after = await client.get(f"/deliveries/{dead}")
    assert after.text.count("<td>410</td>") == 1
    assert ">sent</span>" in after.text
    assert f'action="/deliveries/{dead}/retry"' not in after.text
    # A second retry of a delivery that went out is a conflict, said on the page.
    again = await client.post(f"/deliveries/{dead}/retry", data={"csrf": csrf_of(after.text)})
    assert again.status_code == 409
    assert "The delivery was not queued again" in again.text
    assert (await client.get("/deliveries/999999")).status_code == 404
    client.cookies.set("nabat_lang", "ru")
    russian = await client.get(f"/deliveries/{dead}")
    assert "Попытки" in russian.text
    assert "получатель недоступен" in russian.text
    assert_translated(russian.text)


async def test_an_event_page_shows_its_deliveries_and_notes_and_the_list_filters(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    app: FastAPI,
    receiver: WebhookReceiver,
) -> None:
    unrouted = (
        await client.post(EVENTS, json={**EVENT, "severity": "CRITICAL"}, headers=admin_headers)
    ).json()
    _, _, dead = await sent_and_dead(client, admin_headers, app, receiver)
    await console_login(client)
    listed = await client.get("/events")
    assert listed.status_code == 200
    assert_translated(listed.text)
    assert f'href="/events/{unrouted["eventId"]}"' in listed.text
    critical = await client.get("/events?severity=CRITICAL")
    assert re.findall(r'href="/events/(\d+)"', critical.text) == [str(unrouted["eventId"])]
    up = await client.get("/events?type=service.up")
    assert len(re.findall(r'href="/events/(\d+)"', up.text)) == 2
    assert "There is no such severity" in (await client.get("/events?severity=LOUD")).text
    note = await client.get(f"/events/{unrouted['eventId']}")
    assert "NO_ROUTE" in note.text
    assert "This event made no delivery" in note.text
    record = (await client.get(f"{EVENTS}?type=service.up", headers=admin_headers)).json()
    routed = next(item["id"] for item in record["items"] if item["id"] != unrouted["eventId"])
    shown = await client.get(f"/events/{routed}")
    assert f'<tr id="delivery-{dead}"' in shown.text
    assert "gave up" in shown.text
    assert (await client.get("/events/999999")).status_code == 404
    client.cookies.set("nabat_lang", "ru")
    for path in ("/events", f"/events/{routed}", f"/events/{unrouted['eventId']}"):
        russian = await client.get(path)
        assert "Событи" in russian.text
        assert_translated(russian.text)


async def test_a_type_switched_off_in_the_console_is_off_in_the_api_and_suppresses_events(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    app: FastAPI,
    receiver: WebhookReceiver,
) -> None:
    await webhook_channel(client, admin_headers, receiver.url, isDefault=True)
    await console_login(client, language="ru")
    shown = await client.get("/notification-types")
    assert shown.status_code == 200
    assert "Сервис восстановлен" in shown.text
    assert shown.text.count('name="enabled" value="off"') == shown.text.count("<tr id=")
    assert_translated(shown.text)
    refused = await client.post("/notification-types/service.up", data={"enabled": "off"})
    assert refused.status_code == 403
    switched = await post_form(
        client, "/notification-types", "/notification-types/service.up", {"enabled": "off"}
    )
    assert switched.status_code == 303
    types = (await client.get("/api/v1/notification-types", headers=admin_headers)).json()
    assert {t["key"]: t["enabled"] for t in types}["service.up"] is False
    after = await client.get(switched.headers["location"])
    assert "«Сервис восстановлен» выключен" in after.text
    assert 'action="/notification-types/service.up"' in after.text
    posted = (await client.post(EVENTS, json=EVENT, headers=admin_headers)).json()
    await deliver(app)
    assert receiver.received == []
    event_page = await client.get(f"/events/{posted['eventId']}")
    assert "тип уведомления выключен" in event_page.text
    assert "switched off in this project" in event_page.text  # the service's reason
    assert_translated(event_page.text)
    unknown = await post_form(
        client, "/notification-types", "/notification-types/no.such", {"enabled": "off"}
    )
    assert unknown.status_code == 404
    back_on = await post_form(
        client, "/notification-types", "/notification-types/service.up", {"enabled": "on"}
    )
    assert back_on.status_code == 303
    types = (await client.get("/api/v1/notification-types", headers=admin_headers)).json()
    assert {t["key"]: t["enabled"] for t in types}["service.up"] is True


async def test_a_viewer_sees_the_records_and_switches_but_cannot_change_them(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    app: FastAPI,
    receiver: WebhookReceiver,
) -> None:
    _, _, dead = await sent_and_dead(client, admin_headers, app, receiver)
    await add_user(client, admin_headers, "vera", "viewer")
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as viewer:
        await console_login(viewer, "vera", PASSWORD)
        for path in ("/deliveries", f"/deliveries/{dead}", "/events", "/notification-types"):
            seen = await viewer.get(path)
            assert seen.status_code == 200, path
            assert_translated(seen.text)
        types = await viewer.get("/notification-types")
        assert 'name="enabled"' not in types.text
        assert "Your role lets you see the switches" in types.text
        delivery = await viewer.get(f"/deliveries/{dead}")
        assert "/retry" not in delivery.text
        token = csrf_of(delivery.text)
        retry = await viewer.post(f"/deliveries/{dead}/retry", data={"csrf": token})
        assert retry.status_code == 403
        switch = await viewer.post(
            "/notification-types/service.up", data={"csrf": token, "enabled": "off"}
        )
        assert switch.status_code == 403
    record = (await client.get(f"{DELIVERIES}/{dead}", headers=admin_headers)).json()
    assert record["status"] == "DEAD"
    types_now = (await client.get("/api/v1/notification-types", headers=admin_headers)).json()
    assert all(t["enabled"] for t in types_now)


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[str]:
    """Nabat on a real port with its in-process worker (a stream needs a real server:
    the in-process transport hands a response over only once it is complete)."""
    served = settings.model_copy(update={"run_workers": True, "poll_seconds": 0.1})
    instance = uvicorn.Server(
        uvicorn.Config(create_app(served), host="127.0.0.1", port=0, log_level="warning")
    )
    task = asyncio.create_task(instance.serve())
    while not instance.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    port = instance.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        instance.should_exit = True
        # The stream ended when its client left: the server stops without waiting for it.
        await asyncio.wait_for(task, 10)


async def _events(lines: AsyncIterator[str]) -> AsyncIterator[dict[str, Any]]:
    """Server-sent events as ``{"id", "event", "data"}``, comments and ``retry:`` skipped."""
    fields: dict[str, Any] = {}
    async for line in lines:
        if line == "":
            if "data" in fields:
                yield fields
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(": ")
            fields[name] = value


async def test_the_stream_pushes_a_delivery_when_it_is_made_and_when_it_is_settled(
    server: str, receiver: WebhookReceiver
) -> None:
    async with httpx.AsyncClient(base_url=server, timeout=10) as http:
        headers = await login(http, "admin", ADMIN_PASSWORD)
        await webhook_channel(http, headers, receiver.url, isDefault=True)
        await console_login(http)
        page = await http.get("/deliveries")
        stream_url = re.search(r'data-stream="([^"]+)"', page.text)
        assert stream_url is not None
        async with http.stream("GET", stream_url.group(1).replace("&amp;", "&")) as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            assert stream.headers["x-accel-buffering"] == "no"
            sent = (await http.post(SEND, json=NOTIFICATION, headers=headers)).json()
            statuses: list[str] = []
            async with asyncio.timeout(8):
                async for event in _events(stream.aiter_lines()):
                    assert event["id"]
                    change = json.loads(event["data"])
                    assert change["id"] == sent["deliveryId"]
                    assert f'<tr id="delivery-{sent["deliveryId"]}"' in change["html"]
                    statuses.append(change["status"])
                    if change["status"] == "SENT":
                        break
            assert statuses[-1] == "SENT"
    # Refused without a session: the stream is the console's, not a public feed.
    async with httpx.AsyncClient(base_url=server) as stranger:
        answer = await stranger.get("/deliveries/stream")
        assert answer.status_code == 303


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_in_a_browser_a_sent_notification_appears_on_the_list_and_turns_sent(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    receiver: WebhookReceiver,
) -> None:
    await webhook_channel(client, admin_headers, receiver.url, isDefault=True)
    async with served(app) as base, chromium() as browser:
        context = await browser.new_context(locale="en")
        page = await context.new_page()
        await page.goto(f"{base}/deliveries")
        await page.get_by_label("Username or e-mail").fill("admin")
        await page.locator("#login-password").fill(ADMIN_PASSWORD)
        await page.locator("form[action='/login'] button[type=submit]").click()
        await page.wait_for_url(f"{base}/deliveries")
        live = page.locator("#live-state")
        await live.filter(has_text="new deliveries appear here").wait_for(timeout=5000)
        sent = (await client.post(SEND, json=NOTIFICATION, headers=admin_headers)).json()
        row = page.locator(f"#delivery-{sent['deliveryId']}")
        await row.locator(".badge.QUEUED").wait_for(timeout=5000)
        await deliver(app)
        await row.locator(".badge.SENT").wait_for(timeout=5000)
        assert await page.locator("#deliveries-empty").count() == 0
        await context.close()
