"""The dashboard: totals, the hourly chart and the failing channels, from the record."""

from __future__ import annotations

from datetime import timedelta
from html.parser import HTMLParser
from typing import Any

import httpx
from fastapi import FastAPI

from nabat.settings import Settings
from tests.conftest import ADMIN_PASSWORD, login
from tests.fakes.webhook import Scripted, WebhookReceiver
from tests.support.delivery import CHANNELS, deliver, webhook_channel
from tests.support.hours import frozen_app, move_to, send
from tests.support.serving import served
from tests.web.browser import chromium
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


class _Chart(HTMLParser):
    """The by-channel chart of a dashboard: its title and summary, and each row's
    name line, bars (hour → count) and labelled peak."""

    def __init__(self) -> None:
        super().__init__()
        self.svg: dict[str, str | None] = {}
        self.rows: list[dict[str, Any]] = []
        self.texts: dict[str, str] = {}
        self._in_chart = False
        self._capture: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "svg" and found.get("class") == "by-channel":
            self._in_chart = True
            self.svg = found
        elif not self._in_chart:
            return
        elif tag == "g" and found.get("class") == "series":
            self.rows.append(
                {"series": found["data-series"], "total": found["data-total"], "bars": {}}
            )
        elif tag == "rect" and found.get("data-hour") is not None:
            self.rows[-1]["bars"][int(str(found["data-hour"]))] = int(str(found["data-count"]))
        elif tag == "text" and found.get("class") in ("name", "peak"):
            self._capture = str(found["class"])
            self.rows[-1][self._capture] = ""
        elif tag in ("title", "desc") and not self.rows:
            self._capture = tag
            self.texts[tag] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._in_chart = False
        if tag in ("text", "title", "desc"):
            self._capture = None

    def handle_data(self, data: str) -> None:
        if self._capture in ("name", "peak"):
            self.rows[-1][self._capture] += data
        elif self._capture is not None:
            self.texts[self._capture] += data


def _chart(html: str) -> _Chart:
    chart = _Chart()
    chart.feed(html)
    return chart


async def test_the_chart_by_channel_has_a_named_row_per_channel_in_both_languages(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    receiver: WebhookReceiver,
) -> None:
    billing = await webhook_channel(client, admin_headers, receiver.url, name="Billing & co")
    ops = await webhook_channel(client, admin_headers, receiver.url, name="Ops hook")
    retired = await webhook_channel(client, admin_headers, receiver.url, name="Retired")
    for channel in (billing, billing, billing, ops, retired):
        body = {"status": "DOWN", "message": "billing is down", "channelId": channel}
        assert (await client.post(SEND, json=body, headers=admin_headers)).status_code == 200
    await deliver(app)
    gone = await client.delete(f"{CHANNELS}/{retired}", headers=admin_headers)
    assert gone.status_code == 200, gone.text
    wording = {
        "en": ("Deliveries per hour by channel, last 24 hours", "in 24 h", "Deleted channels"),
        "ru": ("Доставки по часам и каналам за 24 часа", "за 24 ч", "Удалённые каналы"),
    }
    for language, (title, window, deleted) in wording.items():
        await console_login(client, language=language)
        shown = await client.get("/")
        assert shown.status_code == 200
        assert_translated(shown.text)
        chart = _chart(shown.text)
        assert chart.svg["role"] == "img"
        assert chart.svg["aria-labelledby"] == "by-channel-title by-channel-desc"
        assert chart.texts["title"] == title
        # All made within the hour: one bar a row (which hour is the service tests' job).
        assert [
            (row["series"], row["total"], list(row["bars"].values())) for row in chart.rows
        ] == [
            (f"channel-{billing}", "3", [3]),
            (f"channel-{ops}", "1", [1]),
            ("deleted", "1", [1]),
        ]
        # The legend is each row's own label: the name and the day's total, and the
        # busiest hour's figure is written over its bar.
        assert [(row["name"], row["peak"]) for row in chart.rows] == [
            (f"Billing & co — 3 {window}", "3"),
            (f"Ops hook — 1 {window}", "1"),
            (f"{deleted} — 1 {window}", "1"),
        ]
        assert chart.texts["desc"].startswith(f"Billing & co (WEBHOOK): 3 {window}")
        # The same figures as a table, for reading aloud or copying.
        table = shown.text.split("by-channel-desc", 1)[1]
        assert f'<a href="/channels/{billing}">Billing &amp; co</a>' in table
        assert "<td>3</td><td>1</td><td>1</td><td>5</td>" in table


