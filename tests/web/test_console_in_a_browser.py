"""The console as a person uses it, in Chromium: logging in, both languages, logging out."""

from __future__ import annotations

import re

import httpx
from fastapi import FastAPI
from playwright.async_api import Page

from tests.conftest import ADMIN_PASSWORD
from tests.fakes.smtp import SMTP_PASSWORD, SMTP_USER, FakeSmtpServer
from tests.support.delivery import deliver
from tests.support.serving import served
from tests.web.browser import chromium

CHANNELS = "/api/v1/notifications/channels"
SEND = "/api/v1/notifications/send"


async def test_logging_in_and_out_in_russian_and_english(app: FastAPI) -> None:
    async with served(app) as base, chromium() as browser:
        for language, heading, logout in (("ru", "Обзор", "Выйти"), ("en", "Dashboard", "Log out")):
            context = await browser.new_context(
                locale=language, viewport={"width": 1280, "height": 900}
            )
            page = await context.new_page()
            await page.goto(f"{base}/channels")
            # Not signed in: the login page, which comes back to where we were going.
            assert "/login" in page.url
            await page.get_by_label(
                "Имя пользователя или e-mail" if language == "ru" else "Username or e-mail"
            ).fill("admin")
            await page.locator("#login-password").fill(ADMIN_PASSWORD)
            await page.locator("form[action='/login'] button[type=submit]").click()
            await page.wait_for_url(f"{base}/channels")
            await page.goto(base + "/")
            assert await page.locator("h1").inner_text() == heading
            assert "⟦" not in await page.content()
            await page.get_by_role("button", name=logout).click()
            await page.wait_for_url(f"{base}/login")
            await context.close()


async def test_a_wrong_password_is_said_on_the_login_page(app: FastAPI) -> None:
    async with served(app) as base, chromium() as browser:
        page = await browser.new_page(locale="en")
        await page.goto(f"{base}/login")
        await page.locator("#login-username").fill("admin")
        await page.locator("#login-password").fill("not the password")
        await page.locator("form[action='/login'] button[type=submit]").click()
        assert "Wrong username or password." in await page.locator("[role=alert]").inner_text()
        # The posted form without its CSRF token is refused, also for the right password.
        async with httpx.AsyncClient(base_url=base) as http:
            answer = await http.post(
                "/login", data={"username": "admin", "password": ADMIN_PASSWORD}
            )
            assert answer.status_code == 403


async def _log_in(page: Page, base: str) -> None:
    await page.goto(f"{base}/login")
    await page.locator("#login-username").fill("admin")
    await page.locator("#login-password").fill(ADMIN_PASSWORD)
    await page.locator("form[action='/login'] button[type=submit]").click()
    await page.wait_for_url(f"{base}/")


