"""``/api/v1/integrations/grafana``: Grafana's webhook in (signed or not), deliveries out,
and the signature settings."""

from __future__ import annotations

import time

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from nabat.integrations.signature import sign
from tests.fakes.webhook import WebhookReceiver
from tests.fixtures import raw
from tests.support.alerting import api_key_headers, default_webhook, deliver, received_events
from tests.support.errors import expect_error

URL = "/api/v1/integrations/grafana"
SETTINGS = "/api/v1/integrations/grafana/settings"
GRAFANA = "grafana_webhook.json"
SECRET = "a long shared secret, typed into Grafana too"
HEADER = "X-Grafana-Alerting-Signature"
JSON = {"Content-Type": "application/json"}


async def test_the_documented_payload_is_delivered_as_one_event_per_alert(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    app: FastAPI,
    receiver: WebhookReceiver,
) -> None:
    await default_webhook(client, admin_headers, receiver)
    key = await api_key_headers(client, admin_headers)
    response = await client.post(URL, content=raw(GRAFANA), headers={**key, **JSON})
    assert response.status_code == 202, response.text
    assert [o["status"] for o in response.json()["events"]] == ["ACCEPTED", "ACCEPTED"]
    await deliver(app)
    cpu, memory = received_events(receiver)  # by fingerprint: bc97… before c6ea…
    assert (memory["type"], memory["severity"]) == ("alarm.raised", "WARNING")
    assert memory["labels"] == {"alertname": "High memory usage", "team": "blue", "zone": "us-1"}
    assert memory["subject"]["title"] == "High memory usage"
    assert memory["message"].startswith("This alert was triggered for zone us-1")
    assert memory["data"]["values"] == {"B": 44.23943737541908, "C": 1}
    assert memory["data"]["orgId"] == 1
    assert memory["data"]["dashboardURL"] is None
    assert cpu["data"]["panelURL"] == "https://grafana.example.org/d/cpu-dashboard?viewPanel=2"
    assert cpu["occurredAt"] == "2026-11-30T07:56:03.157076Z"
    event_id = response.json()["events"][0]["eventId"]
    detail = (await client.get(f"/api/v1/events/{event_id}", headers=admin_headers)).json()
    assert detail["origin"] == "grafana"


async def test_grafana_may_put_and_repeats_are_not_sent_again(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    app: FastAPI,
    receiver: WebhookReceiver,
) -> None:
    await default_webhook(client, admin_headers, receiver)
    key = await api_key_headers(client, admin_headers)
    put = await client.put(URL, content=raw(GRAFANA), headers={**key, **JSON})
    assert put.status_code == 202, put.text
    await deliver(app)
    again = await client.post(URL, content=raw(GRAFANA), headers={**key, **JSON})
    assert [o["status"] for o in again.json()["events"]] == ["DUPLICATE", "DUPLICATE"]
    await deliver(app)
    assert len(receiver.received) == 2


async def test_an_idempotency_key_replays_the_first_answer(
    client: httpx.AsyncClient, admin_headers: dict[str, str], receiver: WebhookReceiver
) -> None:
    await default_webhook(client, admin_headers, receiver)
    key = {**await api_key_headers(client, admin_headers), **JSON, "Idempotency-Key": "g-1"}
    first = await client.post(URL, content=raw(GRAFANA), headers=key)
    second = await client.post(URL, content=raw(GRAFANA), headers=key)
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()