# Every text of the chart: its box on the page and its rendered font size.
_TEXT_BOXES = """() => {
  const svg = document.querySelector("svg.by-channel");
  const card = svg.closest("section").getBoundingClientRect();
  const texts = [...svg.querySelectorAll("text")].map((text) => {
    const box = text.getBoundingClientRect();
    return {text: text.textContent, left: box.left, right: box.right, top: box.top,
            bottom: box.bottom, size: parseFloat(getComputedStyle(text).fontSize)};
  });
  return {left: card.left, right: card.right, texts: texts,
          overflow: document.documentElement.scrollWidth - window.innerWidth};
}"""


def _overlapping(texts: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [
        (one["text"], other["text"])
        for position, one in enumerate(texts)
        for other in texts[position + 1 :]
        if one["left"] < other["right"]
        and other["left"] < one["right"]
        and one["top"] < other["bottom"]
        and other["top"] < one["bottom"]
    ]


async def test_the_chart_by_channel_reads_on_a_phone_and_a_laptop(
    settings: Settings, receiver: WebhookReceiver
) -> None:
    names = [
        "Billing notifications for the finance department",
        "Ops",
        "Support desk",
        "Search",
        "Backups",
        "Payroll",
        "Status page",
    ]
    async with frozen_app(settings) as (app, clock):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            headers = await login(client, "admin", ADMIN_PASSWORD)
            ids = [await webhook_channel(client, headers, receiver.url, name=n) for n in names]
            start = clock.now()
            # The window's first and last hours, where labels are likeliest to run out.
            for many, channel in enumerate(reversed(ids), start=1):
                await send(client, headers, channel, many)
            move_to(clock, start + timedelta(hours=23, minutes=30))
            await send(client, headers, ids[0], 12)
            await send(client, headers, ids[1], 9)
        async with served(app) as base, chromium() as browser:
            for width in (390, 1280):
                context = await browser.new_context(
                    locale="ru", viewport={"width": width, "height": 900}
                )
                page = await context.new_page()
                await page.goto(f"{base}/login")
                await page.locator("#login-username").fill("admin")
                await page.locator("#login-password").fill(ADMIN_PASSWORD)
                await page.locator("form[action='/login'] button[type=submit]").click()
                await page.wait_for_url(f"{base}/")
                drawn = await page.evaluate(_TEXT_BOXES)
                texts = drawn["texts"]
                assert drawn["overflow"] == 0, width
                # The five busiest have rows of their own, the other two share one; each
                # row is named, a long name shortened.
                named = [text["text"] for text in texts if " — " in text["text"]]
                assert named == [
                    "Billing notifications for t… — 19 за 24 ч",
                    "Ops — 15 за 24 ч",
                    "Support desk — 5 за 24 ч",
                    "Search — 4 за 24 ч",
                    "Backups — 3 за 24 ч",
                    "Другие каналы (2) — 3 за 24 ч",
                ]
                assert min(text["size"] for text in texts) >= 11, width
                outside = [
                    text["text"]
                    for text in texts
                    if text["left"] < drawn["left"] or text["right"] > drawn["right"]
                ]
                assert (width, outside) == (width, [])
                assert (width, _overlapping(texts)) == (width, [])
                await context.close()