async def test_an_operator_sets_up_mail_and_watches_it_work(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    """Seed 001's path in a browser: an EMAIL channel through its generated form, its Test
    window (the authentication failure, then success in both languages), made default;
    a notification appearing live; a type switched off; a template preview; the mail
    settings; an API key."""
    users = {SMTP_USER: SMTP_PASSWORD}
    async with (
        FakeSmtpServer(users=users, auth_over_plain=True) as smtp,
        served(app) as base,
        chromium() as browser,
    ):
        context = await browser.new_context(locale="en", viewport={"width": 1280, "height": 900})
        page = await context.new_page()
        await _log_in(page, base)

        # The generated form of the EMAIL type, with a wrong password first.
        await page.goto(f"{base}/channels/new?type=EMAIL")
        await page.locator("#field-name").fill("Office mail")
        await page.locator("#field-smtpHost").fill(smtp.host)
        await page.locator("#field-smtpPort").fill(str(smtp.port))
        await page.locator("#field-encryption").select_option("none")
        await page.locator("#field-auth").select_option("true")
        await page.locator("#field-username").fill(SMTP_USER)
        await page.locator("#field-password").fill("not-the-password")
        await page.locator("#field-fromEmail").fill("alerts@example.org")
        await page.locator("#field-to").fill("ops@example.org")
        await page.locator("form[action='/channels/new'] button[type=submit]").click()
        await page.wait_for_url(re.compile(r"/channels/\d+"))
        channel_url = page.url.split("?")[0]

        await page.locator("#test button[type=submit]").click()
        failure = await page.locator("#test [role=alert]").inner_text()
        assert failure.startswith("Test e-mail not sent")
        assert "auth" in failure.lower()
        assert smtp.received == []

        # Fix the password in the same form; the other settings stay as stored.
        await page.locator("#field-password").fill(SMTP_PASSWORD)
        await page.locator(
            f"form[action='{channel_url.removeprefix(base)}'] button[type=submit]"
        ).click()
        await page.wait_for_url(re.compile(r"/channels/\d+"))
        await page.locator("#test button[type=submit]").click()
        assert (
            await page.locator("#test [role=status]").inner_text()
            == "Test e-mail sent successfully"
        )
        await page.get_by_role("button", name="Русский").click()
        await page.locator("#test button[type=submit]").click()
        assert (
            await page.locator("#test [role=status]").inner_text()
            == "Тестовое письмо успешно отправлено"
        )
        assert len(smtp.received) == 2
        await page.get_by_role("button", name="English").click()
        await page.locator("form[action$='/default'] button[type=submit]").click()
        channels = (await client.get(CHANNELS, headers=admin_headers)).json()
        assert [c["isDefault"] for c in channels if c["name"] == "Office mail"] == [True]

        # A notification sent through the API appears on the open deliveries page.
        await page.goto(f"{base}/deliveries")
        sent = await client.post(
            SEND,
            json={"status": "DOWN", "severity": "CRITICAL", "message": "billing is down"},
            headers=admin_headers,
        )
        assert sent.status_code == 200, sent.text
        delivery = sent.json()["deliveryId"]
        await page.locator(f"#delivery-{delivery}").wait_for(timeout=10_000)
        await deliver(app)
        await page.locator(f"#delivery-{delivery} .badge.SENT").wait_for(timeout=10_000)
        assert len(smtp.received) == 3

        # service.down switched off: the next such event is held back, and says why.
        await page.goto(f"{base}/notification-types")
        await page.locator("form[action='/notification-types/service.down'] button").click()
        event = await client.post(
            "/api/v1/events",
            json={"type": "service.down", "message": "billing is down again"},
            headers=admin_headers,
        )
        assert event.status_code == 202, event.text
        await page.goto(f"{base}/events/{event.json()['eventId']}")
        assert "Held back" in await page.locator("main").inner_text()
        assert len(smtp.received) == 3

        # A template's preview, the mail settings, an API key.
        await page.goto(f"{base}/templates/new")
        await page.locator("#type").fill("service.down")
        await page.locator("#channel_kind").select_option("chat")
        await page.locator("#text").fill("Down: {{ event.message }}")
        await page.locator("button[formaction='/templates/preview']").click()
        assert "Down: " in await page.locator("#preview").inner_text()

        await page.goto(f"{base}/settings")
        await page.locator("#settings-fromAddress").fill("alerts@example.org")
        await page.locator("#settings-fromName").fill("Ops alerts")
        await page.locator("#settings-replyTo").fill("support@example.org")
        await page.locator("form[action='/settings/mail'] button[type=submit]").click()
        assert await page.locator("#mail [role=status]").inner_text() == "Saved."
        mail = (await client.get("/api/v1/settings/mail", headers=admin_headers)).json()
        assert mail["fromName"] == "Ops alerts"

        await page.goto(f"{base}/api-keys")
        await page.locator("#apikey-name").fill("uptime monitor")
        await page.locator("form[action='/api-keys'] button[type=submit]").click()
        key = await page.locator("#created-key").input_value()
        answer = await client.get(CHANNELS, headers={"Authorization": f"Bearer {key}"})
        assert answer.status_code == 200
        await context.close()


PAGES = ["/", "/deliveries", "/events", "/channels", "/channels/new?type=EMAIL", "/settings"]


async def test_the_main_pages_fit_a_phone_and_a_laptop_screen(app: FastAPI) -> None:
    async with served(app) as base, chromium() as browser:
        for width in (390, 1280):
            context = await browser.new_context(
                locale="ru", viewport={"width": width, "height": 800}
            )
            page = await context.new_page()
            await _log_in(page, base)
            for path in PAGES:
                await page.goto(base + path)
                # Wide tables scroll inside their own box; the page itself never does.
                overflow = await page.evaluate(
                    "document.documentElement.scrollWidth - window.innerWidth"
                )
                assert (path, width, overflow) == (path, width, 0)
            await context.close()
