"""Conditional fields on a real generated form, in Chromium: EWS's OAuth2 switch hides and
disables the login (and shows the app registration's fields) at once; with JavaScript off
every field shows with a hint, and the server ignores what does not apply."""

from __future__ import annotations

import re

import httpx
from fastapi import FastAPI
from playwright.async_api import Page

from tests.conftest import ADMIN_PASSWORD
from tests.support.serving import served
from tests.web.browser import chromium

CHANNELS = "/api/v1/notifications/channels"
LOGIN = ("#field-username", "#field-password", "#field-authType")
OAUTH2 = ("#field-clientId", "#field-tenantId", "#field-clientSecret")


async def _log_in(page: Page, base: str) -> None:
    await page.goto(f"{base}/login")
    await page.locator("#login-username").fill("admin")
    await page.locator("#login-password").fill(ADMIN_PASSWORD)
    await page.locator("form[action='/login'] button[type=submit]").click()
    await page.wait_for_url(f"{base}/")


async def _state(page: Page, selector: str) -> tuple[bool, bool]:
    """Whether the input is visible, and whether it is enabled (would be posted)."""
    field = page.locator(selector)
    return await field.is_visible(), await field.is_enabled()


async def _saved_configuration(
    page: Page, client: httpx.AsyncClient, headers: dict[str, str]
) -> dict[str, object]:
    await page.locator("form[action='/channels/new'] button[type=submit]").click()
    await page.wait_for_url(re.compile(r"/channels/\d+\?saved=1"))
    channel_id = page.url.split("/channels/")[1].split("?")[0]
    answer = await client.get(f"{CHANNELS}/{channel_id}", headers=headers)
    assert answer.status_code == 200, answer.text
    configuration: dict[str, object] = answer.json()["configuration"]
    return configuration


async def test_the_oauth2_switch_shows_and_hides_fields_at_once(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    async with served(app) as base, chromium() as browser:
        context = await browser.new_context(locale="en", viewport={"width": 1280, "height": 900})
        page = await context.new_page()
        await _log_in(page, base)
        await page.goto(f"{base}/channels/new?type=EWS")
        for selector in LOGIN:
            assert await _state(page, selector) == (True, True)
        for selector in OAUTH2:
            assert await _state(page, selector) == (False, False)

        await page.locator("#field-name").fill("Exchange")
        await page.locator("#field-server").fill("mail.example.org")
        # Typed (or autofilled) before switching: hidden with its field, never posted.
        await page.locator("#field-username").fill("svc-nabat")
        await page.locator("#field-password").fill("not-to-be-stored")
        await page.locator("#field-oauth2").check()
        for selector in LOGIN:
            assert await _state(page, selector) == (False, False)
        for selector in OAUTH2:
            assert await _state(page, selector) == (True, True)
        # And back, and on again: each flip takes effect at once.
        await page.locator("#field-oauth2").uncheck()
        assert await _state(page, "#field-password") == (True, True)
        assert await _state(page, "#field-clientSecret") == (False, False)
        await page.locator("#field-oauth2").check()

        await page.locator("#field-clientId").fill("11111111-2222-3333-4444-555555555555")
        await page.locator("#field-tenantId").fill("contoso.onmicrosoft.com")
        await page.locator("#field-clientSecret").fill("app-secret")
        configuration = await _saved_configuration(page, client, admin_headers)
        assert configuration["oauth2"] is True
        assert configuration["clientId"] == "11111111-2222-3333-4444-555555555555"
        assert configuration["clientSecret"] == "********"
        assert configuration.get("username") is None
        assert configuration.get("password") is None

        # The edit page opens in the stored mode: the login is hidden until OAuth2 is off.
        assert await _state(page, "#field-password") == (False, False)
        assert await _state(page, "#field-clientSecret") == (True, True)
        await page.locator("#field-oauth2").uncheck()
        assert await _state(page, "#field-password") == (True, True)
        await context.close()


async def test_without_javascript_every_field_shows_with_when_it_applies(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    async with served(app) as base, chromium() as browser:
        context = await browser.new_context(
            locale="en", viewport={"width": 1280, "height": 900}, java_script_enabled=False
        )
        page = await context.new_page()
        await _log_in(page, base)
        await page.goto(f"{base}/channels/new?type=EWS")
        for selector in LOGIN + OAUTH2:
            assert await _state(page, selector) == (True, True)
        on = await page.locator("#help-clientSecret .shown-when").inner_text()
        off = await page.locator("#help-password .shown-when").inner_text()
        assert re.fullmatch(r"Applies only when «[^»]+» is on\.", on), on
        assert re.fullmatch(r"Applies only when «[^»]+» is off\.", off), off

        await page.locator("#field-name").fill("Exchange")
        await page.locator("#field-server").fill("mail.example.org")
        await page.locator("#field-password").fill("not-to-be-stored")
        await page.locator("#field-oauth2").check()
        await page.locator("#field-clientId").fill("11111111-2222-3333-4444-555555555555")
        await page.locator("#field-tenantId").fill("contoso.onmicrosoft.com")
        await page.locator("#field-clientSecret").fill("app-secret")
        configuration = await _saved_configuration(page, client, admin_headers)
        assert configuration["oauth2"] is True
        assert configuration.get("password") is None
        await context.close()
