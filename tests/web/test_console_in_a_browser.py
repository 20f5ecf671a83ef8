"""The console as a person uses it, in Chromium: logging in, both languages, logging out."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import ADMIN_PASSWORD
from tests.web.browser import chromium, served

# The pages' behaviour on both databases is the HTTP tests' job; the browser's is the
# browser's, on one.
pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


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
