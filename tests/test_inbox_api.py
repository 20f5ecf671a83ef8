"""The inbox API: one's own items, paged and filtered; read, unread, archive, delete; the
bell's counts; everything read at once; seen apart from read; another person's item is
missing; API keys have no inbox; each change is recorded and announced after its commit."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from nabat.signals import INBOX
from nabat.signals.inbox import read_inbox_payload
from nabat.state import AppState
from tests.fakes.inbox import changes_of
from tests.support.inbox import INBOX as URL
from tests.support.inbox import events_to_inbox, inbox_rule, member

Headers = dict[str, str]


@pytest.fixture
async def people(client: httpx.AsyncClient, admin_headers: Headers, app: FastAPI) -> dict[str, Any]:
    """Anna gets five items (three service events, a deadline at WARNING, an alarm);
    Boris one."""
    anna, as_anna = await member(client, admin_headers, "anna")
    boris, as_boris = await member(client, admin_headers, "boris")
    await inbox_rule(client, admin_headers, ["anna"], types=["service.*", "deadline.*"])
    await inbox_rule(client, admin_headers, ["anna", "boris"], types=["alarm.*"])
    await events_to_inbox(
        app,
        client,
        admin_headers,
        [
            {"source": {"name": "Billing"}},
            {"source": {"name": "Search"}},
            {"type": "service.up", "severity": "INFO", "source": {"name": "Billing"}},
            {"type": "deadline.approaching", "severity": "WARNING"},
            {"type": "alarm.raised", "severity": "ERROR", "labels": {"alertname": "Disk"}},
        ],
    )
    return {"anna": anna, "as_anna": as_anna, "boris": boris, "as_boris": as_boris}


async def page(client: httpx.AsyncClient, headers: Headers, **query: Any) -> dict[str, Any]:
    answer = await client.get(URL, params=query, headers=headers)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def counts(client: httpx.AsyncClient, headers: Headers) -> tuple[int, int]:
    answer = await client.get(f"{URL}/count", headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()["unread"], answer.json()["unseen"]


def titles(body: dict[str, Any]) -> list[str]:
    return [item["title"] for item in body["items"]]


async def test_the_inbox_pages_newest_first_until_there_is_no_next_page(
    client: httpx.AsyncClient, people: dict[str, Any]
) -> None:
    everything = await page(client, people["as_anna"])
    assert len(everything["items"]) == 5
    assert everything["nextBefore"] is None
    ids = [item["id"] for item in everything["items"]]
    assert ids == sorted(ids, reverse=True)
    first = await page(client, people["as_anna"], limit=2)
    assert [item["id"] for item in first["items"]] == ids[:2]
    assert first["nextBefore"] == ids[1]
    second = await page(client, people["as_anna"], limit=2, before=first["nextBefore"])
    assert [item["id"] for item in second["items"]] == ids[2:4]
    third = await page(client, people["as_anna"], limit=2, before=second["nextBefore"])
    assert [item["id"] for item in third["items"]] == ids[4:]
    assert third["nextBefore"] is None

    # Items come in the order their deliveries were settled, which concurrent sends decide.
    [alarm] = [item for item in everything["items"] if item["type"] == "alarm.raised"]
    assert alarm["severity"] == "ERROR"
    assert alarm["title"] == "Тревога: Disk"
    assert (alarm["read"], alarm["seen"], alarm["archived"]) == (False, False, False)
    assert alarm["projectId"] >= 1
    assert isinstance(alarm["eventId"], int)
    assert isinstance(alarm["deliveryId"], int)


async def test_filters_by_type_severity_and_read_state(
    client: httpx.AsyncClient, people: dict[str, Any]
) -> None:
    as_anna = people["as_anna"]
    down = await page(client, as_anna, type="service.down")
    assert len(down["items"]) == 2
    two = await page(client, as_anna, type=["service.up", "alarm.raised"])
    assert sorted(item["type"] for item in two["items"]) == ["alarm.raised", "service.up"]
    warned = await page(client, as_anna, severity=["warning", "ERROR"])
    assert sorted(item["severity"] for item in warned["items"]) == ["ERROR", "WARNING"]
    bad = await client.get(URL, params={"severity": "LOUD"}, headers=as_anna)
    assert bad.status_code == 422, bad.text
    assert bad.json()["details"][0]["field"] == "severity"

    target = down["items"][0]["id"]
    assert (await client.post(f"{URL}/{target}/read", headers=as_anna)).status_code == 200
    unread = await page(client, as_anna, unread="true")
    assert target not in [item["id"] for item in unread["items"]]
    assert len(unread["items"]) == 4
    read = await page(client, as_anna, unread="false")
    assert [item["id"] for item in read["items"]] == [target]


async def test_read_unread_archive_unarchive_and_delete_one_item(
    client: httpx.AsyncClient, people: dict[str, Any], app: FastAPI
) -> None:
    as_anna = people["as_anna"]
    item = (await page(client, as_anna))["items"][0]
    url = f"{URL}/{item['id']}"
    assert await counts(client, as_anna) == (5, 5)

    read = (await client.post(f"{url}/read", headers=as_anna)).json()
    assert (read["read"], read["seen"]) == (True, True)
    assert await counts(client, as_anna) == (4, 4)
    again = (await client.post(f"{url}/read", headers=as_anna)).json()
    assert again["readAt"] == read["readAt"]
    unread = (await client.post(f"{url}/unread", headers=as_anna)).json()
    assert (unread["read"], unread["seen"]) == (False, True)
    assert await counts(client, as_anna) == (5, 4)

    archived = (await client.post(f"{url}/archive", headers=as_anna)).json()
    assert archived["archived"] is True
    assert item["id"] not in [i["id"] for i in (await page(client, as_anna))["items"]]
    assert [i["id"] for i in (await page(client, as_anna, archived="true"))["items"]] == [
        item["id"]
    ]
    assert await counts(client, as_anna) == (4, 4)
    back = (await client.post(f"{url}/unarchive", headers=as_anna)).json()
    assert back["archived"] is False

    deleted = await client.delete(url, headers=as_anna)
    assert deleted.status_code == 200, deleted.text
    assert (await client.post(f"{url}/read", headers=as_anna)).status_code == 404
    assert len((await page(client, as_anna))["items"]) == 4

    changes = await changes_of(app.state.nabat, people["anna"])
    # Reading what was read changed nothing, so it left no record.
    assert [(kind, of) for _, kind, of in changes if of == item["id"]] == [
        ("new", item["id"]),
        ("read", item["id"]),
        ("unread", item["id"]),
        ("archived", item["id"]),
        ("unarchived", item["id"]),
        ("deleted", item["id"]),
    ]


async def test_another_persons_item_is_missing_and_left_alone(
    client: httpx.AsyncClient, people: dict[str, Any]
) -> None:
    [boris_item] = (await page(client, people["as_boris"]))["items"]
    url = f"{URL}/{boris_item['id']}"
    for action in ("read", "unread", "archive", "unarchive"):
        answer = await client.post(f"{url}/{action}", headers=people["as_anna"])
        assert answer.status_code == 404, answer.text
        assert answer.json()["code"] == "INBOX_ITEM_NOT_FOUND"
    gone = await client.delete(url, headers=people["as_anna"])
    assert gone.status_code == 404
    missing = await client.post(f"{URL}/999999/read", headers=people["as_anna"])
    # Someone else's item answers exactly as one that does not exist.
    for answer, item_id in ((gone, boris_item["id"]), (missing, 999999)):
        assert answer.json()["error"] == (
            f"inbox item {item_id} not found; list your inbox with GET /api/v1/inbox"
        )
    assert (await page(client, people["as_boris"]))["items"] == [boris_item]
    assert await counts(client, people["as_boris"]) == (1, 1)


async def test_read_all_and_seen_up_to_what_the_bell_showed(
    client: httpx.AsyncClient, people: dict[str, Any], app: FastAPI
) -> None:
    as_anna = people["as_anna"]
    ids = [item["id"] for item in (await page(client, as_anna))["items"]]
    seen = await client.post(f"{URL}/seen", json={"upTo": ids[2]}, headers=as_anna)
    assert seen.status_code == 200, seen.text
    assert seen.json() == {"changed": 3, "unread": 5, "unseen": 2}
    unseen = [item["id"] for item in (await page(client, as_anna))["items"] if not item["seen"]]
    assert unseen == ids[:2]
    nothing = await client.post(f"{URL}/seen", json={"upTo": ids[2]}, headers=as_anna)
    assert nothing.json()["changed"] == 0

    everything = await client.post(f"{URL}/read-all", headers=as_anna)
    assert everything.json() == {"changed": 5, "unread": 0, "unseen": 0}
    assert all(item["read"] for item in (await page(client, as_anna))["items"])
    assert await counts(client, people["as_boris"]) == (1, 1)
    kinds = [(kind, of) for _, kind, of in await changes_of(app.state.nabat, people["anna"])]
    assert kinds[-2:] == [("seen", ids[2]), ("read_all", ids[0])]
    bad = await client.post(f"{URL}/seen", json={"upTo": 0}, headers=as_anna)
    assert bad.status_code == 422


async def test_an_api_key_has_no_inbox_and_no_token_is_refused(
    client: httpx.AsyncClient, admin_headers: Headers, people: dict[str, Any]
) -> None:
    made = await client.post("/api/v1/api-keys", json={"name": "producer"}, headers=admin_headers)
    assert made.status_code == 201, made.text
    key = {"Authorization": f"Bearer {made.json()['key']}"}
    refused = await client.get(URL, headers=key)
    assert refused.status_code == 403, refused.text
    assert "has no inbox" in refused.json()["error"]
    assert (await client.get(f"{URL}/count")).status_code == 401


async def test_each_change_is_announced_after_its_commit(
    client: httpx.AsyncClient, people: dict[str, Any], app: FastAPI
) -> None:
    state: AppState = app.state.nabat
    heard: list[dict[int, int]] = []
    subscription = state.signals.subscribe(
        INBOX, lambda payload: heard.append(read_inbox_payload(payload or ""))
    )
    try:
        as_anna = people["as_anna"]
        item = (await page(client, as_anna))["items"][0]
        await client.post(f"{URL}/{item['id']}/read", headers=as_anna)
        await client.post(f"{URL}/{item['id']}/read", headers=as_anna)  # no change: no news
        await client.post(f"{URL}/read-all", headers=as_anna)
        await client.get(f"{URL}/count", headers=as_anna)
        await client.post(f"{URL}/999999/archive", headers=as_anna)  # refused: no news
    finally:
        subscription.close()
    changes = await changes_of(state, people["anna"])
    read_id, all_id = (change_id for change_id, kind, _ in changes if kind in ("read", "read_all"))
    assert heard == [{people["anna"]: read_id}, {people["anna"]: all_id}]