async def test_a_payload_of_another_shape_is_refused_naming_the_problem(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    key = await api_key_headers(client, admin_headers)
    legacy = {"ruleName": "CPU", "state": "alerting", "evalMatches": []}
    refused = expect_error(
        await client.post(URL, json=legacy, headers=key), 422, "VALIDATION_ERROR"
    )
    assert refused["error"].startswith("version: Nabat reads Grafana's webhook payload version '1'")
    garbled = await client.post(URL, content=b"{'receiver':", headers={**key, **JSON})
    expect_error(garbled, 400, "MALFORMED_JSON")


async def _set(
    client: httpx.AsyncClient, admin_headers: dict[str, str], body: dict[str, object]
) -> dict[str, object]:
    response = await client.put(SETTINGS, json=body, headers=admin_headers)
    assert response.status_code == 200, response.text
    shown: dict[str, object] = response.json()
    return shown


async def test_with_a_secret_set_only_signed_requests_are_taken(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    app: FastAPI,
    receiver: WebhookReceiver,
) -> None:
    await default_webhook(client, admin_headers, receiver)
    key = {**await api_key_headers(client, admin_headers), **JSON}
    await _set(client, admin_headers, {"secret": SECRET})
    body = raw(GRAFANA)
    unsigned = expect_error(await client.post(URL, content=body, headers=key), 401, "UNAUTHORIZED")
    assert HEADER in unsigned["error"]
    wrong = {**key, HEADER: sign("not the secret", body)}
    refused = expect_error(await client.post(URL, content=body, headers=wrong), 401, "UNAUTHORIZED")
    assert SECRET not in refused["error"]
    signed = await client.post(URL, content=body, headers={**key, HEADER: sign(SECRET, body)})
    assert signed.status_code == 202, signed.text
    await deliver(app)
    assert len(receiver.received) == 2


async def test_a_signed_timestamp_must_be_present_and_fresh(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    key = {**await api_key_headers(client, admin_headers), **JSON}
    await _set(
        client,
        admin_headers,
        {"secret": SECRET, "signatureHeader": "X-Signature", "timestampHeader": "X-Signed-At"},
    )
    body = raw(GRAFANA)
    now = str(int(time.time()))
    stale = str(int(time.time()) - 600)
    fresh = {**key, "X-Signature": sign(SECRET, body, now), "X-Signed-At": now}
    assert (await client.post(URL, content=body, headers=fresh)).status_code == 202
    old = {**key, "X-Signature": sign(SECRET, body, stale), "X-Signed-At": stale}
    replayed = expect_error(await client.post(URL, content=body, headers=old), 401, "UNAUTHORIZED")
    assert "seconds away" in replayed["error"]
    unstamped = {**key, "X-Signature": sign(SECRET, body)}
    missing = expect_error(
        await client.post(URL, content=body, headers=unstamped), 401, "UNAUTHORIZED"
    )
    assert "X-Signed-At" in missing["error"]


async def test_the_settings_never_show_the_secret_and_null_turns_the_check_off(
    client: httpx.AsyncClient, admin_headers: dict[str, str], app: FastAPI
) -> None:
    defaults = (await client.get(SETTINGS, headers=admin_headers)).json()
    assert defaults == {"secret": None, "signatureHeader": HEADER, "timestampHeader": None}
    shown = await _set(client, admin_headers, {"secret": SECRET, "timestampHeader": "X-Ts"})
    assert shown == {"secret": "********", "signatureHeader": HEADER, "timestampHeader": "X-Ts"}
    read = await client.get(SETTINGS, headers=admin_headers)
    assert read.json() == shown
    assert SECRET not in read.text
    async with app.state.nabat.sessions() as session:
        rows = (await session.execute(text("SELECT * FROM integration_settings"))).all()
    assert rows
    assert SECRET not in repr(rows)
    # Sending the mask back (a form saved as shown) keeps the secret.
    kept = await _set(client, admin_headers, {"secret": "********", "signatureHeader": "X-Sig"})
    assert kept["secret"] == "********"
    key = {**await api_key_headers(client, admin_headers), **JSON}
    body = raw(GRAFANA)
    stamp = str(int(time.time()))
    signed = {**key, "X-Sig": sign(SECRET, body, stamp), "X-Ts": stamp}
    assert (await client.post(URL, content=body, headers=signed)).status_code == 202
    off = await _set(client, admin_headers, {"secret": None, "signatureHeader": None})
    assert off == {"secret": None, "signatureHeader": HEADER, "timestampHeader": "X-Ts"}
    assert (await client.post(URL, content=body, headers=key)).status_code == 202


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"secret": ""}, "secret"),
        ({"secret": "********"}, "secret"),
        ({"signatureHeader": "X Signature"}, "signatureHeader"),
        ({"signatureHeader": "Authorization"}, "signatureHeader"),
        ({"timestampHeader": HEADER.lower()}, "timestampHeader"),
        ({"secretKey": "x"}, "secretKey"),
    ],
)
async def test_bad_settings_are_refused_naming_the_field(
    client: httpx.AsyncClient, admin_headers: dict[str, str], body: dict[str, str], field: str
) -> None:
    response = await client.put(SETTINGS, json=body, headers=admin_headers)
    refused = expect_error(response, 422, "VALIDATION_ERROR")
    assert refused["details"][0]["field"] == field
    after = (await client.get(SETTINGS, headers=admin_headers)).json()
    assert after["secret"] is None


async def test_an_api_key_may_post_alerts_but_not_change_the_settings(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    key = await api_key_headers(client, admin_headers)
    denied = expect_error(
        await client.put(SETTINGS, json={"secret": None}, headers=key), 403, "FORBIDDEN"
    )
    assert "routing:write" in denied["error"]
