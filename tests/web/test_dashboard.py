"""The dashboard: totals, the hourly chart and the failing channels, from the record."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from tests.fakes.webhook import Scripted, WebhookReceiver
from tests.support.delivery import deliver, webhook_channel
from tests.web.support import assert_translated, console_login

SEND = "/api/v1/notifications/send"


async def test_the_dashboard_counts_deliveries_and_names_a_failing_channel(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    receiver: WebhookReceiver,
) -> None:
    failing_receiver = WebhookReceiver()
    failing_receiver.default = Scripted(503, "upstream unavailable")
    await failing_receiver.start()
    try:
        good = await webhook_channel(client, admin_headers, receiver.url, isDefault=True)
        broken = await webhook_channel(client, admin_headers, failing_receiver.url, name="Ops hook")
        for channel in (good, good, broken):
            body = {"status": "DOWN", "message": "billing is down", "channelId": channel}
            assert (await client.post(SEND, json=body, headers=admin_headers)).status_code == 200
        await deliver(app)
    finally:
        await failing_receiver.stop()
    for language, failing in (("en", "Failing channels"), ("ru", "Каналы с ошибками")):
        await console_login(client, language=language)
        shown = await client.get("/")
        assert shown.status_code == 200
        assert_translated(shown.text)
        assert failing in shown.text
        board = shown.text.split(failing, 1)[1]
        assert "Ops hook" in board
        assert "HTTP 503" in board
        # Two sent and one failing, as bars of this hour and in the legend.
        assert "<rect" in shown.text
        assert ": 2</span>" in shown.text
