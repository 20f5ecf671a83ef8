"""``make screenshots``: the console's main pages in Russian and English, as PNG files in
``docs/screenshots/``, made by the browser set-up the tests use (Debian's Chromium through
Playwright) against a fresh Nabat with a little demo data on a temporary SQLite."""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

import httpx
from fastapi import FastAPI

from nabat.app import create_app
from nabat.settings import Settings
from tests.fakes.webhook import Scripted, WebhookReceiver
from tests.support.delivery import deliver, webhook_channel
from tests.support.serving import served
from tests.web.browser import chromium

PASSWORD = "screenshots-admin-password"
PAGES = {
    "dashboard": "/",
    "channels": "/channels",
    "channel-new-email": "/channels/new?type=EMAIL",
    "deliveries": "/deliveries",
    "events": "/events",
    "notification-types": "/notification-types",
    "settings": "/settings",
}
MESSAGES = [
    ("DOWN", "CRITICAL", "billing is down: 502 from the payment gateway"),
    ("UP", "INFO", "billing is up again"),
    ("DOWN", "WARNING", "search answers slowly (p95 2.4 s)"),
    ("DOWN", "ERROR", "nightly backup failed: disk full"),
]


async def _demo_data(app: FastAPI, hook: WebhookReceiver, failing: WebhookReceiver) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        login = await http.post("/api/auth/login", json={"username": "admin", "password": PASSWORD})
        headers = {"Authorization": f"Bearer {login.json()['token']}"}
        await webhook_channel(http, headers, hook.url, isDefault=True)
        broken = {
            "name": "Ops webhook (down)",
            "type": "WEBHOOK",
            "configuration": {"url": failing.url},
        }
        made = await http.post("/api/v1/notifications/channels", json=broken, headers=headers)
        broken_id = made.json()["id"]
        for round_ in range(3):
            for status, severity, message in MESSAGES:
                body = {"status": status, "severity": severity, "message": message}
                await http.post("/api/v1/notifications/send", json=body, headers=headers)
            body = {"status": "DOWN", "message": f"queue backlog {round_}", "channelId": broken_id}
            await http.post("/api/v1/notifications/send", json=body, headers=headers)
        await deliver(app)


async def make(target: Path) -> None:
    """Write ``<language>-<page>.png`` for every page of :data:`PAGES` into ``target``
    (which exists)."""
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        settings = Settings(
            _env_file=None,
            data_dir=folder / "data",
            database_url=f"sqlite+aiosqlite:///{folder / 'nabat.db'}",
            admin_password=PASSWORD,
            run_workers=False,
            outbound_allow=["127.0.0.0/8"],
        )
        app = create_app(settings)
        hook, failing = WebhookReceiver(), WebhookReceiver()
        failing.default = Scripted(503, "upstream unavailable")
        await hook.start()
        await failing.start()
        try:
            async with app.router.lifespan_context(app):
                await _demo_data(app, hook, failing)
                async with served(app) as base, chromium() as browser:
                    for language in ("ru", "en"):
                        context = await browser.new_context(
                            locale=language, viewport={"width": 1280, "height": 860}
                        )
                        page = await context.new_page()
                        await page.goto(f"{base}/login")
                        await page.locator("#login-username").fill("admin")
                        await page.locator("#login-password").fill(PASSWORD)
                        await page.locator("form[action='/login'] button[type=submit]").click()
                        await page.wait_for_url(f"{base}/")
                        for name, path in PAGES.items():
                            await page.goto(base + path)
                            await page.screenshot(
                                path=str(target / f"{language}-{name}.png"), full_page=True
                            )
                        await context.close()
        finally:
            await hook.stop()
            await failing.stop()


if __name__ == "__main__":
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    asyncio.run(make(folder))
